//! Masks in physical units: the exact Euclidean distance transform on an
//! anisotropic grid (Felzenszwalb & Huttenlocher's separable algorithm), the
//! PTV as the rGTV grown by a margin in millimetres, the contour
//! perturbations of a robustness study (grown, shrunk or moved; Zwanenburg
//! et al. 2019, Sci Rep 9:614), bounding boxes, and the crop-and-resize that
//! turns a dose grid into the CNN's fixed input.

use crate::core::resample::{Grid, Interpolator, resample};
use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// Squared distance (mm²) from every voxel to the nearest voxel where
/// `inside` is true, honouring each axis' spacing. ∞ where nothing is inside.
pub fn squared_distance(size: [usize; 3], spacing: [f64; 3], inside: &[bool]) -> Vec<f64> {
    let mut d: Vec<f64> = inside.iter().map(|&b| if b { 0.0 } else { f64::INFINITY }).collect();
    let strides = [1, size[0], size[0] * size[1]];
    for axis in 0..3 {
        let n = size[axis];
        let (stride, w2) = (strides[axis], spacing[axis] * spacing[axis]);
        let mut f = vec![0.0; n];
        let mut out = vec![0.0; n];
        for start in 0..d.len() {
            if (start / stride) % n != 0 {
                continue;
            }
            for (i, slot) in f.iter_mut().enumerate() {
                *slot = d[start + i * stride];
            }
            lower_envelope(&f, w2, &mut out);
            for (i, v) in out.iter().enumerate() {
                d[start + i * stride] = *v;
            }
        }
    }
    d
}

/// 1-D squared distance transform: out[q] = min_p f[p] + w2·(q − p)².
fn lower_envelope(f: &[f64], w2: f64, out: &mut [f64]) {
    let n = f.len();
    let sites: Vec<usize> = (0..n).filter(|&p| f[p].is_finite()).collect();
    if sites.is_empty() {
        out.iter_mut().for_each(|v| *v = f64::INFINITY);
        return;
    }
    let mut v: Vec<usize> = Vec::with_capacity(sites.len());
    let mut z: Vec<f64> = Vec::with_capacity(sites.len() + 1);
    let intersect = |p: usize, q: usize| -> f64 {
        ((f[q] + w2 * (q * q) as f64) - (f[p] + w2 * (p * p) as f64)) / (2.0 * w2 * (q as f64 - p as f64))
    };
    for &q in &sites {
        while let Some(&p) = v.last() {
            let s = intersect(p, q);
            if s <= *z.last().unwrap_or(&f64::NEG_INFINITY) {
                v.pop();
                z.pop();
            } else {
                break;
            }
        }
        let s = v.last().map_or(f64::NEG_INFINITY, |&p| intersect(p, q));
        v.push(q);
        z.push(s);
    }
    z.push(f64::INFINITY);
    let mut k = 0;
    for (q, slot) in out.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        *slot = w2 * (q as f64 - p as f64).powi(2) + f[p];
    }
}

/// The PTV: every voxel within `margin_mm` (Euclidean, in millimetres) of the
/// rGTV mask (voxels > 0.5). Same grid as the mask.
pub fn expand_mm(mask: &Volume, margin_mm: f64) -> Result<Volume> {
    let inside = foreground(mask, margin_mm, "expand")?;
    let d2 = squared_distance(mask.size, mask.spacing, &inside);
    let limit = margin_mm * margin_mm + 1e-9;
    Ok(binary_like(mask, d2.iter().map(|&d| d <= limit)))
}

/// The mask (voxels > 0.5) shrunk by `margin_mm`: a voxel stays when every
/// voxel outside the mask is more than `margin_mm` (Euclidean, in
/// millimetres) away, which makes it the exact dual of [`expand_mm`]. Space
/// beyond the grid's edge counts as inside, as in ITK's binary erosion, so a
/// mask is not eaten away where it touches the edge. Same grid as the mask.
/// An erosion that would leave nothing is an error naming the amount.
pub fn shrink_mm(mask: &Volume, margin_mm: f64) -> Result<Volume> {
    let inside = foreground(mask, margin_mm, "shrink")?;
    let outside: Vec<bool> = inside.iter().map(|&b| !b).collect();
    let depth2 = squared_distance(mask.size, mask.spacing, &outside);
    let limit = margin_mm * margin_mm + 1e-9;
    let kept = inside.iter().zip(&depth2).map(|(&b, &d)| b && d > limit);
    let out = binary_like(mask, kept);
    if out.data.iter().all(|&v| v == 0.0) {
        let deepest = inside.iter().zip(&depth2).filter(|(b, _)| **b).map(|(_, d)| d.sqrt()).fold(0.0, f64::max);
        return Err(Error::invalid(
            format!(
                "an erosion of {margin_mm} mm empties the mask (its deepest voxel is {deepest:.3} mm from the edge)"
            ),
            Some("erode by less than the mask's depth"),
        ));
    }
    Ok(out)
}

/// The mask's foreground (voxels > 0.5), once the margin is checked to be
/// within 0–100 mm and the mask to have something to `verb`.
fn foreground(mask: &Volume, margin_mm: f64, verb: &str) -> Result<Vec<bool>> {
    if !(0.0..=100.0).contains(&margin_mm) {
        return Err(Error::invalid(format!("a margin of {margin_mm} mm is outside 0–100 mm"), None));
    }
    let inside: Vec<bool> = mask.data.iter().map(|&x| x > 0.5).collect();
    if !inside.iter().any(|&b| b) {
        return Err(Error::invalid(
            format!("the mask is empty, so there is nothing to {verb}"),
            Some("check the mask file and its label value"),
        ));
    }
    Ok(inside)
}

/// A 0/1 mask on `grid`'s geometry with the given foreground.
fn binary_like(grid: &Volume, inside: impl Iterator<Item = bool>) -> Volume {
    Volume { data: inside.map(|b| if b { 1.0 } else { 0.0 }).collect(), ..grid.clone() }
}

/// The mask moved by `shift` whole voxels along its grid axes (i, j, k),
/// values kept; voxels moved past the grid's edge are lost. A shift that
/// moves the whole mask (voxels > 0.5) off the grid is an error.
pub fn translate_voxels(mask: &Volume, shift: [i64; 3]) -> Result<Volume> {
    if mask.bounding_box().is_none() {
        return Err(Error::invalid(
            "the mask is empty, so there is nothing to shift",
            Some("check the mask file and its label value"),
        ));
    }
    let mut out = Volume { data: vec![0.0; mask.len()], ..mask.clone() };
    let size = mask.size.map(|n| n as i64);
    for k in 0..size[2] {
        for j in 0..size[1] {
            for i in 0..size[0] {
                let to = [i + shift[0], j + shift[1], k + shift[2]];
                if (0..3).any(|a| to[a] < 0 || to[a] >= size[a]) {
                    continue;
                }
                let from = mask.index(i as usize, j as usize, k as usize);
                let at = out.index(to[0] as usize, to[1] as usize, to[2] as usize);
                out.data[at] = mask.data[from];
            }
        }
    }
    if out.bounding_box().is_none() {
        return Err(Error::invalid(
            format!("a shift of {shift:?} voxels moves the whole mask off its {:?}-voxel grid", mask.size),
            Some("shift by less than the distance from the mask to the grid's edge"),
        ));
    }
    Ok(out)
}

/// The voxel shift nearest to `shift_mm` (LPS millimetres): the shift is
/// projected on each grid axis (through the direction cosines) and rounded
/// to whole voxels of that axis' spacing.
pub fn voxel_shift(mask: &Volume, shift_mm: [f64; 3]) -> [i64; 3] {
    let d = &mask.direction;
    [0, 1, 2].map(|a| {
        let along = d[a] * shift_mm[0] + d[3 + a] * shift_mm[1] + d[6 + a] * shift_mm[2];
        (along / mask.spacing[a]).round() as i64
    })
}

/// The mask moved by `shift_mm` (LPS millimetres), rounded per axis to the
/// nearest whole voxel ([`voxel_shift`]); returns the mask and the voxel
/// shift used, so the caller can say what was applied. A shift that rounds
/// to no voxel at all is an error: it would not perturb anything.
pub fn translate_mm(mask: &Volume, shift_mm: [f64; 3]) -> Result<(Volume, [i64; 3])> {
    if shift_mm.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(format!("a shift of {shift_mm:?} mm is not finite"), None));
    }
    let shift = voxel_shift(mask, shift_mm);
    if shift == [0; 3] {
        return Err(Error::invalid(
            format!("a shift of {shift_mm:?} mm rounds to no whole voxel on a grid of {:?} mm", mask.spacing),
            Some("shift by at least half a voxel along some axis"),
        ));
    }
    Ok((translate_voxels(mask, shift)?, shift))
}

/// One perturbation of a contour, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaskPerturbation {
    /// Grown by this margin ([`expand_mm`]).
    Dilate(f64),
    /// Shrunk by this margin ([`shrink_mm`]).
    Erode(f64),
    /// Moved by this LPS offset, rounded to whole voxels ([`translate_mm`]).
    Shift([f64; 3]),
}

/// How a perturbation changed one mask, counted in voxels > 0.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaskChange {
    /// Voxels in the original mask.
    pub before: usize,
    /// Voxels in the perturbed mask.
    pub after: usize,
    /// Voxels in the perturbed mask and not in the original.
    pub gained: usize,
    /// Voxels in the original mask and not in the perturbed one.
    pub lost: usize,
    /// The whole-voxel shift a [`MaskPerturbation::Shift`] rounded to.
    pub voxel_shift: Option<[i64; 3]>,
}

impl MaskPerturbation {
    /// The perturbed mask, on the mask's own grid, and how it changed. A
    /// perturbation that changes nothing is an error: distances are taken
    /// between voxel centres, so growing or shrinking by less than the
    /// smallest spacing is a no-op, and a study comparing a mask with itself
    /// would find every feature perfectly reproducible.
    pub fn apply(&self, mask: &Volume) -> Result<(Volume, MaskChange)> {
        let (out, voxel_shift) = match *self {
            MaskPerturbation::Dilate(mm) => (expand_mm(mask, mm)?, None),
            MaskPerturbation::Erode(mm) => (shrink_mm(mask, mm)?, None),
            MaskPerturbation::Shift(mm) => {
                let (out, shift) = translate_mm(mask, mm)?;
                (out, Some(shift))
            }
        };
        let pairs = || mask.data.iter().zip(&out.data).map(|(&a, &b)| (a > 0.5, b > 0.5));
        let change = MaskChange {
            before: pairs().filter(|p| p.0).count(),
            after: pairs().filter(|p| p.1).count(),
            gained: pairs().filter(|&(a, b)| b && !a).count(),
            lost: pairs().filter(|&(a, b)| a && !b).count(),
            voxel_shift,
        };
        if change.gained == 0 && change.lost == 0 {
            let finest = mask.spacing.iter().copied().fold(f64::INFINITY, f64::min);
            return Err(Error::invalid(
                format!("{self} leaves the mask unchanged on its grid of {:?} mm", mask.spacing),
                Some(&format!("voxel centres are {finest} mm apart or more: perturb by at least that")),
            ));
        }
        Ok((out, change))
    }
}

/// The command-line form: `dilate:MM`, `erode:MM` or `shift:X,Y,Z`.
impl std::fmt::Display for MaskPerturbation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskPerturbation::Dilate(mm) => write!(f, "dilate:{mm}"),
            MaskPerturbation::Erode(mm) => write!(f, "erode:{mm}"),
            MaskPerturbation::Shift([x, y, z]) => write!(f, "shift:{x},{y},{z}"),
        }
    }
}

/// Where a fixed-shape crop came from, so predictions can be mapped back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CropTransform {
    /// Physical (LPS) centre of the first output voxel.
    pub origin: [f64; 3],
    /// Output spacing in mm.
    pub spacing: [f64; 3],
    pub shape: [usize; 3],
}

/// Crops `volume` to the box spanned by the mask's bounding box (mask and
/// volume may be on different grids; both must have identity directions) and
/// resamples that region linearly to `shape` (x, y, z). Returns the crop and
/// the transform that places it.
/// How the network's dose input is cut from the dose grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum CropMode {
    /// The mask's bounding box resampled to the input size ([`crop_to_mask`]).
    #[default]
    Box,
    /// A window of the input size at the volume's own spacing, centred on
    /// the mask's bounding box ([`window_around_mask`]).
    Window,
}

impl CropMode {
    pub fn parse(text: &str) -> Option<CropMode> {
        match text {
            "box" => Some(CropMode::Box),
            "window" => Some(CropMode::Window),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CropMode::Box => "box",
            CropMode::Window => "window",
        }
    }
}

/// A `shape` window of `volume` at its own spacing, on its own voxel grid
/// (no interpolation), centred on the voxel nearest the centre of `mask`'s
/// bounding box; voxels outside the volume are 0. `mask` must share the
/// volume's grid.
pub fn window_around_mask(volume: &Volume, mask: &Volume, shape: [usize; 3]) -> Result<Volume> {
    if shape.contains(&0) {
        return Err(Error::invalid("the window must be positive along every axis", None));
    }
    if volume.size != mask.size
        || (0..3).any(|a| {
            (volume.spacing[a] - mask.spacing[a]).abs() > 1e-6 || (volume.origin[a] - mask.origin[a]).abs() > 1e-4
        })
    {
        return Err(Error::invalid(
            "a window at native spacing needs the dose on the mask's grid",
            Some("preprocess the cohort: it puts the dose on the MR grid"),
        ));
    }
    let (lo, hi) = mask
        .bounding_box()
        .ok_or_else(|| Error::invalid("the mask is empty, so there is nothing to centre on", None))?;
    // First voxel of the window along each axis (may lie outside the volume).
    let start: [i64; 3] = [0, 1, 2].map(|a| {
        let centre = (lo[a] + hi[a]) as f64 / 2.0;
        centre.round() as i64 - (shape[a] / 2) as i64
    });
    let origin: [f64; 3] = [0, 1, 2].map(|a| volume.origin[a] + start[a] as f64 * volume.spacing[a]);
    let mut out = Volume::zeros(shape, volume.spacing, origin);
    out.direction = volume.direction;
    for k in 0..shape[2] {
        for j in 0..shape[1] {
            for i in 0..shape[0] {
                let src = [i as i64 + start[0], j as i64 + start[1], k as i64 + start[2]];
                if (0..3).all(|a| src[a] >= 0 && (src[a] as usize) < volume.size[a]) {
                    let from = volume.index(src[0] as usize, src[1] as usize, src[2] as usize);
                    let to = out.index(i, j, k);
                    out.data[to] = volume.data[from];
                }
            }
        }
    }
    Ok(out)
}

pub fn crop_to_mask(volume: &Volume, mask: &Volume, shape: [usize; 3]) -> Result<(Volume, CropTransform)> {
    let identity = crate::core::volume::IDENTITY;
    let close = |d: &[f64; 9]| d.iter().zip(identity).all(|(a, b)| (a - b).abs() < 1e-6);
    if !close(&volume.direction) || !close(&mask.direction) {
        return Err(Error::invalid(
            "crop_to_mask needs images with identity direction cosines",
            Some("resample onto an axis-aligned grid first"),
        ));
    }
    if shape.contains(&0) {
        return Err(Error::invalid("the crop shape must be positive along every axis", None));
    }
    let (lo, hi) =
        mask.bounding_box().ok_or_else(|| Error::invalid("the mask is empty, so there is nothing to crop to", None))?;
    // Physical extent of the box, from voxel edge to voxel edge.
    let start: [f64; 3] = [0, 1, 2].map(|a| mask.origin[a] + (lo[a] as f64 - 0.5) * mask.spacing[a]);
    let end: [f64; 3] = [0, 1, 2].map(|a| mask.origin[a] + (hi[a] as f64 + 0.5) * mask.spacing[a]);
    let spacing: [f64; 3] = [0, 1, 2].map(|a| (end[a] - start[a]) / shape[a] as f64);
    let origin: [f64; 3] = [0, 1, 2].map(|a| start[a] + 0.5 * spacing[a]);
    let grid = Grid { size: shape, spacing, origin, direction: crate::core::volume::IDENTITY };
    let out = resample(volume, &grid, Interpolator::Linear, 0.0);
    Ok((out, CropTransform { origin, spacing, shape }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sphere(size: [usize; 3], spacing: [f64; 3], radius: f64) -> Volume {
        let origin = [0, 1, 2].map(|a| -((size[a] - 1) as f64) * spacing[a] / 2.0);
        let mut v = Volume::zeros(size, spacing, origin);
        for k in 0..size[2] {
            for j in 0..size[1] {
                for i in 0..size[0] {
                    let p = v.position(i, j, k);
                    if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() <= radius {
                        let at = v.index(i, j, k);
                        v.data[at] = 1.0;
                    }
                }
            }
        }
        v
    }

    #[test]
    fn distance_transform_is_exact_on_a_line() {
        let d = squared_distance([5, 1, 1], [2.0, 1.0, 1.0], &[false, false, true, false, false]);
        assert_eq!(d, vec![16.0, 4.0, 0.0, 4.0, 16.0]);
    }

    #[test]
    fn margin_is_in_millimetres_on_anisotropic_grids() {
        // A 10 mm sphere on a 1 × 1 × 3 mm grid grown by 3 mm: a voxel is in
        // the PTV exactly when its centre is within 3 mm of an rGTV voxel
        // centre (checked by brute force), and never beyond the 13 mm sphere.
        let spacing = [1.0, 1.0, 3.0];
        let gtv = sphere([41, 41, 15], spacing, 10.0);
        let ptv = expand_mm(&gtv, 3.0).unwrap();
        let centres: Vec<[f64; 3]> = (0..gtv.len())
            .filter(|&at| gtv.data[at] > 0.5)
            .map(|at| gtv.position(at % 41, (at / 41) % 41, at / (41 * 41)))
            .collect();
        for k in 0..15 {
            for j in 0..41 {
                for i in 0..41 {
                    let p = ptv.position(i, j, k);
                    let near = centres.iter().any(|c| (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>() <= 9.0 + 1e-9);
                    assert_eq!(ptv.data[ptv.index(i, j, k)] > 0.5, near, "voxel ({i}, {j}, {k})");
                    if near {
                        assert!((p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() <= 13.0 + 1e-9);
                    }
                }
            }
        }
        // Along x (1 mm voxels) the extent is exactly 2 × 13 + 1 voxels.
        let row = (0..41).filter(|&i| ptv.data[ptv.index(i, 20, 7)] > 0.5).count();
        assert_eq!(row, 27);
        // Along z (3 mm voxels) 3 mm is exactly one slice more on each side.
        let gtv_z = (0..15).filter(|&k| gtv.data[gtv.index(20, 20, k)] > 0.5).count();
        let ptv_z = (0..15).filter(|&k| ptv.data[ptv.index(20, 20, k)] > 0.5).count();
        assert_eq!(ptv_z, gtv_z + 2);
    }

    #[test]
    fn empty_mask_is_an_error() {
        let v = Volume::zeros([3, 3, 3], [1.0; 3], [0.0; 3]);
        assert!(expand_mm(&v, 3.0).unwrap_err().to_string().contains("the mask is empty"));
        assert!(crop_to_mask(&v, &v, [2, 2, 2]).is_err());
    }

    /// A mask on a `size` grid with the voxels where `inside` holds.
    fn mask_where(size: [usize; 3], spacing: [f64; 3], inside: impl Fn([usize; 3]) -> bool) -> Volume {
        let mut v = Volume::zeros(size, spacing, [0.0; 3]);
        for k in 0..size[2] {
            for j in 0..size[1] {
                for i in 0..size[0] {
                    let at = v.index(i, j, k);
                    v.data[at] = if inside([i, j, k]) { 1.0 } else { 0.0 };
                }
            }
        }
        v
    }

    /// Voxels (i, j, k) of the mask's foreground.
    fn voxels(v: &Volume) -> Vec<[usize; 3]> {
        let [nx, ny, _] = v.size;
        (0..v.len()).filter(|&at| v.data[at] > 0.5).map(|at| [at % nx, (at / nx) % ny, at / (nx * ny)]).collect()
    }

    fn cube(size: [usize; 3], spacing: [f64; 3], lo: usize, hi: usize) -> Volume {
        mask_where(size, spacing, |p| p.iter().all(|&c| (lo..=hi).contains(&c)))
    }

    fn centroid_mm(v: &Volume) -> [f64; 3] {
        let vs = voxels(v);
        let n = vs.len() as f64;
        [0, 1, 2].map(|a| vs.iter().map(|p| v.position(p[0], p[1], p[2])[a]).sum::<f64>() / n)
    }

    #[test]
    fn a_cube_dilated_by_one_spacing_gains_exactly_its_face_neighbours() {
        // 3 × 3 × 3 voxels of 2 mm grown by 2 mm: the six faces' 9 voxels
        // each, and no edge or corner neighbour (2√2 mm and 2√3 mm away).
        let gtv = cube([9, 9, 9], [2.0; 3], 3, 5);
        let grown = expand_mm(&gtv, 2.0).unwrap();
        let gained: Vec<[usize; 3]> =
            voxels(&grown).into_iter().filter(|p| gtv.data[gtv.index(p[0], p[1], p[2])] == 0.0).collect();
        assert_eq!(gained.len(), 6 * 9);
        for p in &gained {
            let outside: Vec<usize> = (0..3).filter(|&a| !(3..=5).contains(&p[a])).collect();
            assert_eq!(outside.len(), 1, "{p:?} is not a face neighbour");
            assert!(p[outside[0]] == 2 || p[outside[0]] == 6, "{p:?}");
        }
        // On a 1 × 1 × 3 mm grid, 1 mm reaches the x and y faces only.
        let flat = cube([9, 9, 9], [1.0, 1.0, 3.0], 3, 5);
        let grown = expand_mm(&flat, 1.0).unwrap();
        assert_eq!(voxels(&grown).len(), 27 + 4 * 9);
    }

    #[test]
    fn eroding_a_five_cube_by_one_voxel_leaves_its_three_cube() {
        let gtv = cube([9, 9, 9], [1.0; 3], 2, 6);
        let shrunk = shrink_mm(&gtv, 1.0).unwrap();
        assert_eq!(shrunk, cube([9, 9, 9], [1.0; 3], 3, 5));
        // Anisotropic: 1 mm on a 1 × 1 × 3 mm grid peels x and y, not z.
        let flat = cube([9, 9, 9], [1.0, 1.0, 3.0], 2, 6);
        let shrunk = shrink_mm(&flat, 1.0).unwrap();
        assert_eq!(
            shrunk,
            mask_where([9, 9, 9], [1.0, 1.0, 3.0], |[i, j, k]| {
                (3..=5).contains(&i) && (3..=5).contains(&j) && (2..=6).contains(&k)
            })
        );
    }

    #[test]
    fn erosion_is_the_complement_of_the_complement_dilated() {
        let spacing = [1.0, 1.0, 3.0];
        let gtv = sphere([31, 31, 11], spacing, 9.0);
        let complement = binary_like(&gtv, gtv.data.iter().map(|&v| v <= 0.5));
        for mm in [1.0, 2.5, 3.0, 4.2] {
            let grown = expand_mm(&complement, mm).unwrap();
            let dual = binary_like(&gtv, grown.data.iter().map(|&v| v <= 0.5));
            assert_eq!(shrink_mm(&gtv, mm).unwrap(), dual, "{mm} mm");
        }
    }

    #[test]
    fn an_erosion_that_empties_the_mask_names_the_amount() {
        let gtv = cube([9, 9, 9], [1.0; 3], 2, 6);
        let e = shrink_mm(&gtv, 3.0).unwrap_err().to_string();
        assert!(e.contains("an erosion of 3 mm empties the mask") && e.contains("3.000 mm from the edge"), "{e}");
        assert!(shrink_mm(&gtv, 2.9).is_ok());
        let empty = Volume::zeros([3, 3, 3], [1.0; 3], [0.0; 3]);
        assert!(shrink_mm(&empty, 1.0).unwrap_err().to_string().contains("nothing to shrink"));
        assert!(shrink_mm(&gtv, -1.0).unwrap_err().to_string().contains("outside 0–100 mm"));
    }

    #[test]
    fn a_mask_filling_the_grid_is_not_eroded_from_the_edge() {
        let full = cube([4, 4, 4], [1.0; 3], 0, 3);
        assert_eq!(shrink_mm(&full, 1.0).unwrap(), full);
    }

    #[test]
    fn translation_moves_the_centroid_by_the_shift() {
        let spacing = [1.0, 2.0, 3.0];
        let gtv = mask_where([12, 12, 12], spacing, |[i, j, k]| (3..7).contains(&i) && (4..6).contains(&j) && k == 5);
        let moved = translate_voxels(&gtv, [2, -1, 3]).unwrap();
        assert_eq!(voxels(&moved).len(), voxels(&gtv).len());
        let (a, b) = (centroid_mm(&gtv), centroid_mm(&moved));
        for (axis, want) in [2.0, -2.0, 9.0].into_iter().enumerate() {
            assert!((b[axis] - a[axis] - want).abs() < 1e-9, "axis {axis}: {a:?} → {b:?}");
        }
        // Millimetres round to the nearest voxel of each axis.
        let (by_mm, shift) = translate_mm(&gtv, [1.4, 3.1, -4.4]).unwrap();
        assert_eq!(shift, [1, 2, -1]);
        assert_eq!(by_mm, translate_voxels(&gtv, [1, 2, -1]).unwrap());
    }

    #[test]
    fn a_millimetre_shift_follows_the_grid_axes() {
        // x runs towards R (−L) on this grid, so +2 mm in L is −2 voxels.
        let mut gtv = cube([8, 8, 8], [1.0; 3], 3, 4);
        gtv.direction = [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let (moved, shift) = translate_mm(&gtv, [2.0, 0.0, 0.0]).unwrap();
        assert_eq!(shift, [-2, 0, 0]);
        let (a, b) = (centroid_mm(&gtv), centroid_mm(&moved));
        assert!((b[0] - a[0] - 2.0).abs() < 1e-9, "{a:?} → {b:?}");
    }

    #[test]
    fn voxels_shifted_off_the_grid_are_lost() {
        let gtv = cube([6, 6, 6], [1.0; 3], 1, 3);
        let moved = translate_voxels(&gtv, [4, 0, 0]).unwrap();
        assert_eq!(voxels(&moved).len(), 9, "only the x = 3 slab lands inside");
        let e = translate_voxels(&gtv, [0, 0, -4]).unwrap_err().to_string();
        assert!(e.contains("moves the whole mask off"), "{e}");
        let e = translate_mm(&gtv, [0.4, -0.2, 0.0]).unwrap_err().to_string();
        assert!(e.contains("rounds to no whole voxel"), "{e}");
    }

    #[test]
    fn a_perturbation_counts_what_the_mask_gained_and_lost() {
        let gtv = cube([9, 9, 9], [1.0; 3], 2, 6);
        let (_, change) = MaskPerturbation::Erode(1.0).apply(&gtv).unwrap();
        assert_eq!(change, MaskChange { before: 125, after: 27, gained: 0, lost: 98, voxel_shift: None });
        let (_, change) = MaskPerturbation::Shift([1.0, 0.0, 0.0]).apply(&gtv).unwrap();
        assert_eq!(change, MaskChange { before: 125, after: 125, gained: 25, lost: 25, voxel_shift: Some([1, 0, 0]) });
        let (_, change) = MaskPerturbation::Dilate(1.0).apply(&gtv).unwrap();
        assert_eq!((change.gained, change.lost), (6 * 25, 0));
        // Less than a voxel spacing moves no voxel centre: an error, not a
        // perturbation that reproduces the original exactly.
        let coarse = cube([9, 9, 9], [2.0, 2.0, 2.5], 2, 6);
        let e = MaskPerturbation::Erode(1.0).apply(&coarse).unwrap_err().to_string();
        assert!(e.contains("erode:1 leaves the mask unchanged on its grid of [2.0, 2.0, 2.5] mm"), "{e}");
        assert!(MaskPerturbation::Erode(2.0).apply(&coarse).is_ok());
        assert_eq!(MaskPerturbation::Shift([1.5, 0.0, -2.0]).to_string(), "shift:1.5,0,-2");
        assert_eq!(MaskPerturbation::Erode(1.0).to_string(), "erode:1");
    }

    #[test]
    fn crop_and_resize_preserves_a_linear_ramp() {
        // A ramp f = x in mm is reproduced exactly by linear resampling.
        let mut v = Volume::zeros([20, 10, 6], [1.0, 2.0, 3.0], [-10.0, -5.0, 0.0]);
        for k in 0..6 {
            for j in 0..10 {
                for i in 0..20 {
                    let p = v.position(i, j, k);
                    let at = v.index(i, j, k);
                    v.data[at] = p[0] as f32;
                }
            }
        }
        let mut mask = v.clone();
        mask.data.iter_mut().for_each(|x| *x = 0.0);
        for (i, j, k) in [(5, 3, 2), (12, 6, 3)] {
            let at = mask.index(i, j, k);
            mask.data[at] = 1.0;
        }
        let (crop, t) = crop_to_mask(&v, &mask, [8, 4, 2]).unwrap();
        assert_eq!(t.shape, [8, 4, 2]);
        assert!((t.spacing[0] - 1.0).abs() < 1e-12, "{:?}", t.spacing);
        for i in 0..8 {
            let p = crop.position(i, 0, 0);
            let x = p[0].clamp(v.origin[0], v.origin[0] + 19.0);
            assert!((f64::from(crop.data[crop.index(i, 0, 0)]) - x).abs() < 1e-5);
        }
    }

    #[test]
    fn a_window_is_centred_on_the_mask_at_native_spacing_without_interpolation() {
        let mut dose = Volume::zeros([20, 16, 12], [2.0, 2.0, 2.5], [-10.0, 5.0, 0.0]);
        for (n, v) in dose.data.iter_mut().enumerate() {
            *v = n as f32;
        }
        let mut mask = Volume::zeros([20, 16, 12], [2.0, 2.0, 2.5], [-10.0, 5.0, 0.0]);
        for (i, j, k) in [(6, 4, 3), (10, 8, 5)] {
            let at = mask.index(i, j, k);
            mask.data[at] = 1.0;
        }
        // Box centre (8, 6, 4); a 5×4×3 window starts at (6, 4, 3).
        let w = window_around_mask(&dose, &mask, [5, 4, 3]).unwrap();
        assert_eq!(w.spacing, dose.spacing);
        assert_eq!(w.data[w.index(0, 0, 0)], dose.data[dose.index(6, 4, 3)]);
        assert_eq!(w.data[w.index(4, 3, 2)], dose.data[dose.index(10, 7, 5)]);
        assert_eq!(w.position(0, 0, 0), dose.position(6, 4, 3));
        // A window larger than the volume is padded with zeros.
        let big = window_around_mask(&dose, &mask, [40, 4, 3]).unwrap();
        assert_eq!(big.data[big.index(0, 0, 0)], 0.0);
        assert_eq!(
            big.data.iter().filter(|v| **v != 0.0).count(),
            20 * 4 * 3,
            "the volume's 20 columns copied, the rest 0"
        );
        let other = Volume::zeros([20, 16, 12], [1.0, 1.0, 1.0], [0.0; 3]);
        assert!(window_around_mask(&dose, &other, [5, 4, 3]).is_err());
        assert_eq!(CropMode::parse("window"), Some(CropMode::Window));
        assert_eq!(CropMode::default().as_str(), "box");
    }
}
