//! Radiomics feature extraction with PyRadiomics' settings, names and
//! numbers (first order, 3D shape, GLCM, GLRLM, GLSZM, GLDM, NGTDM on the
//! original image), and an IBSI mode where PyRadiomics departs from the IBSI
//! definitions (see docs/radiomics.md).
//!
//! The pipeline follows PyRadiomics' extractor: normalise the whole image →
//! resample image and mask around the ROI → check the mask → shape on that
//! mask → resegment → crop to the ROI → discretise → features.

pub mod firstorder;
pub mod settings;
pub mod shape;
pub mod texture;

use crate::core::resample::{Cast, Grid, Interpolator, pyradiomics_grid, resample_cast};
use crate::core::volume::Volume;
use crate::error::{Error, Result};
pub use settings::{CLASSES, ParamFile, Settings};
use texture::{Levels, Weighting};

/// Features PyRadiomics marks deprecated: computed only when named.
const DEPRECATED: &[(&str, &str)] = &[
    ("firstorder", "StandardDeviation"),
    ("shape", "Compactness1"),
    ("shape", "Compactness2"),
    ("shape", "SphericalDisproportion"),
    ("gldm", "GrayLevelNonUniformityNormalized"),
    ("gldm", "DependencePercentage"),
];

/// An extraction's result: features in order, and diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// `original_<class>_<Feature>` → value.
    pub features: Vec<(String, f64)>,
    /// `diagnostics_*` → text.
    pub diagnostics: Vec<(String, String)>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid { message: message.into(), hint: None }
}

/// Extracts the enabled features of `image` inside `mask == label`.
/// `int16` tells resampling to store values as ITK does for an int16 image.
pub fn extract(image: &Volume, int16: bool, mask: &Volume, params: &ParamFile, ibsi: bool) -> Result<Extraction> {
    let s = &params.settings;
    check_geometry(image, mask)?;
    let mut diagnostics = vec![
        ("diagnostics_Versions_radose".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("diagnostics_Configuration_Settings".to_string(), s.to_json()),
        ("diagnostics_Configuration_EnabledImageTypes".to_string(), "{\"Original\": {}}".to_string()),
        ("diagnostics_Configuration_Mode".to_string(), if ibsi { "IBSI" } else { "PyRadiomics" }.to_string()),
    ];
    // 1. Normalisation: z-score over the whole image.
    let norm: Box<dyn Fn(f64) -> f64> = if s.normalize {
        let n = image.data.len() as f64;
        let mean = image.data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sd = (image.data.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        if sd == 0.0 {
            return Err(invalid("normalize: the image is constant (standard deviation 0)"));
        }
        let (outliers, scale) = (s.remove_outliers, s.normalize_scale);
        Box::new(move |v| {
            let z = (v - mean) / sd;
            outliers.map_or(z, |o| z.clamp(-o, o)) * scale
        })
    } else {
        Box::new(|v| v)
    };
    let label = s.label as f64;
    let label_error = || {
        let mut labels: Vec<i64> = mask.data.iter().map(|&v| v as i64).filter(|&v| v != 0).collect();
        labels.sort_unstable();
        labels.dedup();
        Error::Invalid {
            message: format!("label {} is not in the mask (labels present: {labels:?})", s.label),
            hint: Some("set --label (or `label:` in the parameter file) to one of them".into()),
        }
    };
    // 2. Resample around the ROI, or crop to it (nothing outside it matters).
    let (img, mask_vals, size, spacing): (Vec<f64>, Vec<f32>, [usize; 3], [f64; 3]) =
        if let Some(spacing) = s.resampled_pixel_spacing {
            let target = [0, 1, 2].map(|a| if spacing[a] == 0.0 { image.spacing[a] } else { spacing[a] });
            let roi_mask = Volume {
                data: mask.data.iter().map(|&v| if f64::from(v) == label { 1.0 } else { 0.0 }).collect(),
                ..mask.clone()
            };
            if !roi_mask.data.iter().any(|&v| v > 0.5) {
                return Err(label_error());
            }
            let grid: Grid = pyradiomics_grid(&roi_mask, target, s.pad_distance)?;
            let interp = match s.interpolator.as_str() {
                "sitkBSpline" => Interpolator::BSpline,
                "sitkLinear" => Interpolator::Linear,
                "sitkNearestNeighbor" => Interpolator::Nearest,
                other => {
                    return Err(invalid(format!(
                        "interpolator `{other}` is not supported (sitkBSpline, sitkLinear, sitkNearestNeighbor)"
                    )));
                }
            };
            let img = if s.normalize {
                // Keep double precision: resample the normalised values directly.
                let full: Vec<f64> = image.data.iter().map(|&v| norm(f64::from(v))).collect();
                resample_f64(&full, image, &grid, interp)
            } else {
                let cast = if int16 { Cast::TruncateInt16 } else { Cast::Float };
                resample_cast(image, &grid, interp, 0.0, cast).data.iter().map(|&v| f64::from(v)).collect()
            };
            let m = resample_cast(mask, &grid, Interpolator::Nearest, 0.0, Cast::Float);
            diagnostics.push(("diagnostics_Image-interpolated_Spacing".into(), format!("{:?}", grid.spacing)));
            diagnostics.push(("diagnostics_Image-interpolated_Size".into(), format!("{:?}", grid.size)));
            (img, m.data, grid.size, grid.spacing)
        } else {
            let in_roi: Vec<bool> = mask.data.iter().map(|&v| f64::from(v) == label).collect();
            let (lo, hi) = bbox(&in_roi, mask.size).ok_or_else(label_error)?;
            let (m, csize) = crop(&mask.data, mask.size, lo, hi);
            let (v, _) = crop(&image.data, image.size, lo, hi);
            (v.iter().map(|&x| norm(f64::from(x))).collect(), m, csize, image.spacing)
        };
    // 3. Check the mask.
    let roi: Vec<bool> = mask_vals.iter().map(|&v| f64::from(v) == label).collect();
    let (lo, hi) = bbox(&roi, size).ok_or_else(label_error)?;
    let dims = (0..3).filter(|&a| hi[a] > lo[a]).count();
    if dims < s.minimum_roi_dimensions {
        return Err(invalid(format!(
            "the ROI spans {dims} dimension(s); minimumROIDimensions is {}",
            s.minimum_roi_dimensions
        )));
    }
    let n_roi = roi.iter().filter(|&&b| b).count();
    if let Some(min) = s.minimum_roi_size
        && n_roi < min
    {
        return Err(invalid(format!("the ROI has {n_roi} voxels; minimumROISize is {min}")));
    }
    diagnostics.push(("diagnostics_Mask-original_VoxelNum".into(), n_roi.to_string()));
    diagnostics.push((
        "diagnostics_Mask-original_BoundingBox".into(),
        format!("{:?}", [lo[0], lo[1], lo[2], hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1]),
    ));

    let enabled = |class: &str, feature: &str| params.enabled(class, feature, DEPRECATED.contains(&(class, feature)));
    let mut features = Vec::new();
    let mut push = |class: &str, values: Vec<(&'static str, f64)>| {
        for (name, v) in values {
            if enabled(class, name) {
                features.push((format!("original_{class}_{name}"), v));
            }
        }
    };
    // 4. Shape on the (non-resegmented) mask, cropped.
    if params.class_enabled("shape") {
        let (cropped, csize) = crop(&roi, size, lo, hi);
        push("shape", shape::features(&cropped, csize, spacing, ibsi));
    }
    // 5. Resegment.
    let mut roi = roi;
    if let Some(range) = &s.resegment_range {
        let values: Vec<f64> = roi.iter().zip(&img).filter(|(m, _)| **m).map(|(_, v)| *v).collect();
        let (lo_t, hi_t) = s.resegment_thresholds(range, &values)?;
        for (m, v) in roi.iter_mut().zip(&img) {
            if *m && (*v < lo_t || hi_t.is_some_and(|h| *v > h)) {
                *m = false;
            }
        }
        if !roi.iter().any(|&b| b) {
            return Err(invalid(format!("resegmentation to [{lo_t}, {hi_t:?}] left no voxel in the ROI")));
        }
    }
    let Some((lo, hi)) = bbox(&roi, size) else { return Err(invalid("the ROI is empty")) };
    let (roi_c, csize) = crop(&roi, size, lo, hi);
    let (img_c, _) = crop(&img, size, lo, hi);
    let values: Vec<f64> = roi_c.iter().zip(&img_c).filter(|(m, _)| **m).map(|(_, v)| *v).collect();
    // 6. Discretise.
    let levels_roi = s.discretise(&values, ibsi)?;
    let mut levels = vec![0u32; roi_c.len()];
    let mut it = levels_roi.iter();
    for (l, m) in levels.iter_mut().zip(&roi_c) {
        if *m {
            *l = *it.next().unwrap_or(&0);
        }
    }
    let lv = Levels { size: csize, spacing, data: levels };
    // 7. Features.
    if params.class_enabled("firstorder") {
        push(
            "firstorder",
            firstorder::features(&values, &levels_roi, s.voxel_array_shift, spacing.iter().product(), ibsi),
        );
    }
    let axis2d = if s.force_2d { Some(2usize.saturating_sub(s.force_2d_dimension)) } else { None };
    let angles = texture::angles(csize, &s.distances, axis2d);
    let weighting = match s.weighting_norm.as_deref() {
        None => Weighting::None,
        Some("manhattan") => Weighting::Manhattan,
        Some("euclidean") => Weighting::Euclidean,
        Some("infinity") => Weighting::Infinity,
        Some("no_weighting") => Weighting::NoWeighting,
        Some(other) => {
            return Err(invalid(format!(
                "weightingNorm `{other}` is not one of manhattan, euclidean, infinity, no_weighting"
            )));
        }
    };
    if angles.is_empty() && ["glcm", "glrlm", "glszm", "gldm", "ngtdm"].iter().any(|c| params.class_enabled(c)) {
        return Err(invalid("the ROI is too small for any texture direction"));
    }
    if params.class_enabled("glcm") {
        push("glcm", texture::glcm(&lv, &angles, s.symmetrical_glcm, weighting));
    }
    if params.class_enabled("gldm") {
        push("gldm", texture::gldm(&lv, &angles, s.gldm_a));
    }
    if params.class_enabled("glrlm") {
        push("glrlm", texture::glrlm(&lv, &angles, weighting));
    }
    if params.class_enabled("glszm") {
        push("glszm", texture::glszm(&lv, &angles));
    }
    if params.class_enabled("ngtdm") {
        push("ngtdm", texture::ngtdm(&lv, &angles));
    }
    Ok(Extraction { features, diagnostics })
}

/// Resamples f64 values on `like`'s grid onto `grid` (keeps double precision).
fn resample_f64(values: &[f64], like: &Volume, grid: &Grid, interp: Interpolator) -> Vec<f64> {
    // Split into a coarse f32 part and the f32 residual: two f32 resamplings
    // whose sum carries about 48 bits, enough for normalised intensities.
    let hi: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let lo: Vec<f32> = values.iter().zip(&hi).map(|(&v, &h)| (v - f64::from(h)) as f32).collect();
    let a = resample_cast(&Volume { data: hi, ..like.clone() }, grid, interp, 0.0, Cast::Float);
    let b = resample_cast(&Volume { data: lo, ..like.clone() }, grid, interp, 0.0, Cast::Float);
    a.data.iter().zip(&b.data).map(|(&x, &y)| f64::from(x) + f64::from(y)).collect()
}

/// Image and mask must share a grid (to 1e-4 mm).
pub fn check_geometry(image: &Volume, mask: &Volume) -> Result<()> {
    if !Grid::of(image).same_as(&Grid::of(mask)) {
        return Err(Error::Invalid {
            message: format!(
                "the mask's grid differs from the image's (size {:?} vs {:?}, spacing {:?} vs {:?}, origin {:?} vs {:?})",
                mask.size, image.size, mask.spacing, image.spacing, mask.origin, image.origin
            ),
            hint: Some("resample the mask onto the image first (e.g. with `preprocess`)".into()),
        });
    }
    Ok(())
}

/// Inclusive bounding box of the true voxels.
fn bbox(m: &[bool], size: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
    let (mut lo, mut hi, mut any) = ([usize::MAX; 3], [0; 3], false);
    for (i, _) in m.iter().enumerate().filter(|(_, b)| **b) {
        let c = [i % size[0], (i / size[0]) % size[1], i / (size[0] * size[1])];
        any = true;
        for a in 0..3 {
            lo[a] = lo[a].min(c[a]);
            hi[a] = hi[a].max(c[a]);
        }
    }
    any.then_some((lo, hi))
}

fn crop<T: Copy>(m: &[T], size: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> (Vec<T>, [usize; 3]) {
    let cs = [0, 1, 2].map(|a| hi[a] - lo[a] + 1);
    let mut out = Vec::with_capacity(cs[0] * cs[1] * cs[2]);
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            let row = size[0] * (j + size[1] * k);
            out.extend_from_slice(&m[row + lo[0]..=row + hi[0]]);
        }
    }
    (out, cs)
}
