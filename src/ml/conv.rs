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
        (49_152 / self.k().max(1)).clamp(64, 4096).min(self.out_vol().max(1))
    }
}

/// The input offsets of a tile's output positions along each axis
/// (output index × stride − padding), decoded once per tile.
struct TileIndex {
    d: Vec<isize>,
    h: Vec<isize>,
    w: Vec<isize>,
}

impl TileIndex {
    fn new(g: &Geometry, start: usize, len: usize) -> TileIndex {
        let [_, oh, ow] = g.output;
        let mut t = TileIndex { d: Vec::with_capacity(len), h: Vec::with_capacity(len), w: Vec::with_capacity(len) };
        for p in start..start + len {
            let (zd, rest) = (p / (oh * ow), p % (oh * ow));
            let (zh, zw) = (rest / ow, rest % ow);
            t.d.push((zd * g.stride[0]) as isize - g.padding[0] as isize);
            t.h.push((zh * g.stride[1]) as isize - g.padding[1] as isize);
            t.w.push((zw * g.stride[2]) as isize - g.padding[2] as isize);
        }
        t
    }
}

/// Fills `col` ([K, len], row-major) from one batch item `x` ([ci, D, H, W]).
fn im2col(g: &Geometry, x: &[f32], idx: &TileIndex, col: &mut [f32]) {
    let [id, ih, iw] = g.input.map(|v| v as isize);
    let [kd, kh, kw] = g.kernel;
    let len = idx.d.len();
    let vol = g.in_vol();
    let mut row = 0;
    for c in 0..g.ci {
        let plane = &x[c * vol..(c + 1) * vol];
        for a in 0..kd {
            for e in 0..kh {
                for f in 0..kw {
                    let out = &mut col[row * len..(row + 1) * len];
                    for t in 0..len {
                        let (d, h, w) = (idx.d[t] + a as isize, idx.h[t] + e as isize, idx.w[t] + f as isize);
                        out[t] = if d >= 0 && d < id && h >= 0 && h < ih && w >= 0 && w < iw {
                            plane[((d * ih + h) * iw + w) as usize]
                        } else {
                            0.0
                        };
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Adds `col` ([K, len]) back into one batch item's input gradient.
fn col2im(g: &Geometry, col: &[f32], idx: &TileIndex, dx: &mut [f32]) {
    let [id, ih, iw] = g.input.map(|v| v as isize);
    let [kd, kh, kw] = g.kernel;
    let len = idx.d.len();
    let vol = g.in_vol();
    let mut row = 0;
    for c in 0..g.ci {
        let plane = &mut dx[c * vol..(c + 1) * vol];
        for a in 0..kd {
            for e in 0..kh {
                for f in 0..kw {
                    let src = &col[row * len..(row + 1) * len];
                    for t in 0..len {
                        let (d, h, w) = (idx.d[t] + a as isize, idx.h[t] + e as isize, idx.w[t] + f as isize);
                        if d >= 0 && d < id && h >= 0 && h < ih && w >= 0 && w < iw {
                            plane[((d * ih + h) * iw + w) as usize] += src[t];
                        }
                    }
                    row += 1;
                }
            }
        }
    }
}

/// dst[m×n] (row stride `dst_rs`) = (accumulate ? dst : 0) + lhs[m×k] · rhs[k×n], with
/// arbitrary element strides for lhs and rhs.
#[allow(clippy::too_many_arguments)]
fn gemm(
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

/// The (batch item, first output position, length) pieces of the work.
fn pieces(g: &Geometry) -> Vec<(usize, usize, usize)> {
    let (pv, tile) = (g.out_vol(), g.tile());
    (0..g.n).flat_map(|b| (0..pv).step_by(tile).map(move |p| (b, p, tile.min(pv - p)))).collect()
}

/// y[n, co, out] = conv(x[n, ci, in], w[co, ci, k]) + bias.
pub fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (pv, k, iv) = (g.out_vol(), g.k(), g.in_vol());
    let mut y = vec![0f32; g.n * g.co * pv];
    // Each piece writes its own columns of one batch item: split y per batch item.
    let items: Vec<(usize, &mut [f32])> = y.chunks_mut((g.co * pv).max(1)).enumerate().collect();
    items.into_par_iter().for_each(|(b, yb)| {
        let xb = &x[b * g.ci * iv..(b + 1) * g.ci * iv];
        let mut col = Vec::new();
        for (_, p0, len) in pieces(&Geometry { n: 1, ..*g }) {
            let idx = TileIndex::new(g, p0, len);
            col.resize(k * len, 0.0);
            im2col(g, xb, &idx, &mut col);
            gemm(g.co, len, k, &mut yb[p0..], pv, false, w, k, 1, &col, len, 1);
        }
        if let Some(bias) = bias {
            for (c, plane) in yb.chunks_mut(pv.max(1)).enumerate() {
                plane.iter_mut().for_each(|v| *v += bias[c]);
            }
        }
    });
    y
}

/// Gradients of the convolution: (dx, dw, db) as asked.
pub fn backward(
    g: &Geometry,
    x: &[f32],
    w: &[f32],
    gy: &[f32],
    need: [bool; 3],
) -> (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>) {
    let (pv, k, iv) = (g.out_vol(), g.k(), g.in_vol());
    let per_item: Vec<(Option<Vec<f32>>, Option<Vec<f32>>)> = (0..g.n)
        .into_par_iter()
        .map(|b| {
            let xb = &x[b * g.ci * iv..(b + 1) * g.ci * iv];
            let gyb = &gy[b * g.co * pv..(b + 1) * g.co * pv];
            let mut dx = need[0].then(|| vec![0f32; g.ci * iv]);
            let mut dw = need[1].then(|| vec![0f32; g.co * k]);
            let mut col = Vec::new();
            for (_, p0, len) in pieces(&Geometry { n: 1, ..*g }) {
                let idx = TileIndex::new(g, p0, len);
                col.resize(k * len, 0.0);
                if let Some(dw) = dw.as_mut() {
                    im2col(g, xb, &idx, &mut col);
                    // dw[co, K] += gy[co, tile] · col[K, tile]ᵀ
                    gemm(g.co, k, len, dw, k, true, &gyb[p0..], pv, 1, &col, 1, len);
                }
                if let Some(dx) = dx.as_mut() {
                    // col[K, tile] = wᵀ[K, co] · gy[co, tile]
                    gemm(k, len, g.co, &mut col, len, false, w, 1, k, &gyb[p0..], pv, 1);
                    col2im(g, &col, &idx, dx);
                }
            }
            (dx, dw)
        })
        .collect();
    let dx = need[0].then(|| per_item.iter().flat_map(|(dx, _)| dx.iter().flatten().copied()).collect());
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

fn dense(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fast convolution takes f32 tensors");
    t.to_contiguous()
}

fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(Shape::new(shape)), DType::F32)
}

fn geometry(x: &FlexTensor, w: &FlexTensor, stride: [usize; 3], padding: [usize; 3]) -> Geometry {
    let [n, ci, d, h, wd] = x.layout().shape().dims::<5>();
    let [co, wci, kd, kh, kw] = w.layout().shape().dims::<5>();
    assert_eq!(ci, wci, "input channels and weight disagree");
    Geometry::new(n, ci, co, [d, h, wd], [kd, kh, kw], stride, padding)
}

fn slice(t: &FlexTensor) -> &[f32] {
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
