//! Writing DICOM as a planning system and a PACS export it: an image series
//! (one file per slice, 16-bit with Rescale Slope/Intercept), an RT Dose
//! (one multi-frame grid, 32-bit with Dose Grid Scaling), an RT Structure
//! Set (closed planar contours) and a rigid Spatial Registration — used by
//! `simulate --dicom` to give a simulated cohort the shape of a clinical
//! export. UIDs are derived from labels (`2.25.` + 128 bits of SHA-256), so
//! the same cohort gives the same files. Every file is written whole under a
//! temporary name and renamed.

use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

use crate::core::volume::Volume;
use crate::error::{Error, Result};

const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub const MR_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.4";
pub const CT_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.2";

/// A DICOM UID from a label: `2.25.` and the first 128 bits of its SHA-256 as a decimal.
pub fn uid(label: &str) -> String {
    let hex = crate::provenance::sha256_bytes(label.as_bytes());
    let n = u128::from_str_radix(&hex[..32], 16).unwrap_or(0);
    format!("2.25.{n}")
}

/// What every object of one patient's study carries.
#[derive(Debug, Clone)]
pub struct Study {
    pub patient_id: String,
    pub study_uid: String,
    /// Study Description (e.g. "SIMULATED …").
    pub description: String,
}

fn el(tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, value.into())
}

fn strs(values: Vec<String>) -> PrimitiveValue {
    PrimitiveValue::Strs(values.into_iter().collect())
}

/// A decimal string of at most 16 characters: the closest of the fixed and
/// exponent forms that fit.
fn ds_one(x: f64) -> String {
    let tidy = |s: String| {
        let s = if s.contains('.') && !s.contains('e') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s == "-0" { "0".to_string() } else { s }
    };
    let mut best: Option<(f64, String)> = None;
    let candidates = (0..=12usize).map(|d| tidy(format!("{x:.d$}"))).chain((0..=12usize).map(|d| format!("{x:.d$e}")));
    for s in candidates.filter(|s| s.len() <= 16) {
        let err = s.parse::<f64>().map_or(f64::INFINITY, |v| (v - x).abs());
        if best.as_ref().is_none_or(|b| err < b.0) {
            best = Some((err, s));
        }
    }
    best.map_or_else(|| "0".to_string(), |b| b.1)
}

fn ds(values: &[f64]) -> PrimitiveValue {
    strs(values.iter().map(|v| ds_one(*v)).collect())
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// A new object of `sop_class` with the study's patient and study attributes.
fn object(sop_class: &str, instance: &str, modality: &str, study: &Study, series_uid: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, sop_class),
        el(tags::SOP_INSTANCE_UID, VR::UI, instance),
        el(tags::MODALITY, VR::CS, modality),
        el(tags::PATIENT_ID, VR::LO, study.patient_id.as_str()),
        el(tags::STUDY_INSTANCE_UID, VR::UI, study.study_uid.as_str()),
        el(tags::STUDY_DESCRIPTION, VR::LO, study.description.as_str()),
        el(tags::SERIES_INSTANCE_UID, VR::UI, series_uid),
    ])
}

fn save(obj: InMemDicomObject, path: &Path) -> Result<()> {
    let bad = |e: String| Error::Io { path: path.to_path_buf(), message: format!("writing DICOM: {e}") };
    let file =
        obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(EXPLICIT_VR_LE)).map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension("dcm.partial");
    file.write_to_file(&tmp).map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| crate::provenance::io_error(path, e))
}

/// Image Orientation (Patient): the directions of the grid's first two axes.
fn orientation(v: &Volume) -> [f64; 6] {
    let d = &v.direction;
    [d[0], d[3], d[6], d[1], d[4], d[7]]
}

/// `v` as an image series in `dir` (created), one file `IM0001.dcm`, … per
/// slice, 16-bit signed with a Rescale Slope/Intercept spanning the values.
pub fn write_image_series(
    dir: &Path,
    v: &Volume,
    study: &Study,
    modality: &str,
    description: &str,
    frame_uid: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    let sop_class = if modality == "CT" { CT_IMAGE } else { MR_IMAGE };
    let series_uid = uid(&format!("{}/{}/series/{description}", study.study_uid, modality));
    let lo = v.data.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = v.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let integral = v.data.iter().all(|x| x.fract() == 0.0) && lo >= -32768.0 && hi <= 32767.0;
    let (slope, intercept) = if integral || !(hi > lo) {
        (1.0, 0.0)
    } else {
        (f64::from(hi - lo) / 60000.0, (f64::from(hi) + f64::from(lo)) / 2.0)
    };
    let [nx, ny, nz] = v.size;
    for k in 0..nz {
        let instance = uid(&format!("{series_uid}/{k}"));
        let mut obj = object(sop_class, &instance, modality, study, &series_uid);
        let slice = &v.data[k * nx * ny..(k + 1) * nx * ny];
        let mut bytes = Vec::with_capacity(slice.len() * 2);
        for &x in slice {
            let stored = ((f64::from(x) - intercept) / slope).round().clamp(-32768.0, 32767.0) as i16;
            bytes.extend_from_slice(&stored.to_le_bytes());
        }
        for e in [
            el(tags::SERIES_DESCRIPTION, VR::LO, description),
            el(tags::SERIES_NUMBER, VR::IS, "1"),
            el(tags::INSTANCE_NUMBER, VR::IS, (k + 1).to_string()),
            el(tags::FRAME_OF_REFERENCE_UID, VR::UI, frame_uid),
            DataElement::new(tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&v.position(0, 0, k))),
            DataElement::new(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&orientation(v))),
            DataElement::new(tags::PIXEL_SPACING, VR::DS, ds(&[v.spacing[1], v.spacing[0]])),
            DataElement::new(tags::SLICE_THICKNESS, VR::DS, ds(&[v.spacing[2]])),
            el(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
            el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            el(tags::ROWS, VR::US, PrimitiveValue::from(ny as u16)),
            el(tags::COLUMNS, VR::US, PrimitiveValue::from(nx as u16)),
            el(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
            el(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
            el(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
            el(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(1u16)),
            DataElement::new(tags::RESCALE_INTERCEPT, VR::DS, ds(&[intercept])),
            DataElement::new(tags::RESCALE_SLOPE, VR::DS, ds(&[slope])),
            el(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U8(bytes.into())),
        ] {
            obj.put(e);
        }
        save(obj, &dir.join(format!("IM{:04}.dcm", k + 1)))?;
    }
    Ok(())
}

/// `dose` (Gy) as an RT Dose file: one multi-frame grid, 32-bit unsigned with
/// a Dose Grid Scaling; negative doses are stored as 0.
pub fn write_rtdose(path: &Path, dose: &Volume, study: &Study, frame_uid: &str) -> Result<()> {
    let series_uid = uid(&format!("{}/RTDOSE", study.study_uid));
    let mut obj =
        object("1.2.840.10008.5.1.4.1.1.481.2", &uid(&format!("{series_uid}/0")), "RTDOSE", study, &series_uid);
    let hi = dose.data.iter().copied().fold(0.0f32, f32::max);
    let scaling = if hi > 0.0 { f64::from(hi) / 4.0e9 } else { 1.0 };
    let mut bytes = Vec::with_capacity(dose.data.len() * 4);
    for &d in &dose.data {
        let stored = (f64::from(d.max(0.0)) / scaling).round().min(4.29e9) as u32;
        bytes.extend_from_slice(&stored.to_le_bytes());
    }
    let [nx, ny, nz] = dose.size;
    let offsets: Vec<f64> = (0..nz).map(|k| k as f64 * dose.spacing[2]).collect();
    for e in [
        el(tags::FRAME_OF_REFERENCE_UID, VR::UI, frame_uid),
        DataElement::new(tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&dose.position(0, 0, 0))),
        DataElement::new(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&orientation(dose))),
        DataElement::new(tags::PIXEL_SPACING, VR::DS, ds(&[dose.spacing[1], dose.spacing[0]])),
        DataElement::new(tags::GRID_FRAME_OFFSET_VECTOR, VR::DS, ds(&offsets)),
        el(tags::NUMBER_OF_FRAMES, VR::IS, nz.to_string()),
        el(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        el(tags::ROWS, VR::US, PrimitiveValue::from(ny as u16)),
        el(tags::COLUMNS, VR::US, PrimitiveValue::from(nx as u16)),
        el(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(32u16)),
        el(tags::BITS_STORED, VR::US, PrimitiveValue::from(32u16)),
        el(tags::HIGH_BIT, VR::US, PrimitiveValue::from(31u16)),
        el(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(0u16)),
        el(tags::DOSE_UNITS, VR::CS, "GY"),
        el(tags::DOSE_TYPE, VR::CS, "PHYSICAL"),
        el(tags::DOSE_SUMMATION_TYPE, VR::CS, "PLAN"),
        DataElement::new(tags::DOSE_GRID_SCALING, VR::DS, ds(&[scaling])),
        el(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U8(bytes.into())),
    ] {
        obj.put(e);
    }
    save(obj, path)
}

/// An RT Structure Set of closed planar contours (LPS millimetres) per named structure.
pub fn write_rtstruct(
    path: &Path,
    study: &Study,
    frame_uid: &str,
    structures: &[(String, Vec<Vec<[f64; 3]>>)],
) -> Result<()> {
    let series_uid = uid(&format!("{}/RTSTRUCT", study.study_uid));
    let mut obj =
        object("1.2.840.10008.5.1.4.1.1.481.3", &uid(&format!("{series_uid}/0")), "RTSTRUCT", study, &series_uid);
    let mut rois = Vec::new();
    let mut contours = Vec::new();
    for (n, (name, polys)) in structures.iter().enumerate() {
        let number = (n + 1).to_string();
        rois.push(InMemDicomObject::from_element_iter([
            el(tags::ROI_NUMBER, VR::IS, number.as_str()),
            el(tags::REFERENCED_FRAME_OF_REFERENCE_UID, VR::UI, frame_uid),
            el(tags::ROI_NAME, VR::LO, name.as_str()),
            el(tags::ROI_GENERATION_ALGORITHM, VR::CS, "AUTOMATIC"),
        ]));
        let items: Vec<InMemDicomObject> = polys
            .iter()
            .map(|p| {
                let flat: Vec<f64> = p.iter().flat_map(|q| q.iter().copied()).collect();
                InMemDicomObject::from_element_iter([
                    el(tags::CONTOUR_GEOMETRIC_TYPE, VR::CS, "CLOSED_PLANAR"),
                    el(tags::NUMBER_OF_CONTOUR_POINTS, VR::IS, p.len().to_string()),
                    DataElement::new(tags::CONTOUR_DATA, VR::DS, ds(&flat)),
                ])
            })
            .collect();
        contours.push(InMemDicomObject::from_element_iter([
            el(tags::REFERENCED_ROI_NUMBER, VR::IS, number.as_str()),
            sequence(tags::CONTOUR_SEQUENCE, items),
        ]));
    }
    obj.put(el(tags::STRUCTURE_SET_LABEL, VR::SH, "radose"));
    obj.put(el(tags::FRAME_OF_REFERENCE_UID, VR::UI, frame_uid));
    obj.put(sequence(tags::STRUCTURE_SET_ROI_SEQUENCE, rois));
    obj.put(sequence(tags::ROI_CONTOUR_SEQUENCE, contours));
    save(obj, path)
}

/// A Spatial Registration mapping `moving_frame` into `fixed_frame` (the
/// object's own) by the rigid row-major 4×4 `matrix`.
pub fn write_reg(path: &Path, study: &Study, fixed_frame: &str, moving_frame: &str, matrix: &[f64; 16]) -> Result<()> {
    let series_uid = uid(&format!("{}/REG", study.study_uid));
    let mut obj = object("1.2.840.10008.5.1.4.1.1.66.1", &uid(&format!("{series_uid}/0")), "REG", study, &series_uid);
    let identity = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let items: Vec<InMemDicomObject> = [(fixed_frame, &identity), (moving_frame, matrix)]
        .into_iter()
        .map(|(frame, m)| {
            let mat = InMemDicomObject::from_element_iter([
                el(tags::FRAME_OF_REFERENCE_TRANSFORMATION_MATRIX_TYPE, VR::CS, "RIGID"),
                DataElement::new(tags::FRAME_OF_REFERENCE_TRANSFORMATION_MATRIX, VR::DS, ds(m)),
            ]);
            let reg = InMemDicomObject::from_element_iter([sequence(tags::MATRIX_SEQUENCE, vec![mat])]);
            InMemDicomObject::from_element_iter([
                el(tags::FRAME_OF_REFERENCE_UID, VR::UI, frame),
                sequence(tags::MATRIX_REGISTRATION_SEQUENCE, vec![reg]),
            ])
        })
        .collect();
    obj.put(el(tags::FRAME_OF_REFERENCE_UID, VR::UI, fixed_frame));
    obj.put(sequence(tags::REGISTRATION_SEQUENCE, items));
    save(obj, path)
}

/// A mask's outline as closed planar contours, slice by slice: the boundary
/// of the union of its voxels' squares (edges half a voxel from the
/// centres), as closed loops in LPS millimetres. Rasterised by the even–odd
/// rule at voxel centres, they give the mask back exactly.
pub fn mask_contours(mask: &Volume) -> Vec<Vec<[f64; 3]>> {
    let [nx, ny, nz] = mask.size;
    let inside = |i: i64, j: i64, k: usize| {
        i >= 0
            && j >= 0
            && (i as usize) < nx
            && (j as usize) < ny
            && mask.data[mask.index(i as usize, j as usize, k)] > 0.5
    };
    let mut out = Vec::new();
    for k in 0..nz {
        // Directed boundary edges between lattice corners (corner (a, b) is at index (a − ½, b − ½)),
        // the inside on the left.
        let mut edges: std::collections::BTreeMap<(i64, i64), Vec<(i64, i64)>> = std::collections::BTreeMap::new();
        for j in 0..ny as i64 {
            for i in 0..nx as i64 {
                if !inside(i, j, k) {
                    continue;
                }
                let (a, b, c, d) = ((i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1));
                for (outside, from, to) in [
                    (!inside(i, j - 1, k), a, b),
                    (!inside(i + 1, j, k), b, c),
                    (!inside(i, j + 1, k), c, d),
                    (!inside(i - 1, j, k), d, a),
                ] {
                    if outside {
                        edges.entry(from).or_default().push(to);
                    }
                }
            }
        }
        // Walk the edges into closed loops (every corner has as many edges in as out).
        while let Some((&start, _)) = edges.iter().find(|(_, v)| !v.is_empty()) {
            let mut loop_ = vec![start];
            let mut at = start;
            loop {
                let Some(next) = edges.get_mut(&at).and_then(Vec::pop) else { break };
                if next == start {
                    break;
                }
                loop_.push(next);
                at = next;
            }
            edges.retain(|_, v| !v.is_empty());
            // Drop corners where the outline goes straight on.
            let n = loop_.len();
            let kept: Vec<(i64, i64)> = (0..n)
                .filter(|&m| {
                    let (p, q, r) = (loop_[(m + n - 1) % n], loop_[m], loop_[(m + 1) % n]);
                    (q.0 - p.0) * (r.1 - q.1) - (q.1 - p.1) * (r.0 - q.0) != 0
                })
                .map(|m| loop_[m])
                .collect();
            let g = crate::core::resample::Grid::of(mask);
            out.push(kept.iter().map(|&(a, b)| g.point([a as f64 - 0.5, b as f64 - 0.5, k as f64])).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::dicom::rtstruct::{Structure, rasterise};

    #[test]
    fn mask_outlines_rasterise_back_to_the_mask() {
        let mut m = Volume {
            size: [9, 8, 3],
            spacing: [0.8, 1.1, 2.0],
            origin: [-3.0, 4.0, 1.0],
            direction: crate::core::volume::IDENTITY,
            data: vec![0.0; 9 * 8 * 3],
        };
        // A ring with a hole, a diagonal touch (two voxels meeting at a corner), a lone voxel.
        for (i, j, k) in [
            (1, 1, 0),
            (2, 1, 0),
            (3, 1, 0),
            (1, 2, 0),
            (3, 2, 0),
            (1, 3, 0),
            (2, 3, 0),
            (3, 3, 0),
            (5, 5, 0),
            (6, 6, 0),
            (8, 7, 0),
            (4, 4, 1),
            (4, 5, 1),
            (0, 0, 2),
        ] {
            let at = m.index(i, j, k);
            m.data[at] = 1.0;
        }
        let contours = mask_contours(&m);
        let s = Structure { number: 1, name: "m".into(), frame_of_reference: None, contours };
        assert_eq!(rasterise(&s, &m, None).unwrap().data, m.data);
    }

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        assert_eq!(ds_one(1.5), "1.5");
        assert_eq!(ds_one(-0.0), "0");
        assert_eq!(ds_one(2.0), "2");
        for x in [123456.123456789, -98765.4321098765, 1.0 / 3.0, 1.873456789e-8, 3.5e12, -4.2e-11] {
            let s = ds_one(x);
            assert!(s.len() <= 16, "{s}");
            // Ten significant digits at least.
            assert!((s.parse::<f64>().unwrap() - x).abs() <= 1e-10 * x.abs(), "{s} vs {x}");
        }
    }
}
