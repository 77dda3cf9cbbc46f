//! Medical image I/O and processing. Readers and writers turn files into
//! [`crate::core::volume::Volume`]s and back; the format comes from the file
//! name.

pub mod dicom;
pub mod dose_input;
pub mod nifti;
pub mod nrrd;
pub mod preprocess;
pub mod radiomics;

use std::path::Path;

use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// An image as read: its voxels and geometry, and what the file stored.
#[derive(Debug)]
pub struct LoadedImage {
    pub volume: Volume,
    /// The stored voxel type (`int16`, `float32`, …).
    pub dtype: &'static str,
    /// Physical units of the values, when the format says (RT Dose: `GY`).
    pub units: Option<String>,
    /// The DICOM Frame of Reference UID, when the format carries one.
    pub frame_of_reference: Option<String>,
}

/// Reads `.nii`, `.nii.gz`, `.nrrd`, `.nhdr` or a DICOM RT Dose `.dcm`.
pub fn read_image(path: &Path) -> Result<LoadedImage> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let (volume, dtype) = if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        nifti::read_typed(path)?
    } else if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        nrrd::read_typed(path)?
    } else if name.ends_with(".dcm") {
        let d = dicom::read_rtdose(path)?;
        return Ok(LoadedImage {
            volume: d.volume,
            dtype: d.dtype,
            units: d.units,
            frame_of_reference: d.frame_of_reference,
        });
    } else {
        return Err(Error::invalid(
            format!("{}: unknown image format", path.display()),
            Some("radose reads .nii, .nii.gz, .nrrd, .nhdr and DICOM RT Dose (.dcm)"),
        ));
    };
    Ok(LoadedImage { volume, dtype, units: None, frame_of_reference: None })
}
