//! DICOM RT Dose (multi-frame dose grids) through `dicom-object`: geometry
//! from Image Position/Orientation, Pixel Spacing and the Grid Frame Offset
//! Vector; values scaled by Dose Grid Scaling; units from Dose Units.
//!
//! Only the native (uncompressed) transfer syntaxes are decoded; others are
//! refused with their name. Patient identifiers (name, id, birth date, …)
//! are never read into radose: nothing here touches those tags.

pub mod registration;
pub mod rtstruct;
pub mod series;
pub mod tree;
pub mod write;

use std::path::Path;

use dicom_core::Tag;
use dicom_core::value::PrimitiveValue;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, open_file};

use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::imaging::nifti::max_voxels;

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: format!("not a readable DICOM file: {}", message.into()) }
}

/// Walks the file's element headers and refuses any element that declares
/// more bytes than the file holds, before `dicom-object` would allocate
/// for it (a corrupt length field otherwise costs gigabytes). Every reader
/// of DICOM files calls it first.
pub(crate) fn check_lengths(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| crate::provenance::io_error(path, e))?;
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(bad(path, "no DICM marker after the 128-byte preamble (not a DICOM Part 10 file)"));
    }
    const LONG_VRS: [&[u8; 2]; 13] =
        [b"OB", b"OD", b"OF", b"OL", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"OV", b"SV", b"UV"];
    let mut pos = 132;
    let mut explicit = true;
    let mut big = false;
    let mut in_meta = true;
    // Inside encapsulated (compressed) pixel data, items hold raw fragments.
    let mut fragments = false;
    while pos + 8 <= bytes.len() {
        let u16_at = |i: usize, big: bool| {
            if big {
                u16::from_be_bytes([bytes[i], bytes[i + 1]])
            } else {
                u16::from_le_bytes([bytes[i], bytes[i + 1]])
            }
        };
        let u32_at = |i: usize, big: bool| {
            let a = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
            if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
        };
        let group_le = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
        if in_meta && group_le != 0x0002 {
            in_meta = false;
        }
        let (e_big, e_explicit) = if in_meta { (false, true) } else { (big, explicit) };
        let group = u16_at(pos, e_big);
        let element = u16_at(pos + 2, e_big);
        let (len, header) = if group == 0xFFFE {
            (u32_at(pos + 4, e_big), 8)
        } else if e_explicit {
            let vr = [bytes[pos + 4], bytes[pos + 5]];
            const VRS: &[u8] = b"AEASATCSDADSDTFLFDISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
            if !VRS.chunks(2).any(|v| v == vr) {
                return Err(bad(
                    path,
                    format!(
                        "the element ({group:04X},{element:04X}) has an unknown value representation `{}`",
                        String::from_utf8_lossy(&vr)
                    ),
                ));
            }
            if LONG_VRS.iter().any(|v| **v == vr) {
                if pos + 12 > bytes.len() {
                    return Err(bad(path, format!("the element ({group:04X},{element:04X}) is cut off")));
                }
                (u32_at(pos + 8, e_big), 12)
            } else {
                (u32::from(u16_at(pos + 6, e_big)), 8)
            }
        } else {
            (u32_at(pos + 4, e_big), 8)
        };
        pos += header;
        if group == 0xFFFE && element == 0xE0DD {
            fragments = false;
        }
        if len == u32::MAX {
            if group == 0x7FE0 && element == 0x0010 {
                fragments = true;
            }
            continue; // undefined length: its contents follow as elements
        }
        if group == 0xFFFE && element == 0xE000 {
            // A defined-length item must fit; a fragment is skipped, a dataset walked into.
            if pos + len as usize > bytes.len() {
                return Err(bad(path, format!("an item declares {len} bytes but only {} remain", bytes.len() - pos)));
            }
            if fragments {
                pos += len as usize;
            }
            continue;
        }
        let len = len as usize;
        if len > bytes.len() - pos {
            return Err(bad(
                path,
                format!(
                    "the element ({group:04X},{element:04X}) declares {len} bytes but only {} remain in the file",
                    bytes.len() - pos
                ),
            ));
        }
        if in_meta && group == 0x0002 && element == 0x0010 {
            let ts = String::from_utf8_lossy(&bytes[pos..pos + len]).trim_end_matches(['\0', ' ']).to_string();
            explicit = ts != IMPLICIT_LE;
            big = ts == EXPLICIT_BE;
        }
        pos += len;
    }
    Ok(())
}

fn floats(obj: &DefaultDicomObject, path: &Path, tag: Tag, name: &str) -> Result<Vec<f64>> {
    obj.element(tag)
        .map_err(|_| bad(path, format!("{name} is missing")))?
        .to_multi_float64()
        .map_err(|_| bad(path, format!("{name} is not numeric")))
}

fn int(obj: &DefaultDicomObject, path: &Path, tag: Tag, name: &str) -> Result<i64> {
    obj.element(tag)
        .map_err(|_| bad(path, format!("{name} is missing")))?
        .to_int::<i64>()
        .map_err(|_| bad(path, format!("{name} is not an integer")))
}

/// Stored pixel values as numbers: 8-, 16- or 32-bit words, signed or not,
/// in the file's byte order, however `dicom-object` holds them; `None` for
/// another layout.
fn stored_values(primitive: &PrimitiveValue, bits: i64, signed: bool, big: bool) -> Option<Vec<f64>> {
    Some(match (primitive, bits) {
        (PrimitiveValue::U16(w), 16) => {
            w.iter().map(|&v| if signed { f64::from(v as i16) } else { f64::from(v) }).collect()
        }
        (PrimitiveValue::I16(v), 16) => v.iter().map(|&x| f64::from(x)).collect(),
        (PrimitiveValue::U16(w), 32) => w
            .chunks_exact(2)
            .map(|p| {
                let (hi, lo) = if big { (p[0], p[1]) } else { (p[1], p[0]) };
                let v = (u32::from(hi) << 16) | u32::from(lo);
                if signed { f64::from(v as i32) } else { f64::from(v) }
            })
            .collect(),
        (PrimitiveValue::U32(v), 32) => {
            v.iter().map(|&x| if signed { f64::from(x as i32) } else { f64::from(x) }).collect()
        }
        (PrimitiveValue::I32(v), 32) => v.iter().map(|&x| f64::from(x)).collect(),
        (PrimitiveValue::U8(b), 8) => {
            b.iter().map(|&v| if signed { f64::from(v as i8) } else { f64::from(v) }).collect()
        }
        (PrimitiveValue::U8(b), 16) => b
            .chunks_exact(2)
            .map(|c| {
                let v = if big { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) };
                if signed { f64::from(v as i16) } else { f64::from(v) }
            })
            .collect(),
        (PrimitiveValue::U8(b), 32) => b
            .chunks_exact(4)
            .map(|c| {
                let a = [c[0], c[1], c[2], c[3]];
                let v = if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) };
                if signed { f64::from(v as i32) } else { f64::from(v) }
            })
            .collect(),
        _ => return None,
    })
}

/// An RT Dose file as read.
pub struct RtDose {
    /// The dose grid in its units (usually Gy).
    pub volume: Volume,
    pub dtype: &'static str,
    pub units: Option<String>,
    /// Frame of Reference UID (0020,0052), the coordinate system the grid lives in.
    pub frame_of_reference: Option<String>,
}

/// Reads an RT Dose file.
pub fn read_rtdose(path: &Path) -> Result<RtDose> {
    check_lengths(path)?;
    let obj = open_file(path).map_err(|e| bad(path, e.to_string()))?;
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').trim().to_string();
    let big = match ts.as_str() {
        IMPLICIT_LE | EXPLICIT_LE => false,
        EXPLICIT_BE => true,
        other => {
            return Err(bad(
                path,
                format!(
                    "transfer syntax {other} (compressed or unsupported) is not decoded; convert the file to an uncompressed syntax first"
                ),
            ));
        }
    };
    let rows = int(&obj, path, tags::ROWS, "Rows")?;
    let cols = int(&obj, path, tags::COLUMNS, "Columns")?;
    let frames = obj.element(tags::NUMBER_OF_FRAMES).ok().and_then(|e| e.to_int::<i64>().ok()).unwrap_or(1);
    if rows < 1 || cols < 1 || frames < 1 {
        return Err(bad(path, format!("{cols} × {rows} × {frames} is not a grid")));
    }
    let size = [cols as usize, rows as usize, frames as usize];
    let n = size
        .iter()
        .try_fold(1usize, |a, s| a.checked_mul(*s))
        .filter(|n| *n <= max_voxels())
        .ok_or_else(|| bad(path, "too many voxels"))?;
    let bits = int(&obj, path, tags::BITS_ALLOCATED, "Bits Allocated")?;
    let signed = obj.element(tags::PIXEL_REPRESENTATION).ok().and_then(|e| e.to_int::<i64>().ok()).unwrap_or(0) == 1;
    let spacing_rc = floats(&obj, path, tags::PIXEL_SPACING, "Pixel Spacing")?;
    let position = floats(&obj, path, tags::IMAGE_POSITION_PATIENT, "Image Position (Patient)")?;
    let orientation = floats(&obj, path, tags::IMAGE_ORIENTATION_PATIENT, "Image Orientation (Patient)")?;
    if spacing_rc.len() != 2 || position.len() != 3 || orientation.len() != 6 {
        return Err(bad(path, "Pixel Spacing, Image Position or Image Orientation has the wrong number of values"));
    }
    let offsets = if frames > 1 {
        floats(&obj, path, tags::GRID_FRAME_OFFSET_VECTOR, "Grid Frame Offset Vector")?
    } else {
        vec![0.0]
    };
    if offsets.len() != frames as usize {
        return Err(bad(path, format!("{} frame offsets for {frames} frames", offsets.len())));
    }
    let dz = if frames > 1 { offsets[1] - offsets[0] } else { 1.0 };
    if dz == 0.0 || offsets.windows(2).any(|w| ((w[1] - w[0]) - dz).abs() > 1e-3 * dz.abs().max(1.0)) {
        return Err(bad(path, "the frames are not evenly spaced (Grid Frame Offset Vector)"));
    }
    let scaling = obj.element(tags::DOSE_GRID_SCALING).ok().and_then(|e| e.to_float64().ok()).unwrap_or(1.0);
    let units = obj.element(tags::DOSE_UNITS).ok().and_then(|e| e.to_str().ok()).map(|s| s.trim().to_string());
    let frame_of_reference = obj
        .element(tags::FRAME_OF_REFERENCE_UID)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches('\0').trim().to_string())
        .filter(|s| !s.is_empty());

    let row_dir = [orientation[0], orientation[1], orientation[2]];
    let col_dir = [orientation[3], orientation[4], orientation[5]];
    let normal = [
        row_dir[1] * col_dir[2] - row_dir[2] * col_dir[1],
        row_dir[2] * col_dir[0] - row_dir[0] * col_dir[2],
        row_dir[0] * col_dir[1] - row_dir[1] * col_dir[0],
    ];
    // Frames may run against the normal; the z axis then points the other way.
    let z_dir = normal.map(|v| v * dz.signum());
    let mut direction = [0.0; 9];
    for r in 0..3 {
        direction[r * 3] = row_dir[r];
        direction[r * 3 + 1] = col_dir[r];
        direction[r * 3 + 2] = z_dir[r];
    }
    let origin = [0, 1, 2].map(|r| position[r] + offsets[0] * normal[r]);
    let spacing = [spacing_rc[1], spacing_rc[0], dz.abs()];

    let pixel = obj.element(tags::PIXEL_DATA).map_err(|_| bad(path, "Pixel Data is missing"))?;
    let Some(primitive) = pixel.value().primitive() else {
        return Err(bad(path, "Pixel Data is encapsulated (compressed)"));
    };
    let Some(raw) = stored_values(primitive, bits, signed, big).filter(|_| bits != 8) else {
        return Err(bad(path, format!("{bits}-bit pixel data is not supported")));
    };
    if raw.len() < n {
        return Err(bad(path, format!("Pixel Data holds {} values for {n} voxels", raw.len())));
    }
    let data = raw.iter().take(n).map(|v| (v * scaling) as f32).collect();
    let dtype = if bits == 32 {
        if signed { "int32" } else { "uint32" }
    } else if signed {
        "int16"
    } else {
        "uint16"
    };
    Ok(RtDose { volume: Volume { size, spacing, origin, direction, data }, dtype, units, frame_of_reference })
}
