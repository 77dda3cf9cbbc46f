//! Resampling a volume onto another grid with SimpleITK's conventions
//! (continuous indices through the direction cosines, points beyond half a
//! voxel outside the image take the default value, linear interpolation
//! clamps its neighbours at the edge, nearest neighbour rounds halves up),
//! and PyRadiomics' grid for `resampledPixelSpacing` around a mask.

use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// How values between voxel centres are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolator {
    /// For masks: the value of the nearest voxel.
    Nearest,
    /// Trilinear.
    Linear,
    /// Cubic B-spline (ITK's `BSplineInterpolateImageFunction`, order 3,
    /// mirror boundaries), as `sitkBSpline`.
    BSpline,
}

/// A target grid: size, spacing, origin, direction (row-major).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub size: [usize; 3],
    pub spacing: [f64; 3],
    pub origin: [f64; 3],
    pub direction: [f64; 9],
}

impl Grid {
    pub fn of(v: &Volume) -> Grid {
        Grid { size: v.size, spacing: v.spacing, origin: v.origin, direction: v.direction }
    }

    /// Physical point of a (continuous) index.
    pub fn point(&self, idx: [f64; 3]) -> [f64; 3] {
        let s = [0, 1, 2].map(|a| idx[a] * self.spacing[a]);
        [0, 1, 2].map(|r| self.origin[r] + (0..3).map(|c| self.direction[r * 3 + c] * s[c]).sum::<f64>())
    }

    /// The same physical extent at a new spacing: the first voxel's outer
    /// corner stays where it was, the size is the extent over the spacing
    /// (rounded, at least 1).
    pub fn with_spacing(&self, spacing: [f64; 3]) -> Grid {
        let size = [0, 1, 2].map(|a| ((self.size[a] as f64 * self.spacing[a] / spacing[a]).round() as usize).max(1));
        let centre = [0, 1, 2].map(|a| 0.5 * (spacing[a] / self.spacing[a] - 1.0));
        Grid { size, spacing, origin: self.point(centre), direction: self.direction }
    }

    /// Whether two grids are the same to within 1e-4 mm.
    pub fn same_as(&self, other: &Grid) -> bool {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
        self.size == other.size
            && close(&self.spacing, &other.spacing)
            && close(&self.origin, &other.origin)
            && close(&self.direction, &other.direction)
    }

    /// Continuous index of a physical point (directions are orthonormal).
    pub fn index_of(&self, p: [f64; 3]) -> [f64; 3] {
        let d = [0, 1, 2].map(|r| p[r] - self.origin[r]);
        [0, 1, 2].map(|c| (0..3).map(|r| self.direction[r * 3 + c] * d[r]).sum::<f64>() / self.spacing[c])
    }
}

/// How interpolated values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// Keep the value (as f32).
    Float,
    /// As ITK does for an int16 output: clamp to the int16 range, then
    /// truncate toward zero (computed in f64, before any rounding to f32).
    TruncateInt16,
}

/// Resamples `input` onto `grid`; points outside the input get `default`.
pub fn resample(input: &Volume, grid: &Grid, interpolator: Interpolator, default: f32) -> Volume {
    resample_cast(input, grid, interpolator, default, Cast::Float)
}

/// [`resample`] with a choice of how values are stored.
pub fn resample_cast(input: &Volume, grid: &Grid, interpolator: Interpolator, default: f32, cast: Cast) -> Volume {
    let source = Grid::of(input);
    let coefficients = (interpolator == Interpolator::BSpline).then(|| bspline_coefficients(input));
    let mut out = Volume {
        size: grid.size,
        spacing: grid.spacing,
        origin: grid.origin,
        direction: grid.direction,
        data: vec![default; grid.size.iter().product()],
    };
    for k in 0..grid.size[2] {
        for j in 0..grid.size[1] {
            for i in 0..grid.size[0] {
                let c = source.index_of(grid.point([i as f64, j as f64, k as f64]));
                // ITK's buffer test: inside when start − 0.5 ≤ c < size − 0.5.
                if (0..3).any(|a| c[a] < -0.5 || c[a] >= input.size[a] as f64 - 0.5) {
                    continue;
                }
                let at = out.index(i, j, k);
                let value = match interpolator {
                    Interpolator::Nearest => {
                        let idx = [0, 1, 2].map(|a| ((c[a] + 0.5).floor().max(0.0) as usize).min(input.size[a] - 1));
                        f64::from(input.data[input.index(idx[0], idx[1], idx[2])])
                    }
                    Interpolator::Linear => linear(input, c),
                    Interpolator::BSpline => bspline(coefficients.as_deref().unwrap_or(&[]), input.size, c),
                };
                out.data[at] = match cast {
                    Cast::Float => value as f32,
                    Cast::TruncateInt16 => value.clamp(-32768.0, 32767.0).trunc() as f32,
                };
            }
        }
    }
    out
}

fn linear(v: &Volume, c: [f64; 3]) -> f64 {
    let mut base = [0isize; 3];
    let mut frac = [0.0; 3];
    for a in 0..3 {
        let f = c[a].floor();
        base[a] = f as isize;
        frac[a] = c[a] - f;
    }
    let mut acc = 0.0;
    for corner in 0..8 {
        let mut w = 1.0;
        let mut idx = [0usize; 3];
        for a in 0..3 {
            let up = (corner >> a) & 1 == 1;
            w *= if up { frac[a] } else { 1.0 - frac[a] };
            let n = base[a] + isize::from(up);
            idx[a] = n.clamp(0, v.size[a] as isize - 1) as usize;
        }
        if w != 0.0 {
            acc += w * f64::from(v.data[v.index(idx[0], idx[1], idx[2])]);
        }
    }
    acc
}

/// The cubic spline's pole.
const POLE: f64 = -0.267_949_192_431_122_7; // √3 − 2

/// B-spline coefficients of a volume: ITK's `BSplineDecompositionImageFilter`
/// (recursive prefilter along each axis, mirror boundaries, tolerance 1e-10).
pub fn bspline_coefficients(v: &Volume) -> Vec<f64> {
    let mut c: Vec<f64> = v.data.iter().map(|&x| f64::from(x)).collect();
    let [nx, ny, nz] = v.size;
    // x: lines are contiguous.
    if nx > 1 {
        for line in c.chunks_exact_mut(nx) {
            prefilter(line);
        }
    }
    // y and z: filter all lines of a block at once, element by element
    // across the contiguous lanes (the same arithmetic per line, cache-friendly).
    if ny > 1 {
        for plane in c.chunks_exact_mut(nx * ny) {
            prefilter_lanes(plane, ny, nx);
        }
    }
    if nz > 1 {
        prefilter_lanes(&mut c, nz, nx * ny);
    }
    c
}

/// [`prefilter`] applied to `lanes` interleaved lines of length `n`
/// (element i of lane l at `i * lanes + l`).
fn prefilter_lanes(s: &mut [f64], n: usize, lanes: usize) {
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    s.iter_mut().for_each(|v| *v *= gain);
    let horizon = (1e-10f64.ln() / z.abs().ln()).ceil() as usize;
    let (head, _) = s.split_at_mut(lanes);
    let mut first: Vec<f64> = head.to_vec();
    if horizon < n {
        let mut zn = z;
        for i in 1..horizon {
            let row = &s[i * lanes..(i + 1) * lanes];
            for (f, v) in first.iter_mut().zip(row) {
                *f += zn * v;
            }
            zn *= z;
        }
    } else {
        let iz = 1.0 / z;
        let mut zn = z;
        let mut z2n = z.powi(n as i32 - 1);
        let last = &s[(n - 1) * lanes..n * lanes];
        for (f, v) in first.iter_mut().zip(last) {
            *f += z2n * v;
        }
        z2n *= z2n * iz;
        for i in 1..n - 1 {
            let row = &s[i * lanes..(i + 1) * lanes];
            for (f, v) in first.iter_mut().zip(row) {
                *f += (zn + z2n) * v;
            }
            zn *= z;
            z2n *= iz;
        }
        first.iter_mut().for_each(|f| *f /= 1.0 - zn * zn);
    }
    s[..lanes].copy_from_slice(&first);
    for i in 1..n {
        let (prev, cur) = s[(i - 1) * lanes..(i + 1) * lanes].split_at_mut(lanes);
        for (c, p) in cur.iter_mut().zip(prev.iter()) {
            *c += z * p;
        }
    }
    let k = z / (z * z - 1.0);
    {
        let (prev, last) = s[(n - 2) * lanes..n * lanes].split_at_mut(lanes);
        for (l, p) in last.iter_mut().zip(prev.iter()) {
            *l = k * (z * p + *l);
        }
    }
    for i in (0..n - 1).rev() {
        let (cur, next) = s[i * lanes..(i + 2) * lanes].split_at_mut(lanes);
        for (c, nx) in cur.iter_mut().zip(next.iter()) {
            *c = z * (nx - *c);
        }
    }
}

fn prefilter(s: &mut [f64]) {
    let n = s.len();
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    s.iter_mut().for_each(|v| *v *= gain);
    // Initial causal coefficient (ITK's SetInitialCausalCoefficient).
    let horizon = (1e-10f64.ln() / z.abs().ln()).ceil() as usize;
    let mut zn = z;
    if horizon < n {
        let mut sum = s[0];
        for v in s.iter().take(horizon).skip(1) {
            sum += zn * v;
            zn *= z;
        }
        s[0] = sum;
    } else {
        let iz = 1.0 / z;
        let mut z2n = z.powi(n as i32 - 1);
        let mut sum = s[0] + z2n * s[n - 1];
        z2n *= z2n * iz;
        for v in s.iter().take(n - 1).skip(1) {
            sum += (zn + z2n) * v;
            zn *= z;
            z2n *= iz;
        }
        s[0] = sum / (1.0 - zn * zn);
    }
    for i in 1..n {
        s[i] += z * s[i - 1];
    }
    // Initial anti-causal coefficient.
    s[n - 1] = (z / (z * z - 1.0)) * (z * s[n - 2] + s[n - 1]);
    for i in (0..n - 1).rev() {
        s[i] = z * (s[i + 1] - s[i]);
    }
}

/// Mirror an index into [0, len) as ITK's `ApplyMirrorBoundaryConditions`.
fn mirror(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let mut j = if i < 0 { -i - period * ((-i) / period) } else { i - period * (i / period) };
    if j >= len as isize {
        j = period - j;
    }
    j as usize
}

fn bspline(coefficients: &[f64], size: [usize; 3], c: [f64; 3]) -> f64 {
    let mut index = [[0usize; 4]; 3];
    let mut weights = [[0.0f64; 4]; 3];
    for a in 0..3 {
        let first = c[a].floor() as isize - 1;
        for (k, slot) in index[a].iter_mut().enumerate() {
            *slot = mirror(first + k as isize, size[a]);
        }
        let w = c[a] - (first + 1) as f64;
        let w3 = w * w * w / 6.0;
        let w0 = 1.0 / 6.0 + 0.5 * w * (w - 1.0) - w3;
        let w2 = w + w0 - 2.0 * w3;
        weights[a] = [w0, 1.0 - w0 - w2 - w3, w2, w3];
    }
    let mut acc = 0.0;
    for (kz, wz) in index[2].iter().zip(weights[2]) {
        for (ky, wy) in index[1].iter().zip(weights[1]) {
            let row = (kz * size[1] + ky) * size[0];
            let wzy = wz * wy;
            for (kx, wx) in index[0].iter().zip(weights[0]) {
                acc += wzy * wx * coefficients[row + kx];
            }
        }
    }
    acc
}

/// PyRadiomics' `resampleImage` grid: the mask's bounding box (label > 0.5)
/// in the new spacing, padded by `pad` voxels and clipped to the image.
pub fn pyradiomics_grid(mask: &Volume, spacing: [f64; 3], pad: f64) -> Result<Grid> {
    let (lo, hi) = mask.bounding_box().ok_or_else(|| Error::invalid("the mask is empty", None))?;
    let ratio = [0, 1, 2].map(|a| mask.spacing[a] / spacing[a]);
    let mut new_lo = [0.0; 3];
    let mut size = [0usize; 3];
    for a in 0..3 {
        let bb_size = (hi[a] - lo[a] + 1) as f64;
        let lower = ((lo[a] as f64 - 0.5) * ratio[a] - pad).floor().max(0.0);
        let max_upper = (mask.size[a] as f64 * ratio[a]).ceil() - 1.0;
        let upper = ((lo[a] as f64 + bb_size - 0.5) * ratio[a] + pad).ceil().min(max_upper);
        new_lo[a] = lower;
        size[a] = (upper - lower + 1.0) as usize;
    }
    let origin_index = [0, 1, 2].map(|a| 0.5 * (spacing[a] - mask.spacing[a]) / mask.spacing[a] + new_lo[a] / ratio[a]);
    let origin = Grid::of(mask).point(origin_index);
    Ok(Grid { size, spacing, origin, direction: mask.direction })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_spacing_keeps_the_extent() {
        let g = Grid {
            size: [10, 4, 3],
            spacing: [1.0, 2.0, 3.0],
            origin: [0.0; 3],
            direction: crate::core::volume::IDENTITY,
        };
        let h = g.with_spacing([2.0, 1.0, 3.0]);
        assert_eq!(h.size, [5, 8, 3]);
        // Outer corners: −0.5 · spacing on both grids.
        assert_eq!(h.origin, [0.5, -0.5, 0.0]);
        assert!(g.same_as(&g.with_spacing(g.spacing)));
    }

    #[test]
    fn identity_resampling_is_exact() {
        let mut v = Volume::zeros([4, 3, 2], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]);
        v.direction = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0];
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = i as f32;
        }
        for interp in [Interpolator::Nearest, Interpolator::Linear] {
            assert_eq!(resample(&v, &Grid::of(&v), interp, -1.0).data, v.data);
        }
        // The cubic spline interpolates: at voxel centres it gives the data.
        let b = resample(&v, &Grid::of(&v), Interpolator::BSpline, -1.0);
        for (got, want) in b.data.iter().zip(&v.data) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }
}
