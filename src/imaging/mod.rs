//! Medical image I/O and processing. Readers and writers turn files into
//! [`crate::core::volume::Volume`]s and back; the format comes from the file
//! name.

pub mod dicom;
pub mod dose_input;
pub mod nifti;
pub mod nrrd;
pub mod preprocess;
pub mod radiomics;
pub mod registration;

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

/// Reads `.nii`, `.nii.gz`, `.nrrd`, `.nhdr`, a DICOM RT Dose `.dcm`, or a
/// folder of DICOM slices (`FOLDER`, or `FOLDER#SERIES_UID` when it holds
/// several series).
pub fn read_image(path: &Path) -> Result<LoadedImage> {
    if let Some((dir, uid)) = series_path(path) {
        let s = dicom::series::read_series(&dir, uid.as_deref())?;
        return Ok(LoadedImage {
            volume: s.volume,
            dtype: "float32",
            units: None,
            frame_of_reference: s.frame_of_reference,
        });
    }
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

/// `FOLDER` or `FOLDER#SERIES_UID` naming a folder of DICOM slices.
pub fn series_path(path: &Path) -> Option<(std::path::PathBuf, Option<String>)> {
    if path.is_dir() {
        return Some((path.to_path_buf(), None));
    }
    let text = path.to_str()?;
    let (dir, uid) = text.rsplit_once('#')?;
    let dir = Path::new(dir);
    dir.is_dir().then(|| (dir.to_path_buf(), Some(uid.to_string())))
}

/// The content hash of an image: the file's SHA-256 (with the structure's
/// name for `rtstruct.dcm#NAME`), or for a folder of DICOM slices the SHA-256 over every DICOM file's name and hash in name
/// order (a changed, added or removed slice changes it).
pub fn image_sha256(path: &Path) -> Result<String> {
    if let Some((file, name)) = rtstruct_path(path) {
        let sha = crate::provenance::sha256_file(&file)?;
        return Ok(crate::provenance::sha256_bytes(format!("{sha} structure {name}").as_bytes()));
    }
    let Some((dir, uid)) = series_path(path) else { return crate::provenance::sha256_file(path) };
    let mut listing = String::new();
    for file in dicom::series::part10_files(&dir)? {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        listing.push_str(&format!("{name} {}\n", crate::provenance::sha256_file(&file)?));
    }
    if let Some(uid) = uid {
        listing.push_str(&format!("series {uid}\n"));
    }
    Ok(crate::provenance::sha256_bytes(listing.as_bytes()))
}

/// `FILE#NAME` naming a structure of an RT Structure Set file (a mask).
pub fn rtstruct_path(path: &Path) -> Option<(std::path::PathBuf, String)> {
    let text = path.to_str()?;
    let (file, name) = text.rsplit_once('#')?;
    let file = Path::new(file);
    (file.is_file() && !name.is_empty()).then(|| (file.to_path_buf(), name.to_string()))
}
