//! The study's network (METHOD.md, "Dosiomics" and "Fusion classifier"),
//! exactly as `reference/torch/dose_cnn_step.py` builds it:
//!
//! - Block(c_in, c_out): a = Conv3d(k3, s1, p1) → InstanceNorm3d (no affine)
//!   → ReLU → Conv3d(k3, s2, p1) → BatchNorm3d; skip = Conv3d(k1, s2);
//!   out = ReLU(a + skip).
//! - Dose CNN: Blocks 1→8→16→32→64→128 → Conv3d(128→128, k1) → mean over
//!   D, H, W → Linear(128→32).
//! - Radiomics branch: Linear(r→32).
//! - Fusion: stack [N, 2, 32] → Conv1d(2→64, k1) → ReLU → max over the
//!   stacked length → Linear(64→1) → (sigmoid in the loss and in `predict`).
//!
//! A radiomics-only model is the same network without the dose branch (the
//! fusion convolution then has one input channel).
//!
//! The 3D convolutions run through `ml::conv` on the CPU (im2col + GEMM with
//! its own backward; the same results as burn's convolution, faster).
//!
//! BatchNorm with one value per channel (batch 1 and a 1×1×1 block output):
//! PyTorch refuses to train it; radose normalises that batch with the
//! layer's running statistics (the layer in evaluation mode for that step,
//! PyTorch's `--bn-fallback`), so training never divides by a zero variance
//! and the running statistics are left as they are.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, InstanceNorm, InstanceNormConfig, Linear, LinearConfig, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::conv;
use crate::error::Error;

type Result<T, E = Error> = std::result::Result<T, E>;

/// Channel widths of the five blocks.
pub const WIDTHS: [usize; 6] = [1, 8, 16, 32, 64, 128];

/// The smallest input side: five stride-2 blocks must each still see at
/// least two voxels along every axis (17 → 9 → 5 → 3 → 2 → 1).
pub const MIN_SIDE: usize = 17;

/// The network's shape; saved beside every trained model.
#[derive(Config, Debug, PartialEq)]
pub struct NetConfig {
    /// Dose input [D, H, W] (slices, rows, columns), e.g. [80, 120, 120].
    pub input: [usize; 3],
    /// Length of the radiomics vector.
    pub radiomics: usize,
    /// Whether the model has the dose branch.
    #[config(default = true)]
    pub dose: bool,
    /// Global max (not average) pooling of the dose branch's 128 channels
    /// after its 1×1×1 convolution (the paper's text names no pooling there).
    #[config(default = false)]
    pub l6_max: bool,
    /// Max (not average) pooling over the fusion head's stacked axis (the
    /// paper's text: "global max pooling").
    #[config(default = true)]
    pub fusion_max: bool,
}

impl NetConfig {
    /// Checks the input size before anything is built or trained.
    pub fn validate(&self) -> Result<()> {
        if self.radiomics == 0 {
            return Err(Error::invalid("the radiomics vector is empty", Some("select at least one feature")));
        }
        if self.dose && self.input.iter().any(|&s| s < MIN_SIDE) {
            return Err(Error::invalid(
                format!(
                    "the dose input {}×{}×{} is too small for the network: its five stride-2 blocks need at least \
                     {MIN_SIDE} voxels along every axis",
                    self.input[0], self.input[1], self.input[2]
                ),
                Some("use e.g. --input 20x30x30 (quick) or 80x120x120 (the paper)"),
            ));
        }
        Ok(())
    }

    /// The spatial size after each block.
    pub fn block_sides(&self) -> Vec<[usize; 3]> {
        let mut side = self.input;
        (0..5)
            .map(|_| {
                side = side.map(|s| (s - 1) / 2 + 1);
                side
            })
            .collect()
    }

    /// A network with PyTorch's default initialisation (weights and biases
    /// of every convolution and linear layer uniform in ±1/√fan_in;
    /// BatchNorm γ = 1, β = 0), drawn from radose's own random stream for
    /// `seed` — never from burn's process-wide generator, so two trainings
    /// with one seed start from the same weights whatever else runs.
    pub fn init_seeded(&self, device: &Device, seed: u64) -> FusionNet {
        let net = self.init(device);
        let mut mapper =
            SeededInit { rng: crate::core::rng::Rng::derive(seed, &["cnn", "init"]), fan_in: 1, layer: None };
        net.map(&mut mapper)
    }

    /// The network with burn's own initialisation (see [`NetConfig::init_seeded`]).
    pub fn init(&self, device: &Device) -> FusionNet {
        let dose = self.dose.then(|| DoseCnn::new(device).with_max_pool(self.l6_max));
        let branches = if self.dose { 2 } else { 1 };
        FusionNet {
            dose,
            rad: LinearConfig::new(self.radiomics, 32).init(device),
            fuse: Conv1dConfig::new(branches, 64, 1).init(device),
            out: LinearConfig::new(64, 1).init(device),
            fusion_max: self.fusion_max,
        }
    }
}

/// Re-draws convolution and linear parameters: a weight's fan-in is its
/// size over its first dimension; the bias that follows it uses the same.
struct SeededInit {
    rng: crate::core::rng::Rng,
    fan_in: usize,
    layer: Option<String>,
}

impl burn::module::ModuleMapper for SeededInit {
    fn enter_module(&mut self, _name: &str, container_type: &str) {
        if container_type.starts_with("Struct:") {
            self.layer = Some(container_type.trim_start_matches("Struct:").to_string());
        }
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let kind = self.layer.clone().unwrap_or_default();
        if !matches!(kind.as_str(), "Conv3d" | "Conv1d" | "Linear") {
            return param;
        }
        param.map(|t| {
            let dims = t.dims();
            let count: usize = dims.iter().product();
            let is_weight = D > 1;
            if is_weight {
                // Linear weights are [in, out] in burn; convolutions [out, in, k…].
                self.fan_in = if kind == "Linear" { dims[0] } else { count / dims[0].max(1) };
            }
            let bound = 1.0 / (self.fan_in.max(1) as f64).sqrt();
            let values: Vec<f32> = (0..count).map(|_| ((2.0 * self.rng.uniform() - 1.0) * bound) as f32).collect();
            let grad = t.is_require_grad();
            let fresh = Tensor::<D>::from_data(burn::tensor::TensorData::new(values, dims), &t.device());
            if grad { fresh.require_grad() } else { fresh }
        })
    }
}

/// One residual block.
#[derive(Module, Debug)]
pub struct Block {
    conv1: Conv3d,
    norm: InstanceNorm,
    conv2: Conv3d,
    bn: BatchNorm,
    skip: Conv3d,
}

impl Block {
    pub fn new(c_in: usize, c_out: usize, device: &Device) -> Block {
        let pad1 = PaddingConfig3d::Explicit(1, 1, 1);
        Block {
            conv1: Conv3dConfig::new([c_in, c_out], [3, 3, 3]).with_padding(pad1.clone()).init(device),
            norm: InstanceNormConfig::new(c_out).with_affine(false).init(device),
            conv2: Conv3dConfig::new([c_out, c_out], [3, 3, 3]).with_stride([2, 2, 2]).with_padding(pad1).init(device),
            bn: BatchNormConfig::new(c_out).init(device),
            skip: Conv3dConfig::new([c_in, c_out], [1, 1, 1]).with_stride([2, 2, 2]).init(device),
        }
    }

    /// The block's BatchNorm input (before normalisation).
    fn pre_norm(&self, x: Tensor<5>) -> Tensor<5> {
        let a = super::norm::instance_norm_relu(&self.norm, conv::apply(&self.conv1, x, [1, 1, 1], [1, 1, 1]));
        conv::apply(&self.conv2, a, [2, 2, 2], [1, 1, 1])
    }

    /// Sets the BatchNorm's running statistics to the mean and (unbiased)
    /// variance of its input over every voxel of every batch in `xs`.
    fn set_population_statistics(&mut self, xs: &[Tensor<5>]) {
        let Some(first) = xs.first() else { return };
        let device = first.device();
        let channels = self.bn.gamma.dims()[0];
        let (mut sum, mut sq, mut count) = (vec![0f64; channels], vec![0f64; channels], 0usize);
        for x in xs {
            let a = self.pre_norm(x.clone());
            let [n, c, d, h, w] = a.dims();
            let Ok(values) = a.into_data().try_to_vec::<f32>() else { return };
            let per = d * h * w;
            for s in 0..n {
                for ch in 0..c {
                    for &v in &values[(s * c + ch) * per..(s * c + ch + 1) * per] {
                        sum[ch] += f64::from(v);
                        sq[ch] += f64::from(v) * f64::from(v);
                    }
                }
            }
            count += n * per;
        }
        if count < 2 {
            return;
        }
        let m = count as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / m) as f32).collect();
        let var: Vec<f32> = sum.iter().zip(&sq).map(|(s, q)| ((q - s * s / m) / (m - 1.0)).max(0.0) as f32).collect();
        let t = |v: Vec<f32>| Tensor::<1>::from_data(burn::tensor::TensorData::new(v, [channels]), &device);
        self.bn.running_mean = burn::module::RunningState::new(t(mean));
        self.bn.running_var = burn::module::RunningState::new(t(var));
    }

    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let skip = conv::apply(&self.skip, x.clone(), [2, 2, 2], [0, 0, 0]);
        let a = self.pre_norm(x);
        let [n, _, d, h, w] = a.dims();
        let a = if n * d * h * w == 1 {
            // One value per channel: normalise with the running statistics.
            let mut bn = self.bn.clone();
            bn.training = Param::from_bool(false);
            bn.forward(a)
        } else {
            self.bn.forward(a)
        };
        relu(a + skip)
    }
}

/// The dose branch: five blocks, a 1×1×1 convolution, global mean, 128 → 32.
#[derive(Module, Debug)]
pub struct DoseCnn {
    blocks: Vec<Block>,
    head: Conv3d,
    fc: Linear,
    /// Global max instead of average pooling (a constant, not a weight).
    max_pool: bool,
}

impl DoseCnn {
    pub fn new(device: &Device) -> DoseCnn {
        DoseCnn {
            blocks: (0..5).map(|i| Block::new(WIDTHS[i], WIDTHS[i + 1], device)).collect(),
            head: Conv3dConfig::new([128, 128], [1, 1, 1]).init(device),
            fc: LinearConfig::new(128, 32).init(device),
            max_pool: false,
        }
    }

    /// The same branch pooling by global max (`true`) or average.
    pub fn with_max_pool(self, max_pool: bool) -> DoseCnn {
        DoseCnn { max_pool, ..self }
    }

    /// The 128-vector before the last linear layer, and each block's output
    /// shape (for tests).
    pub fn features(&self, x: Tensor<5>) -> (Tensor<2>, Vec<[usize; 5]>) {
        let mut shapes = Vec::new();
        let mut x = x;
        for b in &self.blocks {
            x = b.forward(x);
            shapes.push(x.dims());
        }
        let x = conv::apply(&self.head, x, [1, 1, 1], [0, 0, 0]);
        let [n, c, d, h, w] = x.dims();
        let flat: Tensor<3> = x.reshape([n, c, d * h * w]);
        let pooled: Tensor<2> = if self.max_pool { flat.max_dim(2) } else { flat.mean_dim(2) }.reshape([n, c]);
        (pooled, shapes)
    }

    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        self.fc.forward(self.features(x).0)
    }

    /// Replaces every BatchNorm's running statistics with its input's
    /// statistics over the batches `xs` (a whole training set), block by
    /// block, each block seeing the earlier blocks with their new statistics.
    pub fn set_population_statistics(&mut self, xs: Vec<Tensor<5>>) {
        let mut xs = xs;
        for b in &mut self.blocks {
            b.set_population_statistics(&xs);
            xs = xs.into_iter().map(|x| b.forward(x)).collect();
        }
    }
}

/// Dose CNN + radiomics branch + fusion head.
#[derive(Module, Debug)]
pub struct FusionNet {
    dose: Option<DoseCnn>,
    rad: Linear,
    fuse: Conv1d,
    out: Linear,
    /// Max (else average) over the stacked axis (a constant, not a weight).
    fusion_max: bool,
}

impl FusionNet {
    /// Logits [N] for dose [N, 1, D, H, W] (or none) and radiomics [N, r].
    pub fn forward(&self, dose: Option<Tensor<5>>, rad: Tensor<2>) -> Tensor<1> {
        let r = self.rad.forward(rad);
        let [n, width] = r.dims();
        let z: Tensor<3> = match (&self.dose, dose) {
            (Some(cnn), Some(d)) => Tensor::stack(vec![cnn.forward(d), r], 1),
            _ => r.reshape([n, 1, width]),
        };
        let z = relu(self.fuse.forward(z));
        let [n, c, _] = z.dims();
        let z: Tensor<2> = if self.fusion_max { z.max_dim(2) } else { z.mean_dim(2) }.reshape([n, c]);
        self.out.forward(z).reshape([n])
    }

    /// See [`DoseCnn::set_population_statistics`]; nothing without a dose branch.
    pub fn set_population_statistics(&mut self, xs: Vec<Tensor<5>>) {
        if let Some(cnn) = self.dose.as_mut() {
            cnn.set_population_statistics(xs);
        }
    }

    pub fn has_dose(&self) -> bool {
        self.dose.is_some()
    }

    pub fn dose_cnn(&self) -> Option<&DoseCnn> {
        self.dose.as_ref()
    }
}

/// Binary cross-entropy on logits, optionally weighted per sample
/// (mean of w·loss over the sum of w): numerically stable form
/// max(z, 0) − z·y + log(1 + exp(−|z|)).
pub fn bce_with_logits(logits: Tensor<1>, targets: Tensor<1>, weights: Option<Tensor<1>>) -> Tensor<1> {
    let per = logits.clone().clamp_min(0.0) - logits.clone() * targets + logits.abs().neg().exp().log1p();
    match weights {
        Some(w) => (per * w.clone()).sum() / w.sum(),
        None => per.mean(),
    }
}
