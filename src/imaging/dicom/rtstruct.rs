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
//! than the grid's is refused unless a rigid registration maps its frame
//! into the grid's (`rasterise_onto`): its points are moved by it first.
//!
//! Contours that do not lie in the grid's slice planes (an oblique MR, or a
//! registration that tilts them) follow the same rule in the contours' own
//! planes: a voxel centre takes the nearest contoured plane along the
//! contours' normal, is inside when inside an odd number of that plane's
//! contours (the same half-open edges), and nothing is added further than
//! half a voxel (its extent along the normal) beyond the end planes.

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
    super::check_lengths(path)?;
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

/// `s` as a 0/1 mask on the grid of `grid`, its contours first moved by
/// `registration` when the structure is in the registration's source frame
/// and the grid in its target frame; contours that do not lie in the grid's
/// slice planes are rasterised in their own planes (the module's rule).
pub fn rasterise_onto(
    s: &Structure,
    grid: &Volume,
    grid_frame: Option<&str>,
    registration: Option<&crate::imaging::registration::Rigid>,
) -> Result<Volume> {
    let mut s = s.clone();
    if let (Some(a), Some(b), Some(r)) = (s.frame_of_reference.as_deref(), grid_frame, registration)
        && a != b
    {
        let from_ok = r.from_frame.as_deref().is_none_or(|f| f == a);
        let to_ok = r.to_frame.as_deref().is_none_or(|t| t == b);
        if !(from_ok && to_ok) {
            return Err(Error::invalid(
                format!(
                    "structure {}: the registration maps {} into {}, the structure is in {a} and the image in {b}",
                    s.name,
                    r.from_frame.as_deref().unwrap_or("(unnamed frame)"),
                    r.to_frame.as_deref().unwrap_or("(unnamed frame)"),
                ),
                Some("give the registration made between the planning CT and this MR"),
            ));
        }
        for c in &mut s.contours {
            for p in c.iter_mut() {
                *p = r.apply(*p);
            }
        }
        s.frame_of_reference = Some(b.to_string());
    }
    if in_grid_planes(&s, grid) { rasterise(&s, grid, grid_frame) } else { rasterise_across(&s, grid, grid_frame) }
}

/// Whether every contour lies in one slice plane of `grid` (within a tenth of a slice).
fn in_grid_planes(s: &Structure, grid: &Volume) -> bool {
    let g = crate::core::resample::Grid::of(grid);
    s.contours.iter().all(|c| {
        let ks: Vec<f64> = c.iter().map(|p| g.index_of(*p)[2]).collect();
        let k = ks.iter().sum::<f64>() / ks.len().max(1) as f64;
        ks.iter().all(|z| (z - k).abs() <= 0.1)
    })
}

/// One contoured plane in the contours' own coordinates: its offset along
/// the normal, its polygons (u, v), and its edges bucketed by v.
struct Plane {
    w: f64,
    lo: [f64; 2],
    hi: [f64; 2],
    bin: f64,
    /// Edges (p, q) with p.v ≤ q.v, listed in every bin their [p.v, q.v) meets.
    bins: Vec<Vec<([f64; 2], [f64; 2])>>,
}

impl Plane {
    fn new(w: f64, polys: &[Vec<[f64; 2]>]) -> Plane {
        let pts = polys.iter().flatten();
        let lo = pts.clone().fold([f64::INFINITY; 2], |m, p| [m[0].min(p[0]), m[1].min(p[1])]);
        let hi = pts.fold([f64::NEG_INFINITY; 2], |m, p| [m[0].max(p[0]), m[1].max(p[1])]);
        let edges: usize = polys.iter().map(Vec::len).sum();
        let n = (edges / 2).clamp(1, 4096);
        let bin = ((hi[1] - lo[1]) / n as f64).max(1e-9);
        let mut bins = vec![Vec::new(); n];
        for poly in polys {
            for (e, a) in poly.iter().enumerate() {
                let b = poly[(e + 1) % poly.len()];
                let (p, q) = if a[1] <= b[1] { (*a, b) } else { (b, *a) };
                if p[1] == q[1] {
                    continue;
                }
                let first = (((p[1] - lo[1]) / bin).floor() as usize).min(n - 1);
                let last = (((q[1] - lo[1]) / bin).floor() as usize).min(n - 1);
                for list in &mut bins[first..=last] {
                    list.push((p, q));
                }
            }
        }
        Plane { w, lo, hi, bin, bins }
    }

    /// Inside an odd number of the plane's contours (crossings at or left of u).
    fn inside(&self, u: f64, v: f64) -> bool {
        if u < self.lo[0] || v < self.lo[1] || u > self.hi[0] || v >= self.hi[1] {
            return false;
        }
        let b = (((v - self.lo[1]) / self.bin).floor() as usize).min(self.bins.len() - 1);
        let mut odd = false;
        for (p, q) in &self.bins[b] {
            if v >= p[1] && v < q[1] && p[0] + (v - p[1]) * (q[0] - p[0]) / (q[1] - p[1]) <= u {
                odd = !odd;
            }
        }
        odd
    }
}

/// The module's rule in the contours' own planes, for a grid whose slices
/// are not those planes.
fn rasterise_across(s: &Structure, grid: &Volume, grid_frame: Option<&str>) -> Result<Volume> {
    if let (Some(a), Some(b)) = (s.frame_of_reference.as_deref(), grid_frame)
        && a != b
    {
        return Err(Error::invalid(
            format!("structure {}: Frame of Reference {a} is not the image's {b}", s.name),
            Some("the contours were drawn on another scan: give its registration (preprocess --registration FILE)"),
        ));
    }
    let mut mask = Volume { data: vec![0.0; grid.size.iter().product()], ..grid.clone() };
    let Some(first) = s.contours.iter().find(|c| c.len() >= 3) else { return Ok(mask) };
    // The normal by Newell's method; the in-plane axes from the grid's first (or second) axis.
    let mut n = [0.0; 3];
    for (e, a) in first.iter().enumerate() {
        let b = first[(e + 1) % first.len()];
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let len = norm(n);
    if len < 1e-9 {
        return Err(Error::invalid(format!("structure {}: a contour encloses no area", s.name), None));
    }
    let n = n.map(|x| x / len);
    let d = &grid.direction;
    let axis = |c: usize| [d[c], d[3 + c], d[6 + c]];
    let pick = if dot(axis(0), n).abs() < 0.9 { axis(0) } else { axis(1) };
    let along = dot(pick, n);
    let u0 = [pick[0] - along * n[0], pick[1] - along * n[1], pick[2] - along * n[2]];
    let eu = u0.map(|x| x / norm(u0));
    let ev = [n[1] * eu[2] - n[2] * eu[1], n[2] * eu[0] - n[0] * eu[2], n[0] * eu[1] - n[1] * eu[0]];
    let o = first[0];
    let coords = |p: [f64; 3]| {
        let r = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
        [dot(r, eu), dot(r, ev), dot(r, n)]
    };
    let mut grouped: Vec<(f64, Vec<Vec<[f64; 2]>>)> = Vec::new();
    for c in &s.contours {
        let pts: Vec<[f64; 3]> = c.iter().map(|p| coords(*p)).collect();
        let w = pts.iter().map(|p| p[2]).sum::<f64>() / pts.len() as f64;
        if pts.iter().any(|p| (p[2] - w).abs() > 0.1) {
            return Err(Error::invalid(
                format!("structure {}: its contours are not parallel planes", s.name),
                Some("closed planar contours of one structure must share one orientation"),
            ));
        }
        let poly: Vec<[f64; 2]> = pts.iter().map(|p| [p[0], p[1]]).collect();
        match grouped.iter_mut().find(|(x, _)| (x - w).abs() < 0.01) {
            Some((_, v)) => v.push(poly),
            None => grouped.push((w, vec![poly])),
        }
    }
    grouped.sort_by(|a, b| a.0.total_cmp(&b.0));
    let planes: Vec<Plane> = grouped.iter().map(|(w, polys)| Plane::new(*w, polys)).collect();
    let (lo, hi) = (planes[0].w, planes[planes.len() - 1].w);
    // Half a voxel's extent along the normal.
    let half = 0.5 * (0..3).map(|c| dot(axis(c), n).abs() * grid.spacing[c]).sum::<f64>();
    let g = crate::core::resample::Grid::of(grid);
    let [nx, ny, nz] = grid.size;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let [u, v, w] = coords(g.point([i as f64, j as f64, k as f64]));
                if w < lo - half || w > hi + half {
                    continue;
                }
                // The nearest plane (the lower one on a tie).
                let at = planes.partition_point(|p| p.w < w);
                let plane = match (at.checked_sub(1).map(|x| &planes[x]), planes.get(at)) {
                    (Some(a), Some(b)) => {
                        if w - a.w <= b.w - w {
                            a
                        } else {
                            b
                        }
                    }
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => continue,
                };
                if plane.inside(u, v) {
                    let at = mask.index(i, j, k);
                    mask.data[at] = 1.0;
                }
            }
        }
    }
    Ok(mask)
}

/// `structure` as a 0/1 mask on the grid of `grid` (its voxels are not read),
/// its contours in the grid's slice planes. `grid_frame` is the grid's Frame
/// of Reference UID when known.
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

    /// The rule in the contours' own planes equals the slice-plane scanline
    /// wherever both apply (contours in the grid's planes).
    #[test]
    fn the_rule_across_planes_equals_the_scanline_in_the_grid_planes() {
        // Origins off the contours' lattice: no voxel centre on an edge, where rounding decides.
        let g = Volume { origin: [-3.0131, 2.0071, 0.5], ..grid([14, 12, 9], [0.7, 0.9, 1.5]) };
        let ring = |z: f64| vec![square(-1.9, 4.3, 3.1, 11.0, z), square(-0.2, 1.9, 5.0, 7.3, z)];
        let mut contours = ring(2.0);
        contours.extend(ring(6.5));
        contours.push(square(-2.5, 2.0, 2.8, 9.1, 8.0));
        contours.push(vec![[0.0, 3.0, 3.5], [5.0, 4.0, 3.5], [1.0, 10.0, 3.5]]);
        let s = Structure { number: 1, name: "mixed".into(), frame_of_reference: None, contours };
        let direct = rasterise(&s, &g, None).unwrap();
        let across = rasterise_across(&s, &g, None).unwrap();
        assert!(direct.data.iter().filter(|v| **v > 0.5).count() > 50);
        assert_eq!(direct.data, across.data);
        assert_eq!(rasterise_onto(&s, &g, None, None).unwrap().data, direct.data);
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
