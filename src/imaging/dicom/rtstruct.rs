//! DICOM RT Structure Sets: each structure's number, name, Frame of
//! Reference and closed planar contours, and a structure rasterised onto
//! any grid (an MR grid, the dose grid).
//!
//! The rule, one plane at a time: a contour belongs to the voxel plane of
//! the grid nearest to it (contours must lie in the grid's slice planes,
//! within a tenth of a slice); a voxel is inside when its centre is inside
//! an odd number of that plane's contours (even–odd, so a contour inside
//! another is a hole), an edge counting for the half-open span of rows it
//! crosses. Planes between two contoured planes take the nearer one's
//! contours (nearest, not interpolated); nothing is added beyond the first
//! and last contoured planes. A structure in another Frame of Reference
//! than the grid's is refused: it needs a registration first.

use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, open_file};

use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// RT Structure Set Storage.
pub const SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.481.3";

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: format!("not a readable RT Structure Set: {}", message.into()) }
}

/// One structure (ROI) and its contours.
#[derive(Debug, Clone, PartialEq)]
pub struct Structure {
    pub number: i64,
    pub name: String,
    pub frame_of_reference: Option<String>,
    /// Closed planar contours, each its points in LPS millimetres.
    pub contours: Vec<Vec<[f64; 3]>>,
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.element(tag).ok()?.to_str().ok()?.trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn items(obj: &InMemDicomObject, tag: Tag) -> Vec<InMemDicomObject> {
    obj.element(tag).ok().and_then(|e| e.items().map(<[InMemDicomObject]>::to_vec)).unwrap_or_default()
}

/// Reads every structure of an RT Structure Set file.
pub fn read_rtstruct(path: &Path) -> Result<Vec<Structure>> {
    let file = open_file(path).map_err(|e| bad(path, e.to_string()))?;
    let sop = file.meta().media_storage_sop_class_uid().trim_end_matches('\0').trim().to_string();
    if sop != SOP_CLASS {
        return Err(bad(path, format!("SOP Class {sop} is not RT Structure Set Storage ({SOP_CLASS})")));
    }
    let obj: &InMemDicomObject = &file;
    let mut structures = Vec::new();
    for roi in items(obj, tags::STRUCTURE_SET_ROI_SEQUENCE) {
        let Some(number) = roi.element(tags::ROI_NUMBER).ok().and_then(|e| e.to_int::<i64>().ok()) else {
            return Err(bad(path, "a Structure Set ROI without ROI Number"));
        };
        structures.push(Structure {
            number,
            name: text(&roi, tags::ROI_NAME).unwrap_or_else(|| format!("ROI {number}")),
            frame_of_reference: text(&roi, tags::REFERENCED_FRAME_OF_REFERENCE_UID),
            contours: Vec::new(),
        });
    }
    for rc in items(obj, tags::ROI_CONTOUR_SEQUENCE) {
        let Some(number) = rc.element(tags::REFERENCED_ROI_NUMBER).ok().and_then(|e| e.to_int::<i64>().ok()) else {
            continue;
        };
        let Some(s) = structures.iter_mut().find(|s| s.number == number) else {
            return Err(bad(
                path,
                format!("contours for ROI {number}, which the Structure Set ROI Sequence does not list"),
            ));
        };
        for c in items(&rc, tags::CONTOUR_SEQUENCE) {
            let kind = text(&c, tags::CONTOUR_GEOMETRIC_TYPE).unwrap_or_default();
            if kind != "CLOSED_PLANAR" {
                continue;
            }
            let data = c
                .element(tags::CONTOUR_DATA)
                .ok()
                .and_then(|e| e.to_multi_float64().ok())
                .ok_or_else(|| bad(path, format!("a contour of {} has no Contour Data", s.name)))?;
            if data.len() % 3 != 0 || data.len() < 9 {
                return Err(bad(
                    path,
                    format!("a contour of {} has {} coordinates (3 per point, 3+ points)", s.name, data.len()),
                ));
            }
            s.contours.push(data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect());
        }
    }
    Ok(structures)
}

/// The structure named `name` (case-insensitive), or an error listing them.
pub fn structure(path: &Path, name: &str) -> Result<Structure> {
    let all = read_rtstruct(path)?;
    let names: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    all.into_iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        Error::invalid(
            format!("{}: no structure `{name}`; it has: {}", path.display(), names.join(", ")),
            Some("name one as rtstruct.dcm#NAME"),
        )
    })
}

/// `structure` as a 0/1 mask on the grid of `grid` (its voxels are not read).
/// `grid_frame` is the grid's Frame of Reference UID when known.
pub fn rasterise(s: &Structure, grid: &Volume, grid_frame: Option<&str>) -> Result<Volume> {
    if let (Some(a), Some(b)) = (s.frame_of_reference.as_deref(), grid_frame)
        && a != b
    {
        return Err(Error::invalid(
            format!("structure {}: Frame of Reference {a} is not the image's {b}", s.name),
            Some("the contours were drawn on another scan: give its registration (preprocess --registration FILE)"),
        ));
    }
    let d = &grid.direction;
    // Continuous voxel index of a point: Dᵀ (p − origin) / spacing.
    let index = |p: &[f64; 3]| {
        let v = [p[0] - grid.origin[0], p[1] - grid.origin[1], p[2] - grid.origin[2]];
        [0, 1, 2].map(|c| (d[c] * v[0] + d[3 + c] * v[1] + d[6 + c] * v[2]) / grid.spacing[c])
    };
    // Each contour in index space with its plane (k).
    let mut planes: Vec<(f64, Vec<Vec<[f64; 2]>>)> = Vec::new();
    for c in &s.contours {
        let idx: Vec<[f64; 3]> = c.iter().map(index).collect();
        let k = idx.iter().map(|p| p[2]).sum::<f64>() / idx.len() as f64;
        if idx.iter().any(|p| (p[2] - k).abs() > 0.1) {
            return Err(Error::invalid(
                format!("structure {}: a contour does not lie in one of the grid's slice planes", s.name),
                Some("contours must be parallel to the image slices (resample the image to the contours' orientation)"),
            ));
        }
        let poly: Vec<[f64; 2]> = idx.iter().map(|p| [p[0], p[1]]).collect();
        match planes.iter_mut().find(|(z, _)| (z - k).abs() < 1e-3) {
            Some((_, v)) => v.push(poly),
            None => planes.push((k, vec![poly])),
        }
    }
    planes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut mask = Volume { data: vec![0.0; grid.size.iter().product()], ..grid.clone() };
    let Some((lo, hi)) = planes.first().zip(planes.last()).map(|(a, b)| (a.0, b.0)) else { return Ok(mask) };
    let [nx, ny, nz] = grid.size;
    for k in 0..nz {
        let z = k as f64;
        if z < lo - 0.5 || z > hi + 0.5 {
            continue;
        }
        // The nearest contoured plane (the lower one on a tie).
        let Some((_, polys)) = planes.iter().min_by(|a, b| (a.0 - z).abs().total_cmp(&(b.0 - z).abs())) else {
            continue;
        };
        for j in 0..ny {
            let y = j as f64;
            let mut xs: Vec<f64> = Vec::new();
            for poly in polys {
                for (e, a) in poly.iter().enumerate() {
                    let b = poly[(e + 1) % poly.len()];
                    // Half-open in y: an edge counts for rows in [min y, max y).
                    let (p, q) = if a[1] <= b[1] { (*a, b) } else { (b, *a) };
                    if y >= p[1] && y < q[1] {
                        xs.push(p[0] + (y - p[1]) * (q[0] - p[0]) / (q[1] - p[1]));
                    }
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let first = pair[0].ceil().max(0.0) as usize;
                let last = pair[1].ceil().min(nx as f64);
                for i in first..last.max(0.0) as usize {
                    let at = mask.index(i, j, k);
                    mask.data[at] = 1.0;
                }
            }
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(size: [usize; 3], spacing: [f64; 3]) -> Volume {
        Volume {
            size,
            spacing,
            origin: [0.0; 3],
            direction: crate::core::volume::IDENTITY,
            data: vec![0.0; size.iter().product()],
        }
    }

    fn square(x0: f64, x1: f64, y0: f64, y1: f64, z: f64) -> Vec<[f64; 3]> {
        vec![[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]
    }

    fn count(m: &Volume, k: usize) -> usize {
        let per = m.size[0] * m.size[1];
        m.data[k * per..(k + 1) * per].iter().filter(|v| **v > 0.5).count()
    }

    #[test]
    fn voxel_centres_inside_even_odd_with_holes() {
        let g = grid([12, 12, 1], [1.0; 3]);
        // Centres 2..5 in x (2 ≤ x < 5.5 → 2,3,4,5) and 3..6 in y: 4 × 4.
        let s = Structure {
            number: 1,
            name: "box".into(),
            frame_of_reference: None,
            contours: vec![square(1.5, 5.5, 2.5, 6.5, 0.0)],
        };
        assert_eq!(count(&rasterise(&s, &g, None).unwrap(), 0), 16);
        // A ring: the inner square (centres 3,4 × 4,5) is a hole.
        let ring = Structure { contours: vec![square(1.5, 5.5, 2.5, 6.5, 0.0), square(2.5, 4.5, 3.5, 5.5, 0.0)], ..s };
        let m = rasterise(&ring, &g, None).unwrap();
        assert_eq!(count(&m, 0), 12);
        assert_eq!(m.data[m.index(3, 4, 0)], 0.0);
        assert_eq!(m.data[m.index(2, 3, 0)], 1.0);
    }

    #[test]
    fn planes_take_the_nearest_contour_and_nothing_beyond_the_ends() {
        let g = grid([10, 10, 8], [1.0, 1.0, 1.0]);
        let s = Structure {
            number: 1,
            name: "two".into(),
            frame_of_reference: Some("1.2.3".into()),
            contours: vec![square(0.5, 2.5, 0.5, 2.5, 1.0), square(0.5, 6.5, 0.5, 6.5, 4.0)],
        };
        let m = rasterise(&s, &g, Some("1.2.3")).unwrap();
        let counts: Vec<usize> = (0..8).map(|k| count(&m, k)).collect();
        // Planes 1 and 2 nearest to z = 1 (4 voxels), 3 and 4 to z = 4 (36); 0 and 5+ outside.
        assert_eq!(counts, vec![0, 4, 4, 36, 36, 0, 0, 0]);
        let err = rasterise(&s, &g, Some("9.9")).unwrap_err().to_string();
        assert!(err.contains("Frame of Reference 1.2.3 is not the image's 9.9"), "{err}");
        let tilted = Structure { contours: vec![vec![[0.0, 0.0, 0.0], [5.0, 0.0, 1.0], [5.0, 5.0, 1.0]]], ..s };
        assert!(rasterise(&tilted, &g, None).is_err());
    }

    #[test]
    fn a_circle_fills_the_lattice_points_inside_it() {
        let g = grid([41, 41, 1], [0.5, 0.5, 1.0]);
        let (cx, cy, r) = (10.1, 9.9, 7.3);
        let circle: Vec<[f64; 3]> = (0..720)
            .map(|t| {
                let a = t as f64 * std::f64::consts::TAU / 720.0;
                [cx + r * a.cos(), cy + r * a.sin(), 0.0]
            })
            .collect();
        let s = Structure { number: 1, name: "c".into(), frame_of_reference: None, contours: vec![circle] };
        let m = rasterise(&s, &g, None).unwrap();
        let mut lattice = 0;
        for j in 0..41 {
            for i in 0..41 {
                let (x, y) = (i as f64 * 0.5, j as f64 * 0.5);
                if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                    lattice += 1;
                }
            }
        }
        // A 720-gon is within 0.0001 mm of the circle: only centres that close could differ.
        assert!((count(&m, 0) as i64 - lattice).abs() <= 2, "{} vs {lattice}", count(&m, 0));
    }
}
