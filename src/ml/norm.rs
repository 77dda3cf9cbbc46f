//! InstanceNorm (no affine, biased variance, ε inside the square root, as
//! PyTorch's `InstanceNorm3d`) followed by ReLU, as one operation on the CPU
//! with its own backward pass. burn composes the normalisation from seven
//! tensor operations (mean, subtract, square, mean, add, sqrt, divide) and
//! ReLU from another, each writing a full-size tensor forward and backward;
//! this reads the input twice and writes the output once, and its gradient
//! is two more passes:
//!
//!   x̂ = (x − μ)/σ,  σ = √(var + ε),  y = max(x̂, 0),  g = ∂L/∂y · [x̂ > 0],
//!   ∂L/∂x = (g − mean(g) − x̂ · mean(g x̂)) / σ     (per sample and channel).
//!
//! Sums are taken in f64 in a fixed order per plane, planes in parallel, so
//! results do not depend on the thread count. The input is kept for the
//! backward pass (its statistics are recomputed there), as the convolution
//! keeps its own. On other backends burn's own layers are used. Checked
//! against burn's `InstanceNorm` + `relu` in `tests/deep_model.rs`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::conv::{dense, flex, slice};

/// Sum of a plane in f64: 8 running partial sums, then added in order.
fn sum(values: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += f(c[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// (μ, 1/σ) of one plane.
fn statistics(x: &[f32], epsilon: f64) -> (f32, f32) {
    let n = x.len().max(1) as f64;
    let mean = sum(x, f64::from) / n;
    let var = sum(x, |v| (f64::from(v) - mean).powi(2)) / n;
    (mean as f32, (1.0 / (var + epsilon).sqrt()) as f32)
}

/// y = relu(instance_norm(x)) for `planes` planes of `per` values each.
pub fn forward(x: &[f32], per: usize, epsilon: f64) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(per.max(1)).zip(x.par_chunks(per.max(1))).for_each(|(yp, xp)| {
        let (mean, inv) = statistics(xp, epsilon);
        for (o, &v) in yp.iter_mut().zip(xp) {
            *o = ((v - mean) * inv).max(0.0);
        }
    });
    y
}

/// ∂L/∂x from the input and ∂L/∂y.
pub fn backward(x: &[f32], gy: &[f32], per: usize, epsilon: f64) -> Vec<f32> {
    let mut dx = vec![0f32; x.len()];
    let per = per.max(1);
    dx.par_chunks_mut(per).zip(x.par_chunks(per).zip(gy.par_chunks(per))).for_each(|(dp, (xp, gp))| {
        let (mean, inv) = statistics(xp, epsilon);
        let n = xp.len().max(1) as f64;
        let (mut sg, mut sgx) = ([0f64; 8], [0f64; 8]);
        let mut l = 0;
        for (&v, &g) in xp.iter().zip(gp) {
            let xh = (v - mean) * inv;
            if xh > 0.0 {
                sg[l] += f64::from(g);
                sgx[l] += f64::from(g) * f64::from(xh);
            }
            l = (l + 1) & 7;
        }
        let mean_g = (sg.iter().sum::<f64>() / n) as f32;
        let mean_gx = (sgx.iter().sum::<f64>() / n) as f32;
        for ((d, &v), &g) in dp.iter_mut().zip(xp).zip(gp) {
            let xh = (v - mean) * inv;
            let g = if xh > 0.0 { g } else { 0.0 };
            *d = (g - mean_g - xh * mean_gx) * inv;
        }
    });
    dx
}

// ---- burn glue ----------------------------------------------------------

/// The extension: InstanceNorm (no affine) + ReLU over every axis after the
/// first two.
#[backend_extension(Flex, Autodiff)]
pub trait FusedNormRelu: Backend {
    fn instance_norm_relu(x: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self>;
}

fn plane(x: &FlexTensor) -> usize {
    x.layout().shape().dims::<5>()[2..].iter().product()
}

fn flex_forward(x: &FlexTensor, epsilon: f64) -> FlexTensor {
    let x = dense(x);
    let y = forward(slice(&x), plane(&x), epsilon);
    flex(y, x.layout().shape().dims::<5>())
}

impl FusedNormRelu for Flex {
    fn instance_norm_relu(x: FlexTensor, epsilon: f64) -> FlexTensor {
        flex_forward(&x, epsilon)
    }
}

#[derive(Debug)]
struct NormReluBackward;

impl Backward<Flex, 1> for NormReluBackward {
    type State = (NodeId, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_id, epsilon) = ops.state;
        let Some(node) = node_x else { return };
        let x = dense(&checkpointer.retrieve_node_output::<FlexTensor>(x_id));
        let gy = dense(&grad);
        let dx = backward(slice(&x), slice(&gy), plane(&x), epsilon);
        grads.register::<Flex>(node.id, flex(dx, x.layout().shape().dims::<5>()));
    }
}

impl<C: CheckpointStrategy> FusedNormRelu for Autodiff<Flex, C> {
    fn instance_norm_relu(x: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        match NormReluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let y = flex_forward(x.primitive(), epsilon);
                prep.finish((x_id, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(&x.into_primitive(), epsilon)),
        }
    }
}

/// relu(instance_norm(x)) for x [N, C, D, H, W], fused on the CPU (Flex);
/// elsewhere, or with `RADOSE_NORM=burn` (to compare), burn's own layers.
pub fn instance_norm_relu(norm: &burn::nn::InstanceNorm, x: Tensor<5>) -> Tensor<5> {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let burn_asked = *BURN.get_or_init(|| std::env::var("RADOSE_NORM").is_ok_and(|v| v == "burn"));
    if burn_asked || !super::conv::supported(&x.device()) || norm.affine {
        return burn::tensor::activation::relu(norm.forward(x));
    }
    Tensor::from_dispatch(<Dispatch as FusedNormRelu>::instance_norm_relu(x.into_dispatch(), norm.epsilon))
}
