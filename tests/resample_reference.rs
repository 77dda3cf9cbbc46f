//! Resampling against SimpleITK/PyRadiomics outputs in
//! tests/fixtures/pyradiomics/preprocessing (PyRadiomics 3.1.0,
//! SimpleITK 2.5.7; parameters in preprocessing_reference_params.json).

mod common;

use radose::core::resample::{Cast, Grid, Interpolator, pyradiomics_grid, resample, resample_cast};
use radose::imaging::nrrd;

fn reference(rel: &str) -> std::path::PathBuf {
    common::fixture(&format!("pyradiomics/{rel}"))
}

#[test]
fn pyradiomics_grid_matches() {
    let mask = nrrd::read(&reference("data/brain1_label.nrrd")).unwrap();
    for (spacing, size, origin) in [
        ([1.0, 1.0, 1.0], [48, 66, 57], [21.5, 39.499999999999986, -17.749999999999957]),
        ([2.0, 2.0, 2.0], [30, 39, 34], [17.000000000000014, 44.999999999999986, -22.249999999999964]),
    ] {
        let g = pyradiomics_grid(&mask, spacing, 5.0).unwrap();
        assert_eq!(g.size, size, "{spacing:?}");
        for a in 0..3 {
            assert!((g.origin[a] - origin[a]).abs() < 1e-9, "{spacing:?}: origin {:?}", g.origin);
        }
    }
}

#[test]
fn linear_and_nearest_match_simpleitk() {
    let image = nrrd::read(&reference("data/brain1_image.nrrd")).unwrap();
    let mask = nrrd::read(&reference("data/brain1_label.nrrd")).unwrap();
    let want_image = nrrd::read(&reference("preprocessing/brain1_resampled_1mm_linear_image.nrrd")).unwrap();
    let want_mask = nrrd::read(&reference("preprocessing/brain1_resampled_1mm_linear_label.nrrd")).unwrap();
    let grid = Grid::of(&want_image);
    // The reference keeps int16: ITK clamps, then truncates toward zero.
    let got = resample_cast(&image, &grid, Interpolator::Linear, 0.0, Cast::TruncateInt16);
    let max_err = got.data.iter().zip(&want_image.data).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    let differ = got.data.iter().zip(&want_image.data).filter(|(g, w)| g != w).count();
    // ITK maps points to indices with its own rounding; a value within
    // ~1e-12 of an integer can truncate the other way. Allow exactly that.
    assert!(
        max_err <= 1.0 && differ * 1000 < got.len(),
        "linear: max |error| {max_err}, {differ} of {} voxels differ",
        got.len()
    );
    let got_mask = resample(&mask, &grid, Interpolator::Nearest, 0.0);
    assert_eq!(got_mask.data, want_mask.data, "nearest neighbour must be exact");
    assert_eq!(got_mask.data.iter().filter(|&&x| x == 1.0).count(), 16529);
}

#[test]
fn bspline_matches_simpleitk() {
    let image = nrrd::read(&reference("data/brain1_image.nrrd")).unwrap();
    let want = nrrd::read(&reference("preprocessing/brain1_resampled_2mm_bspline_image.nrrd")).unwrap();
    let got = resample_cast(&image, &Grid::of(&want), Interpolator::BSpline, 0.0, Cast::TruncateInt16);
    let max_err = got.data.iter().zip(&want.data).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    let differ = got.data.iter().zip(&want.data).filter(|(g, w)| g != w).count();
    assert!(max_err == 0.0 && differ == 0, "B-spline: max |error| {max_err}, {differ} of {} voxels differ", got.len());
}
