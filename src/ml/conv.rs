//! The dose CNN's 3D convolution on the CPU, faster than burn Flex's own:
//! im2col in output tiles + GEMM (the `gemm` crate) for the forward pass,
//! the weight gradient (gy · colᵀ) and the input gradient (Wᵀ · gy, then
//! col2im), plugged into burn through a backend extension with its own
//! backward pass. Flex computes the weight gradient as a convolution whose
//! kernel is the whole output gradient and the input gradient as a
//! transposed convolution; both were the slowest part of a training step
//! (docs/performance.md). On other backends (wgpu, cuda) burn's own
//! convolution is used. Checked against burn's `conv3d` in tests.
//!
//! Limits: f32, groups 1, dilation 1, symmetric padding — what the network
//! uses. Work is split into a fixed set of (batch item, output tile) pieces
//! and partial weight gradients are summed in a fixed order, so results do
//! not depend on the thread count or scheduling.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Bytes, DType, Shape, Tensor};
use rayon::prelude::*;

/// Shapes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub n: usize,
    pub ci: usize,
    pub co: usize,
    pub input: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub output: [usize; 3],
}

impl Geometry {
    pub fn new(
        n: usize,
        ci: usize,
        co: usize,
        input: [usize; 3],
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> Geometry {
        let output = [0, 1, 2].map(|d| (input[d] + 2 * padding[d] - kernel[d]) / stride[d] + 1);
        Geometry { n, ci, co, input, kernel, stride, padding, output }
    }
    fn in_vol(&self) -> usize {
        self.input.iter().product()
    }
    fn out_vol(&self) -> usize {
        self.output.iter().product()
    }
    /// Rows of the im2col matrix: (input channel, kd, kh, kw).
    fn k(&self) -> usize {
        self.ci * self.kernel.iter().product::<usize>()
    }
    /// Output positions per tile: the column block stays in cache.
    fn tile(&self) -> usize {
        (131_072 / self.k().max(1)).clamp(64, 8192).min(self.out_vol().max(1))
    }
}

/// The instruction set the convolution's own kernels (the small products,
/// col2im's sums) run with, chosen once at run time: the widest the CPU has,
/// or a lower one asked for with `RADOSE_SIMD=avx2|portable` (to compare, or
/// to rule a path out). Within one path a seed gives bit-identical training.
/// AVX2 and AVX-512 compute every output element by the same sequence of
/// fused multiply-adds, so they agree exactly; the portable path rounds each
/// product before adding (no FMA) and agrees to float precision. The large
/// products go through the `gemm` crate (its own AVX2/FMA kernels on every
/// x86 path), im2col's copies through the C library's memcpy/memset (chosen
/// per CPU by glibc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Plain Rust without FMA: any CPU.
    Portable,
    /// 256-bit AVX2 with FMA.
    Avx2,
    /// 512-bit AVX-512F (with AVX2 and FMA).
    Avx512,
}

impl Simd {
    pub const ALL: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    pub fn parse(text: &str) -> Option<Simd> {
        Simd::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(text.trim()))
    }

    /// The widest path this CPU runs.
    pub fn detected() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            if fma && std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if fma {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }

    /// The path this process uses: [`Simd::detected`], lowered by
    /// `RADOSE_SIMD` (never raised above what the CPU has). An unknown value
    /// is ignored and named by [`Simd::request_problem`].
    pub fn active() -> Simd {
        static ACTIVE: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(|| Simd::chosen(std::env::var("RADOSE_SIMD").ok().as_deref(), Simd::detected()))
    }

    /// The path for a request (`RADOSE_SIMD`'s value) on a CPU whose widest is `detected`.
    fn chosen(asked: Option<&str>, detected: Simd) -> Simd {
        asked.and_then(Simd::parse).map_or(detected, |a| a.min(detected))
    }

    /// What is wrong with `RADOSE_SIMD`, if anything: an unknown value, or a
    /// path this CPU does not have.
    pub fn request_problem() -> Option<String> {
        let value = std::env::var("RADOSE_SIMD").ok()?;
        match Simd::parse(&value) {
            None => Some(format!(
                "RADOSE_SIMD={value} is not one of portable, avx2, avx512; using {}",
                Simd::active().name()
            )),
            Some(asked) if asked > Simd::detected() => {
                Some(format!("RADOSE_SIMD={value}: this CPU has at most {}", Simd::detected().name()))
            }
            Some(_) => None,
        }
    }
}

/// A tile of whole output rows (zd, zh) of one batch item: output
/// positions `row0 * ow .. (row0 + rows) * ow`.
#[derive(Debug, Clone, Copy)]
struct Tile {
    row0: usize,
    rows: usize,
}

impl Tile {
    fn start(&self, g: &Geometry) -> usize {
        self.row0 * g.output[2]
    }
    fn len(&self, g: &Geometry) -> usize {
        self.rows * g.output[2]
    }
}

/// The valid output columns zw (as a range) for kernel column `f`: those
/// whose input column zw·s − p + f lies inside the image.
fn valid_columns(g: &Geometry, f: usize) -> (usize, usize) {
    let (s, p, iw, ow) = (g.stride[2] as isize, g.padding[2] as isize, g.input[2] as isize, g.output[2] as isize);
    let f = f as isize;
    // zw·s ≥ p − f  and  zw·s ≤ iw − 1 + p − f
    let lo = if p - f <= 0 { 0 } else { (p - f + s - 1) / s };
    let hi = if iw - 1 + p - f < 0 { -1 } else { ((iw - 1 + p - f) / s).min(ow - 1) };
    if hi < lo { (0, 0) } else { (lo as usize, hi as usize + 1) }
}

/// Columns per phase of an input row split by `w mod stride` (see [`phased`]).
fn phase_len(g: &Geometry) -> usize {
    g.input[2].div_ceil(g.stride[2])
}

/// One batch item's input with every row's columns regrouped by phase
/// (w mod s): [c, d, h, phase, w / s]. Along a row of output columns the
/// convolution then reads consecutive elements of one phase, so every
/// im2col run is a contiguous copy even with stride 2. Stride 1: the input.
fn phased<'a>(g: &Geometry, x: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
    let (s, iw, cw) = (g.stride[2], g.input[2], phase_len(g));
    let rows = g.ci * g.input[0] * g.input[1];
    if s == 1 {
        return std::borrow::Cow::Borrowed(x);
    }
    let mut out = vec![0f32; rows * s * cw];
    for (src, dst) in x.chunks_exact(iw).zip(out.chunks_exact_mut(s * cw)) {
        for (ph, part) in dst.chunks_exact_mut(cw).enumerate() {
            for (d, v) in part.iter_mut().zip(src[ph.min(iw)..].iter().step_by(s)) {
                *d = *v;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The inverse of [`phased`] (for the input gradient).
fn unphased(g: &Geometry, xp: Vec<f32>) -> Vec<f32> {
    let (s, iw, cw) = (g.stride[2], g.input[2], phase_len(g));
    if s == 1 {
        return xp;
    }
    let rows = g.ci * g.input[0] * g.input[1];
    let mut out = vec![0f32; rows * iw];
    for (src, dst) in xp.chunks_exact(s * cw).zip(out.chunks_exact_mut(iw)) {
        for (ph, part) in src.chunks_exact(cw).enumerate() {
            for (d, v) in dst[ph.min(iw)..].iter_mut().step_by(s).zip(part) {
                *d = *v;
            }
        }
    }
    out
}

/// Calls `block(col_offset, input_offset, rows, (lo, hi))` for the runs of
/// a tile's im2col matrix: `rows` output rows, the r-th at `col_offset +
/// r·ow`, whose output columns lo..hi are valid and read the phased input
/// consecutively from `input_offset + r·ow` on (None: the rows fall outside
/// the image). Within an output plane the rows whose input rows lie inside
/// the image form one block when consecutive output rows read input rows
/// `ow` apart — a stride-1 convolution whose output rows are as wide as its
/// input rows (the network's k3 s1 p1 ones) — and one block per row
/// otherwise. So im2col makes one copy per plane instead of one per row: at
/// the quick profile's size rows hold 24 values, and the per-row work cost
/// more than the copying.
fn for_each_block(g: &Geometry, tile: Tile, mut block: impl FnMut(usize, Option<usize>, usize, (usize, usize))) {
    let [id, ih, _] = g.input;
    let [kd, kh, kw] = g.kernel;
    let [_, oh, ow] = g.output;
    let (s, cw) = (g.stride[2], phase_len(g));
    let (s1, p1) = (g.stride[1], g.padding[1]);
    let row_len = s * cw;
    let len = tile.len(g);
    let merge = s1 * row_len == ow;
    // The tile's rows by output plane: (first row, rows, zd, first zh).
    let mut planes = Vec::new();
    let mut r = 0;
    while r < tile.rows {
        let out_row = tile.row0 + r;
        let (zd, zh) = (out_row / oh, out_row % oh);
        let n = (oh - zh).min(tile.rows - r);
        planes.push((r, n, zd, zh));
        r += n;
    }
    let mut row = 0;
    for c in 0..g.ci {
        for a in 0..kd {
            for e in 0..kh {
                // Output rows zh whose input row zh·s1 + e − p1 lies in 0..ih.
                let zh_lo = if p1 > e { (p1 - e).div_ceil(s1) } else { 0 };
                let zh_hi = if ih + p1 > e { (ih - 1 + p1 - e) / s1 + 1 } else { 0 };
                for f in 0..kw {
                    let cols = valid_columns(g, f);
                    // The first valid output column's input column, as (phase, index).
                    let w0 = (cols.0 * s + f).wrapping_sub(g.padding[2]);
                    let within = (w0 % s) * cw + w0 / s;
                    for &(r0, n, zd, zh0) in &planes {
                        let at0 = row * len + r0 * ow;
                        let d = (zd * g.stride[0] + a) as isize - g.padding[0] as isize;
                        if d < 0 || d as usize >= id || cols.1 <= cols.0 {
                            block(at0, None, n, cols);
                            continue;
                        }
                        let start = zh_lo.clamp(zh0, zh0 + n);
                        let end = zh_hi.clamp(start, zh0 + n);
                        if start > zh0 {
                            block(at0, None, start - zh0, cols);
                        }
                        let input = |zh: usize| ((c * id + d as usize) * ih + zh * s1 + e - p1) * row_len + within;
                        let at = at0 + (start - zh0) * ow;
                        if merge && end > start {
                            block(at, Some(input(start)), end - start, cols);
                        } else {
                            for zh in start..end {
                                block(at + (zh - start) * ow, Some(input(zh)), 1, cols);
                            }
                        }
                        if zh0 + n > end {
                            block(at0 + (end - zh0) * ow, None, zh0 + n - end, cols);
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Zeroes a few values (a run's padding columns: usually 0 or 1 of them)
/// without a call into memset.
#[inline(always)]
fn zero(values: &mut [f32]) {
    match values.len() {
        0 => {}
        1 => values[0] = 0.0,
        _ => values.fill(0.0),
    }
}

/// Zeroes the columns outside lo..hi of `rows` rows of `ow` values from `at`.
fn zero_edges(col: &mut [f32], at: usize, rows: usize, ow: usize, (lo, hi): (usize, usize)) {
    for r in 0..rows {
        let o = at + r * ow;
        zero(&mut col[o..o + lo]);
        zero(&mut col[o + hi..o + ow]);
    }
}

/// Fills `col` ([K, len], row-major) from one batch item's phased input.
fn im2col(g: &Geometry, xp: &[f32], tile: Tile, col: &mut [f32]) {
    let ow = g.output[2];
    for_each_block(g, tile, |at, input, rows, (lo, hi)| match input {
        None => col[at..at + rows * ow].fill(0.0),
        Some(i0) => {
            // One copy for the block; the values it puts between rows (the
            // neighbouring input columns) are the padding's zeros again after.
            let span = (rows - 1) * ow;
            col[at + lo..at + span + hi].copy_from_slice(&xp[i0..i0 + span + hi - lo]);
            zero_edges(col, at, rows, ow, (lo, hi));
        }
    });
}

/// Adds `col` ([K, len]) into one batch item's phased input gradient. The
/// columns of `col` outside each run are zeroed first (they fall on the
/// padding), so a block adds as one contiguous sum: the same values as row
/// by row. `simd` must not exceed [`Simd::detected`].
fn col2im(simd: Simd, g: &Geometry, col: &mut [f32], tile: Tile, dxp: &mut [f32]) {
    let ow = g.output[2];
    for_each_block(g, tile, |at, input, rows, (lo, hi)| {
        let Some(i0) = input else { return };
        let span = (rows - 1) * ow;
        zero_edges(col, at, rows, ow, (lo, hi));
        add_into(simd, &mut dxp[i0..i0 + span + hi - lo], &col[at + lo..at + span + hi]);
    });
}

#[inline(always)]
fn add_body(dst: &mut [f32], src: &[f32]) {
    for (d, v) in dst.iter_mut().zip(src) {
        *d += v;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_avx2(dst: &mut [f32], src: &[f32]) {
    add_body(dst, src);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn add_avx512(dst: &mut [f32], src: &[f32]) {
    add_body(dst, src);
}

/// dst += src elementwise (the same sums on every path).
fn add_into(simd: Simd, dst: &mut [f32], src: &[f32]) {
    match simd {
        // SAFETY: callers never pass a path above `Simd::detected()`.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { add_avx512(dst, src) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { add_avx2(dst, src) },
        _ => add_body(dst, src),
    }
}

/// Rows i0..i0+R of dst = lhs · rhs for a small inner dimension: W output
/// columns at a time with R × W accumulators kept in registers, each rhs
/// load feeding R multiply-adds (W = 16 for 256-bit registers, 32 for
/// 512-bit: two registers per row either way). Every output element is the
/// same sequence of multiply-adds whatever W is.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn axpy_block<const R: usize, const FMA: bool, const W: usize>(
    i0: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
) {
    let mut coef = [[0f32; 32]; R];
    for (r, c) in coef.iter_mut().enumerate() {
        for t in 0..k {
            c[t] = lhs[(i0 + r) * lhs_rs + t * lhs_cs];
        }
    }
    let mut p = 0;
    while p < n {
        let w = (n - p).min(W);
        let mut acc = [[0f32; W]; R];
        if accumulate {
            for (r, a) in acc.iter_mut().enumerate() {
                a[..w].copy_from_slice(&dst[(i0 + r) * dst_rs + p..(i0 + r) * dst_rs + p + w]);
            }
        }
        if w == W {
            for t in 0..k {
                let x = &rhs[t * rhs_rs + p..][..W];
                for r in 0..R {
                    let c = coef[r][t];
                    for l in 0..W {
                        acc[r][l] = if FMA { c.mul_add(x[l], acc[r][l]) } else { c * x[l] + acc[r][l] };
                    }
                }
            }
        } else {
            for t in 0..k {
                let x = &rhs[t * rhs_rs + p..t * rhs_rs + p + w];
                for r in 0..R {
                    let c = coef[r][t];
                    for l in 0..w {
                        acc[r][l] = if FMA { c.mul_add(x[l], acc[r][l]) } else { c * x[l] + acc[r][l] };
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            dst[(i0 + r) * dst_rs + p..(i0 + r) * dst_rs + p + w].copy_from_slice(&a[..w]);
        }
        p += w;
    }
}

/// The shapes GEMM handles poorly, as plain loops: rows of axpy when the
/// inner dimension is small (the first block: one input channel, K = 27),
/// dot products when the output is small (its weight gradient). Returns
/// false for every other shape. Compiled three times: for AVX-512, for AVX2
/// + FMA and for the baseline ([`Simd`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn small_product_body<const FMA: bool, const W: usize>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) -> bool {
    // Small inner dimension (the first block: one input channel, K = 27; or
    // few output channels in the input gradient): rows of axpy, which the
    // compiler vectorises; GEMM packing costs more than it saves here.
    if k <= 32 && m <= 32 && rhs_cs == 1 {
        let mut i = 0;
        while i < m {
            let rows = (m - i).min(4);
            match rows {
                4 => axpy_block::<4, FMA, W>(i, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs),
                3 => axpy_block::<3, FMA, W>(i, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs),
                2 => axpy_block::<2, FMA, W>(i, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs),
                _ => axpy_block::<1, FMA, W>(i, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs),
            }
            i += rows;
        }
        return true;
    }
    // A small output with a long inner dimension (the weight gradient of the
    // first block): one dot product per output element, 32 partial sums
    // (independent vector accumulators, a fixed summation order).
    if m * n <= 2048 && lhs_cs == 1 && rhs_rs == 1 {
        for i in 0..m {
            let a = &lhs[i * lhs_rs..i * lhs_rs + k];
            for j in 0..n {
                let b = &rhs[j * rhs_cs..j * rhs_cs + k];
                let mut acc = [0f32; 32];
                let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
                let (ra, rb) = (ca.remainder(), cb.remainder());
                for (x, y) in ca.zip(cb) {
                    for l in 0..32 {
                        acc[l] = if FMA { x[l].mul_add(y[l], acc[l]) } else { x[l] * y[l] + acc[l] };
                    }
                }
                let mut sum: f32 = acc.iter().sum();
                sum += ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>();
                let d = &mut dst[i * dst_rs + j];
                *d = if accumulate { *d + sum } else { sum };
            }
        }
        return true;
    }
    false
}

// The operand lists repeat on purpose: packing them into a struct passed
// through this boundary measured slower (0.29 → 0.38 s per step at
// [4,1,40,60,60], back to back, 2026-11-27).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn small_product_avx2(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) -> bool {
    small_product_body::<true, 16>(m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn small_product_avx512(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) -> bool {
    small_product_body::<true, 32>(m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs)
}

/// `simd` must not exceed [`Simd::detected`].
#[allow(clippy::too_many_arguments)]
fn small_product(
    simd: Simd,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) -> bool {
    match simd {
        // SAFETY: the CPU has the features the function was compiled for
        // (callers never pass a path above `Simd::detected()`).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe {
            small_product_avx512(m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs)
        },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe {
            small_product_avx2(m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs)
        },
        _ => {
            small_product_body::<false, 16>(m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs)
        }
    }
}

/// dst[m×n] (row stride `dst_rs`) = (accumulate ? dst : 0) + lhs[m×k] · rhs[k×n], with
/// arbitrary element strides for lhs and rhs. `simd` must not exceed
/// [`Simd::detected`].
#[allow(clippy::too_many_arguments)]
fn gemm(
    simd: Simd,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if small_product(simd, m, n, k, dst, dst_rs, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs) {
        return;
    }
    // Every index the kernel touches lies inside the slices.
    assert!(dst.len() > (m - 1) * dst_rs + (n - 1), "gemm: destination too short");
    if k > 0 {
        assert!(lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs, "gemm: lhs too short");
        assert!(rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs, "gemm: rhs too short");
    }
    // SAFETY: the asserts above bound every element gemm reads or writes;
    // `dst` is borrowed mutably and does not alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

thread_local! {
    /// Each thread's im2col buffer, kept between calls: a training step makes
    /// hundreds of convolution calls, and fresh buffers cost page faults.
    static COL: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's im2col buffer.
fn with_col<T>(f: impl FnOnce(&mut Vec<f32>) -> T) -> T {
    COL.with(|c| match c.try_borrow_mut() {
        Ok(mut col) => f(&mut col),
        // Re-entered on the same thread (not expected): a private buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

/// One batch item's output cut into tiles of whole output rows.
fn tiles(g: &Geometry) -> Vec<Tile> {
    let rows = g.output[0] * g.output[1];
    let per = (g.tile() / g.output[2].max(1)).max(1);
    (0..rows).step_by(per).map(|row0| Tile { row0, rows: per.min(rows - row0) }).collect()
}

/// y[n, co, out] = conv(x[n, ci, in], w[co, ci, k]) + bias, on [`Simd::active`].
pub fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    forward_on(Simd::active(), g, x, w, bias)
}

/// [`forward`] on a chosen path (lowered to what the CPU has).
pub fn forward_on(simd: Simd, g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let simd = simd.min(Simd::detected());
    let (pv, k, iv) = (g.out_vol(), g.k(), g.in_vol());
    let mut y = vec![0f32; g.n * g.co * pv];
    // Each piece writes its own columns of one batch item: split y per batch item.
    let items: Vec<(usize, &mut [f32])> = y.chunks_mut((g.co * pv).max(1)).enumerate().collect();
    items.into_par_iter().for_each(|(b, yb)| {
        let xp = phased(g, &x[b * g.ci * iv..(b + 1) * g.ci * iv]);
        with_col(|col| {
            for tile in tiles(g) {
                let (p0, len) = (tile.start(g), tile.len(g));
                col.resize(k * len, 0.0);
                im2col(g, &xp, tile, col);
                gemm(simd, g.co, len, k, &mut yb[p0..], pv, false, w, k, 1, col, len, 1);
            }
        });
        if let Some(bias) = bias {
            for (c, plane) in yb.chunks_mut(pv.max(1)).enumerate() {
                plane.iter_mut().for_each(|v| *v += bias[c]);
            }
        }
    });
    y
}

/// The gradients a training step needs: (dx, dw, db), each when asked.
pub type ConvGradients = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

/// Gradients of the convolution: (dx, dw, db) as asked, on [`Simd::active`].
pub fn backward(g: &Geometry, x: &[f32], w: &[f32], gy: &[f32], need: [bool; 3]) -> ConvGradients {
    backward_on(Simd::active(), g, x, w, gy, need)
}

/// [`backward`] on a chosen path (lowered to what the CPU has).
pub fn backward_on(simd: Simd, g: &Geometry, x: &[f32], w: &[f32], gy: &[f32], need: [bool; 3]) -> ConvGradients {
    let simd = simd.min(Simd::detected());
    let (pv, k, iv) = (g.out_vol(), g.k(), g.in_vol());
    let per_item: Vec<(Option<Vec<f32>>, Option<Vec<f32>>)> = (0..g.n)
        .into_par_iter()
        .map(|b| {
            let xp = need[1].then(|| phased(g, &x[b * g.ci * iv..(b + 1) * g.ci * iv]));
            let gyb = &gy[b * g.co * pv..(b + 1) * g.co * pv];
            let mut dx = need[0].then(|| vec![0f32; g.ci * g.input[0] * g.input[1] * g.stride[2] * phase_len(g)]);
            let mut dw = need[1].then(|| vec![0f32; g.co * k]);
            with_col(|col| {
                for tile in tiles(g) {
                    let (p0, len) = (tile.start(g), tile.len(g));
                    col.resize(k * len, 0.0);
                    if let (Some(dw), Some(xp)) = (dw.as_mut(), xp.as_ref()) {
                        im2col(g, xp, tile, col);
                        // dw[co, K] += gy[co, tile] · col[K, tile]ᵀ
                        gemm(simd, g.co, k, len, dw, k, true, &gyb[p0..], pv, 1, col, 1, len);
                    }
                    if let Some(dx) = dx.as_mut() {
                        // col[K, tile] = wᵀ[K, co] · gy[co, tile]
                        gemm(simd, k, len, g.co, col, len, false, w, 1, k, &gyb[p0..], pv, 1);
                        col2im(simd, g, col, tile, dx);
                    }
                }
            });
            (dx.map(|d| unphased(g, d)), dw)
        })
        .collect();
    let dx = need[0].then(|| {
        let mut all = Vec::with_capacity(g.n * g.ci * iv);
        for (dx, _) in &per_item {
            all.extend_from_slice(dx.as_deref().unwrap_or(&[]));
        }
        all
    });
    let dw = need[1].then(|| {
        let mut total = vec![0f32; g.co * k];
        for (_, dw) in &per_item {
            if let Some(dw) = dw {
                total.iter_mut().zip(dw).for_each(|(t, v)| *t += v);
            }
        }
        total
    });
    let db = need[2].then(|| {
        (0..g.co)
            .map(|c| (0..g.n).map(|b| gy[(b * g.co + c) * pv..(b * g.co + c + 1) * pv].iter().sum::<f32>()).sum())
            .collect()
    });
    (dx, dw, db)
}

// ---- burn glue ----------------------------------------------------------

/// The extension: a convolution with an explicit geometry (f32, groups 1).
#[backend_extension(Flex, Autodiff)]
pub trait FastConv3d: Backend {
    fn fast_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self>;
}

pub(super) fn dense(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fast convolution takes f32 tensors");
    t.to_contiguous()
}

pub(super) fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(Shape::new(shape)), DType::F32)
}

fn geometry(x: &FlexTensor, w: &FlexTensor, stride: [usize; 3], padding: [usize; 3]) -> Geometry {
    let [n, ci, d, h, wd] = x.layout().shape().dims::<5>();
    let [co, wci, kd, kh, kw] = w.layout().shape().dims::<5>();
    assert_eq!(ci, wci, "input channels and weight disagree");
    Geometry::new(n, ci, co, [d, h, wd], [kd, kh, kw], stride, padding)
}

pub(super) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().unwrap_or(&[])
}

fn flex_forward(x: &FlexTensor, w: &FlexTensor, b: &FlexTensor, stride: [usize; 3], padding: [usize; 3]) -> FlexTensor {
    let (x, w, b) = (dense(x), dense(w), dense(b));
    let g = geometry(&x, &w, stride, padding);
    let y = forward(&g, slice(&x), slice(&w), Some(slice(&b)));
    flex(y, [g.n, g.co, g.output[0], g.output[1], g.output[2]])
}

impl FastConv3d for Flex {
    fn fast_conv3d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FlexTensor {
        flex_forward(&x, &weight, &bias, stride, padding)
    }
}

#[derive(Debug)]
struct FastConv3dBackward;

impl Backward<Flex, 3> for FastConv3dBackward {
    type State = (NodeId, NodeId, [usize; 3], [usize; 3]);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_id, w_id, stride, padding) = ops.state;
        let x = dense(&checkpointer.retrieve_node_output::<FlexTensor>(x_id));
        let w = dense(&checkpointer.retrieve_node_output::<FlexTensor>(w_id));
        let gy = dense(&grad);
        let g = geometry(&x, &w, stride, padding);
        let need = [node_x.is_some(), node_w.is_some(), node_b.is_some()];
        let (dx, dw, db) = backward(&g, slice(&x), slice(&w), slice(&gy), need);
        if let (Some(node), Some(v)) = (node_x, dx) {
            grads.register::<Flex>(node.id, flex(v, [g.n, g.ci, g.input[0], g.input[1], g.input[2]]));
        }
        if let (Some(node), Some(v)) = (node_w, dw) {
            grads.register::<Flex>(node.id, flex(v, [g.co, g.ci, g.kernel[0], g.kernel[1], g.kernel[2]]));
        }
        if let (Some(node), Some(v)) = (node_b, db) {
            grads.register::<Flex>(node.id, flex(v, [g.co]));
        }
    }
}

impl<C: CheckpointStrategy> FastConv3d for Autodiff<Flex, C> {
    fn fast_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        match FastConv3dBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let (x_id, w_id) = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let y = flex_forward(x.primitive(), weight.primitive(), bias.primitive(), stride, padding);
                prep.finish((x_id, w_id, stride, padding), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                &x.into_primitive(),
                &weight.into_primitive(),
                &bias.into_primitive(),
                stride,
                padding,
            )),
        }
    }
}

/// Whether the fast convolution applies on this device: Flex, unless
/// `RADOSE_CONV=burn` asks for burn's own (to compare).
pub fn supported(device: &burn::tensor::Device) -> bool {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let burn_asked = *BURN.get_or_init(|| std::env::var("RADOSE_CONV").is_ok_and(|v| v == "burn"));
    !burn_asked && super::device::without_autodiff(device) == burn::tensor::Device::flex()
}

/// A `Conv3d` layer applied with the fast convolution where it applies.
pub fn apply(layer: &burn::nn::conv::Conv3d, x: Tensor<5>, stride: [usize; 3], padding: [usize; 3]) -> Tensor<5> {
    if !supported(&x.device()) {
        return layer.forward(x);
    }
    let weight = layer.weight.val();
    let bias = match &layer.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([weight.dims()[0]], &weight.device()),
    };
    conv3d(x, weight, bias, stride, padding)
}

/// The fast convolution of `x` ([N, Ci, D, H, W]) with `weight` and `bias`.
pub fn conv3d(x: Tensor<5>, weight: Tensor<5>, bias: Tensor<1>, stride: [usize; 3], padding: [usize; 3]) -> Tensor<5> {
    Tensor::from_dispatch(<Dispatch as FastConv3d>::fast_conv3d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        stride,
        padding,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn assert_close(what: &str, simd: Simd, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}");
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 2e-6 * scale, "{what} on {}: [{i}] {a} vs {b} (scale {scale})", simd.name());
        }
    }

    /// Each path the CPU has computes the convolution and its gradients as
    /// the portable path does, to 2e-6 of the largest value (the portable
    /// path rounds products before adding); AVX2 and AVX-512 agree exactly.
    /// The shapes are the network's kinds with widths that leave remainders
    /// in the 16- and 32-wide loops.
    #[test]
    fn every_simd_path_agrees_with_the_portable_one() {
        let shapes = [
            // Block 1's first convolution: one input channel, K = 27 (small products).
            Geometry::new(2, 1, 8, [5, 6, 37], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
            // Its stride-2 convolution and the stride-2 skip.
            Geometry::new(2, 8, 8, [5, 6, 37], [3, 3, 3], [2, 2, 2], [1, 1, 1]),
            Geometry::new(2, 1, 8, [5, 6, 37], [1, 1, 1], [2, 2, 2], [0, 0, 0]),
            // A deeper block (GEMM for the large products).
            Geometry::new(1, 16, 32, [4, 5, 9], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        ];
        let detected = Simd::detected();
        for (i, g) in shapes.into_iter().enumerate() {
            let x = values(g.n * g.ci * g.in_vol(), 3 * i as u64);
            let w = values(g.co * g.k(), 3 * i as u64 + 1);
            let bias = values(g.co, 7);
            let gy = values(g.n * g.co * g.out_vol(), 3 * i as u64 + 2);
            let y0 = forward_on(Simd::Portable, &g, &x, &w, Some(&bias));
            let (dx0, dw0, db0) = backward_on(Simd::Portable, &g, &x, &w, &gy, [true; 3]);
            let mut by_path = Vec::new();
            for simd in Simd::ALL.into_iter().filter(|s| *s > Simd::Portable && *s <= detected) {
                let y = forward_on(simd, &g, &x, &w, Some(&bias));
                let (dx, dw, db) = backward_on(simd, &g, &x, &w, &gy, [true; 3]);
                assert_close("forward", simd, &y, &y0);
                assert_close("input gradient", simd, dx.as_deref().unwrap_or(&[]), dx0.as_deref().unwrap_or(&[1.0]));
                assert_close("weight gradient", simd, dw.as_deref().unwrap_or(&[]), dw0.as_deref().unwrap_or(&[1.0]));
                assert_close("bias gradient", simd, db.as_deref().unwrap_or(&[]), db0.as_deref().unwrap_or(&[1.0]));
                by_path.push((y, dx, dw));
            }
            if let [avx2, avx512] = &by_path[..] {
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&avx2.0), bits(&avx512.0), "forward, shape {i}");
                assert_eq!(bits(avx2.1.as_deref().unwrap_or(&[])), bits(avx512.1.as_deref().unwrap_or(&[])), "dx {i}");
                assert_eq!(bits(avx2.2.as_deref().unwrap_or(&[])), bits(avx512.2.as_deref().unwrap_or(&[])), "dw {i}");
            }
        }
    }

    #[test]
    fn a_requested_path_lowers_but_never_raises() {
        assert_eq!(Simd::chosen(None, Simd::Avx512), Simd::Avx512);
        assert_eq!(Simd::chosen(Some("avx2"), Simd::Avx512), Simd::Avx2);
        assert_eq!(Simd::chosen(Some(" Portable "), Simd::Avx2), Simd::Portable);
        assert_eq!(Simd::chosen(Some("avx512"), Simd::Avx2), Simd::Avx2);
        assert_eq!(Simd::chosen(Some("sse9"), Simd::Avx2), Simd::Avx2);
        assert!(Simd::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    /// Timing probe (not a test of speed): `cargo test --release --lib conv_probe -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing probe for development"]
    fn conv_probe() {
        let g = Geometry::new(4, 1, 8, [40, 60, 60], [3, 3, 3], [1, 1, 1], [1, 1, 1]);
        let x: Vec<f32> = (0..4 * 40 * 60 * 60).map(|i| (i % 7) as f32).collect();
        let w: Vec<f32> = (0..8 * 27).map(|i| (i % 5) as f32).collect();
        let t = std::time::Instant::now();
        let y = forward(&g, &x, &w, None);
        eprintln!("forward {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let t = std::time::Instant::now();
        let k = g.k();
        let mut col = Vec::new();
        let mut n = 0;
        let xp = phased(&g, &x[..40 * 60 * 60]);
        for tile in tiles(&g) {
            col.resize(k * tile.len(&g), 0.0);
            im2col(&g, &xp, tile, &mut col);
            n += 1;
        }
        eprintln!("im2col of one item: {:.1} ms over {n} tiles", t.elapsed().as_secs_f64() * 1e3);
        let t = std::time::Instant::now();
        let _ = backward(&g, &x, &w, &y, [false, true, true]);
        eprintln!("weight+bias gradient {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let t = std::time::Instant::now();
        let _ = backward(&g, &x, &w, &y, [true, false, false]);
        eprintln!("input gradient {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    }
}
