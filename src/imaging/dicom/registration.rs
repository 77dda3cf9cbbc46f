//! DICOM Spatial Registration objects (REG): the rigid Frame of Reference
//! Transformation Matrix that maps a registered (moving) frame into the
//! object's own (fixed) frame.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, open_file};

use crate::error::{Error, Result};

/// Spatial Registration Storage.
pub const SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.1";

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: format!("not a readable Spatial Registration: {}", message.into()) }
}

fn uid(obj: &InMemDicomObject) -> Option<String> {
    let s = obj.element(tags::FRAME_OF_REFERENCE_UID).ok()?.to_str().ok()?.trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn first(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<InMemDicomObject> {
    obj.element(tag).ok()?.items()?.first().cloned()
}

/// A registration's matrix as stored, with the frames it joins.
pub struct RegMatrix {
    /// Row-major 4×4 from the moving frame into the fixed one.
    pub matrix: [f64; 16],
    pub moving_frame: Option<String>,
    pub fixed_frame: Option<String>,
}

/// The matrix of a REG file: the registration item whose frame is not the
/// object's own (the moving frame), mapped into the object's frame.
pub fn read_reg(path: &Path) -> Result<RegMatrix> {
    super::check_lengths(path)?;
    let file = open_file(path).map_err(|e| bad(path, e.to_string()))?;
    let sop = file.meta().media_storage_sop_class_uid().trim_end_matches('\0').trim().to_string();
    if sop != SOP_CLASS {
        return Err(bad(path, format!("SOP Class {sop} is not Spatial Registration Storage ({SOP_CLASS})")));
    }
    let obj: &InMemDicomObject = &file;
    let fixed = uid(obj);
    let items =
        obj.element(tags::REGISTRATION_SEQUENCE).ok().and_then(|e| e.items().map(<[_]>::to_vec)).unwrap_or_default();
    let mut found = Vec::new();
    for item in &items {
        let Some(matrix) =
            first(item, tags::MATRIX_REGISTRATION_SEQUENCE).and_then(|m| first(&m, tags::MATRIX_SEQUENCE))
        else {
            continue;
        };
        let kind = matrix
            .element(tags::FRAME_OF_REFERENCE_TRANSFORMATION_MATRIX_TYPE)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let values = matrix
            .element(tags::FRAME_OF_REFERENCE_TRANSFORMATION_MATRIX)
            .ok()
            .and_then(|e| e.to_multi_float64().ok())
            .ok_or_else(|| bad(path, "a registration item without its transformation matrix"))?;
        let values: [f64; 16] = values
            .as_slice()
            .try_into()
            .map_err(|_| bad(path, format!("a matrix of {} values, not 16", values.len())))?;
        found.push((uid(item), kind, values));
    }
    let moving = found
        .iter()
        .find(|(frame, _, _)| frame.is_some() && *frame != fixed)
        .or_else(|| found.first())
        .ok_or_else(|| bad(path, "no Matrix Registration in the Registration Sequence"))?;
    if !moving.1.is_empty() && moving.1 != "RIGID" && moving.1 != "RIGID_SCALE" {
        return Err(bad(path, format!("a {} registration; only rigid matrices are applied", moving.1)));
    }
    Ok(RegMatrix { matrix: moving.2, moving_frame: moving.0.clone(), fixed_frame: fixed })
}
