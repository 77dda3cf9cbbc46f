//! Radiomics from files: read an image and its mask (optionally perturbed
//! before extraction), extract, and record the inputs' hashes in the
//! diagnostics; errors name the files.

use std::path::Path;

use crate::core::radiomics::{Extraction, ParamFile, extract};
use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::imaging::{LoadedImage, nrrd, read_image};
use crate::provenance::sha256_file;

/// Reads a PyRadiomics parameter file (YAML or JSON).
pub fn read_params(path: &Path) -> Result<ParamFile> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::provenance::io_error(path, e))?;
    ParamFile::parse(&text, &path.display().to_string())
}

/// The image, read only over the slices that hold the ROI when nothing
/// outside its bounding box is used (no resampling, no normalisation over
/// the whole image) and the file is NRRD; otherwise whole. The features are
/// the same either way; reading brain1 this way skips its slices outside
/// the ROI (docs/performance.md).
fn read_image_for_roi(image: &Path, mask: &Volume, params: &ParamFile) -> Result<LoadedImage> {
    let s = &params.settings;
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    if !(name.ends_with(".nrrd") || name.ends_with(".nhdr")) || s.resampled_pixel_spacing.is_some() || s.normalize {
        return read_image(image);
    }
    let plane = (mask.size[0] * mask.size[1]).max(1);
    let label = s.label as f64;
    let has = |z: &usize| mask.data[z * plane..(z + 1) * plane].iter().any(|&v| f64::from(v) == label);
    let slices = mask.data.len() / plane;
    let (Some(z0), Some(z1)) = ((0..slices).find(has), (0..slices).rev().find(has)) else {
        // No ROI: the whole read, and the extraction says what is wrong.
        return read_image(image);
    };
    let (volume, dtype) = nrrd::read_typed_slices(image, (z0, z1 + 1))?;
    if volume.size != mask.size {
        return read_image(image);
    }
    Ok(LoadedImage { volume, dtype, units: None, frame_of_reference: None })
}

/// Extracts the features of `image` inside `mask`.
pub fn extract_files(image: &Path, mask: &Path, params: &ParamFile, ibsi: bool) -> Result<Extraction> {
    extract_files_with(image, mask, params, ibsi, Ok)
}

/// [`extract_files`] with the mask passed through `prepare_mask` once read:
/// on the mask's own grid, before any resampling, as a robustness study
/// perturbs a contour. Its errors are prefixed with the mask file.
pub fn extract_files_with(
    image: &Path,
    mask: &Path,
    params: &ParamFile,
    ibsi: bool,
    prepare_mask: impl FnOnce(Volume) -> Result<Volume>,
) -> Result<Extraction> {
    let msk = prepare_mask(read_image(mask)?.volume).map_err(|e| match e {
        Error::Invalid { message, hint } => Error::Invalid { message: format!("{}: {message}", mask.display()), hint },
        other => other,
    })?;
    let img = read_image_for_roi(image, &msk, params)?;
    let mut x = extract(&img.volume, img.dtype == "int16", &msk, params, ibsi).map_err(|e| match e {
        Error::Invalid { message, hint } => {
            Error::Invalid { message: format!("{} with mask {}: {message}", image.display(), mask.display()), hint }
        }
        other => other,
    })?;
    let v = &img.volume;
    let mut d = vec![
        ("diagnostics_Image-original_Hash".to_string(), sha256_file(image)?),
        ("diagnostics_Image-original_Spacing".to_string(), format!("{:?}", v.spacing)),
        ("diagnostics_Image-original_Size".to_string(), format!("{:?}", v.size)),
        ("diagnostics_Mask-original_Hash".to_string(), sha256_file(mask)?),
    ];
    d.append(&mut x.diagnostics);
    x.diagnostics = d;
    Ok(x)
}
