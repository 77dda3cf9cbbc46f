//! Medical image I/O and processing. Readers and writers turn files into
//! [`crate::core::volume::Volume`]s and back; the format comes from the file
//! name.

pub mod nifti;
pub mod nrrd;

use std::path::Path;

use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// An image as read: its voxels and geometry, and what the file stored.
pub struct LoadedImage {
    pub volume: Volume,
    /// The stored voxel type (`int16`, `float32`, …).
    pub dtype: &'static str,
    /// Physical units of the values, when the format says (RT Dose: `GY`).
    pub units: Option<String>,
}

/// Reads `.nii`, `.nii.gz`, `.nrrd` or `.nhdr`.
pub fn read_image(path: &Path) -> Result<LoadedImage> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let (volume, dtype) = if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        nifti::read_typed(path)?
    } else if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        nrrd::read_typed(path)?
    } else {
        return Err(Error::invalid(
            format!("{}: unknown image format", path.display()),
            Some("radose reads .nii, .nii.gz, .nrrd and .nhdr"),
        ));
    };
    Ok(LoadedImage { volume, dtype, units: None })
}
