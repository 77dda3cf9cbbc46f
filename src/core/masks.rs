//! Masks in physical units: the exact Euclidean distance transform on an
//! anisotropic grid (Felzenszwalb & Huttenlocher's separable algorithm), the
//! PTV as the rGTV grown by a margin in millimetres, bounding boxes, and the
//! crop-and-resize that turns a dose grid into the CNN's fixed input.

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
    if !(0.0..=100.0).contains(&margin_mm) {
        return Err(Error::invalid(format!("a margin of {margin_mm} mm is outside 0–100 mm"), None));
    }
    let inside: Vec<bool> = mask.data.iter().map(|&x| x > 0.5).collect();
    if !inside.iter().any(|&b| b) {
        return Err(Error::invalid(
            "the mask is empty, so there is nothing to expand",
            Some("check the rGTV file and its label value"),
        ));
    }
    let d2 = squared_distance(mask.size, mask.spacing, &inside);
    let limit = margin_mm * margin_mm + 1e-9;
    let mut out = mask.clone();
    out.data = d2.iter().map(|&d| if d <= limit { 1.0 } else { 0.0 }).collect();
    Ok(out)
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
}
