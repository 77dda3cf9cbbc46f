//! Training and prediction: Adam on BCE, seeded and deterministic on the CPU,
//! mini-batches reshuffled every epoch, validation loss and AUC per epoch,
//! cancellation polled at every batch.

use burn::config::Config;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use super::data::Samples;
use super::net::{FusionNet, NetConfig, bce_with_logits};
use crate::core::learn::metrics::auc;
use crate::core::rng::Rng;
use crate::error::Error;

type Result<T, E = Error> = std::result::Result<T, E>;

/// Optimisation settings (the paper's by default); saved beside every model.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    #[config(default = 1e-3)]
    pub lr: f64,
    #[config(default = 0.9)]
    pub beta1: f32,
    #[config(default = 0.999)]
    pub beta2: f32,
    /// PyTorch's Adam epsilon (burn's default is 1e-5).
    #[config(default = 1e-8)]
    pub epsilon: f32,
    /// L2 added to the gradient, as `torch.optim.Adam(weight_decay=…)`.
    #[config(default = 1e-5)]
    pub weight_decay: f32,
    /// Keras' `decay`: the learning rate of update t (from 0) is
    /// lr / (1 + lr_decay · t); 0 keeps it constant.
    #[config(default = 0.0)]
    pub lr_decay: f64,
    #[config(default = 16)]
    pub batch: usize,
    #[config(default = 300)]
    pub epochs: usize,
    #[config(default = 7)]
    pub seed: u64,
}

impl TrainConfig {
    /// The learning rate of update `update` (counted from 0 over the whole
    /// training): Keras' time-based decay, lr / (1 + lr_decay · update).
    pub fn learning_rate(&self, update: usize) -> f64 {
        self.lr / (1.0 + self.lr_decay * update as f64)
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid(format!("the learning rate must be positive, not {}", self.lr), None));
        }
        if self.batch == 0 || self.epochs == 0 {
            return Err(Error::invalid("batch and epochs must be at least 1", None));
        }
        if !(self.lr_decay >= 0.0 && self.lr_decay.is_finite()) {
            return Err(Error::invalid(format!("lr_decay must be ≥ 0, not {}", self.lr_decay), None));
        }
        if !(self.weight_decay >= 0.0) {
            return Err(Error::invalid("weight_decay must be ≥ 0", None));
        }
        Ok(())
    }
}

/// A fold's training state after an epoch: enough to continue it and end
/// bit-identical (CPU) to a training that never stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The last finished epoch (1-based).
    pub epoch: usize,
    /// The network's parameters (with their ids, which key the optimizer state).
    pub weights: std::path::PathBuf,
    /// Adam's moments and step counts.
    pub optimizer: std::path::PathBuf,
    /// The batch-order generator's state.
    pub rng: [u64; 4],
}

/// Checkpoints of one training: where to write them and how often, what to
/// tell the caller when one is written, and one to continue from.
#[derive(Default)]
pub struct Checkpointing<'a> {
    /// Continue from this checkpoint instead of epoch 1.
    pub resume: Option<Checkpoint>,
    /// Where checkpoints go (`DIR/epoch-N/`); `None`: none are written.
    pub dir: Option<std::path::PathBuf>,
    /// Training time between two checkpoints (zero: after every epoch).
    pub every: std::time::Duration,
    /// Called with each checkpoint written and its files.
    pub written: Option<&'a mut dyn FnMut(&Checkpoint, &[std::path::PathBuf]) -> Result<()>>,
}

/// Writes the checkpoint of `epoch` into `dir/epoch-N/` (each file
/// atomically; `state.json`, naming the other two, last).
fn write_checkpoint(
    dir: &std::path::Path,
    epoch: usize,
    model: &FusionNet,
    optim: &burn::optim::ModuleOptimizer,
    rng: &Rng,
) -> Result<Option<(Checkpoint, Vec<std::path::PathBuf>)>> {
    let Some(state) = rng.state() else { return Ok(None) };
    let at = dir.join(format!("epoch-{epoch}"));
    std::fs::create_dir_all(&at).map_err(|e| crate::provenance::io_error(&at, e))?;
    let weights = save(&model.valid(), &at.join("weights"))?;
    let optimizer = at.join("optimizer.bpk");
    crate::provenance::write_atomic_via(&optimizer, |tmp| {
        optim
            .to_record()
            .save(tmp)
            .map_err(|e| Error::invalid(format!("could not save the optimizer state: {e:?}"), None))
    })?;
    let ck = Checkpoint { epoch, weights: weights.clone(), optimizer: optimizer.clone(), rng: state };
    let json = at.join("state.json");
    let text = serde_json::to_string_pretty(&ck)
        .map_err(|e| Error::invalid(format!("could not encode a checkpoint: {e}"), None))?;
    crate::provenance::write_atomic(&json, text.as_bytes())?;
    Ok(Some((ck, vec![weights, optimizer, json])))
}

/// What one epoch gave.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLog {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub val_auc: Option<f64>,
}

/// A batch of samples as tensors on `device`.
fn batch_tensors(s: &Samples, idx: &[usize], device: &Device) -> (Option<Tensor<5>>, Tensor<2>, Tensor<1>, Tensor<1>) {
    let n = idx.len();
    let dose = s.dose.as_ref().map(|d| {
        let vox = s.voxels();
        let mut buf = Vec::with_capacity(n * vox);
        for &i in idx {
            buf.extend_from_slice(&d[i * vox..(i + 1) * vox]);
        }
        let [dd, hh, ww] = s.shape;
        Tensor::<5>::from_data(TensorData::new(buf, [n, 1, dd, hh, ww]), device)
    });
    let mut rad = Vec::with_capacity(n * s.width);
    for &i in idx {
        rad.extend_from_slice(&s.rad[i * s.width..(i + 1) * s.width]);
    }
    let rad = Tensor::<2>::from_data(TensorData::new(rad, [n, s.width]), device);
    let y = Tensor::<1>::from_data(TensorData::new(idx.iter().map(|&i| f32::from(s.y[i])).collect(), [n]), device);
    let w = Tensor::<1>::from_data(TensorData::new(idx.iter().map(|&i| s.weight[i]).collect(), [n]), device);
    (dose, rad, y, w)
}

fn scalar(t: Tensor<1>) -> Result<f64> {
    let v: Vec<f32> =
        t.into_data().try_to_vec().map_err(|e| Error::invalid(format!("reading a tensor back failed: {e:?}"), None))?;
    Ok(v.first().copied().map_or(f64::NAN, f64::from))
}

/// Trains a new network on `train` (already balanced), evaluating `val`
/// after every epoch. `device` must be an autodiff device. Deterministic for
/// a seed on the CPU.
pub fn train(
    net: &NetConfig,
    cfg: &TrainConfig,
    train: &Samples,
    val: Option<&Samples>,
    device: &Device,
    cancelled: &dyn Fn() -> bool,
    on_epoch: &mut dyn FnMut(&EpochLog) -> Result<()>,
    checkpoints: &mut Checkpointing<'_>,
) -> Result<FusionNet> {
    net.validate()?;
    cfg.validate()?;
    train.check(net)?;
    if let Some(v) = val {
        v.check(net)?;
    }
    if train.len() == 0 {
        return Err(Error::invalid("no training samples", None));
    }
    if net.dose {
        super::device::keep_freed_memory();
    }
    device.seed(cfg.seed);
    let mut model = net.init_seeded(device, cfg.seed);
    let mut optim = AdamConfig::new()
        .with_beta_1(cfg.beta1)
        .with_beta_2(cfg.beta2)
        .with_epsilon(cfg.epsilon)
        .with_weight_decay((cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay)))
        .init();
    let mut rng = Rng::derive(cfg.seed, &["cnn", "batches"]);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut first = 1;
    if let Some(ck) = &checkpoints.resume {
        model = model.try_load_file(&ck.weights).map_err(|e| {
            Error::invalid(format!("could not load the checkpoint {}: {e:?}", ck.weights.display()), None)
        })?;
        let record = burn::optim::OptimizerRecord::load(&ck.optimizer).map_err(|e| {
            Error::invalid(format!("could not load the checkpoint {}: {e:?}", ck.optimizer.display()), None)
        })?;
        optim = optim.load_record(record);
        // Each epoch shuffles the previous epoch's order: replay them, and
        // the generator must then be where the checkpoint left it.
        for _ in 0..ck.epoch {
            rng.shuffle(&mut order);
        }
        if rng.state() != Some(ck.rng) {
            return Err(Error::invalid(
                format!(
                    "the checkpoint {} was written by a different training (its batch order does not match)",
                    ck.weights.display()
                ),
                None,
            ));
        }
        first = ck.epoch + 1;
    }
    let mut last_checkpoint = std::time::Instant::now();
    let mut previous: Option<usize> = None;
    // Updates so far (a continued training counts the epochs before its checkpoint).
    let mut iteration = (first - 1) * order.len().div_ceil(cfg.batch);
    for epoch in first..=cfg.epochs {
        rng.shuffle(&mut order);
        let (mut total, mut weight) = (0.0, 0.0);
        for chunk in order.chunks(cfg.batch) {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let (dose, rad, y, w) = batch_tensors(train, chunk, device);
            let logits = model.forward(dose, rad);
            let loss = bce_with_logits(logits, y, Some(w));
            let value = scalar(loss.clone())?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cfg.learning_rate(iteration), model, grads);
            iteration += 1;
            let bw: f64 = chunk.iter().map(|&i| f64::from(train.weight[i])).sum();
            total += value * bw;
            weight += bw;
        }
        let train_loss = total / weight;
        if !train_loss.is_finite() {
            return Err(Error::invalid(
                format!("training diverged at epoch {epoch} (loss {train_loss})"),
                Some("lower the learning rate"),
            ));
        }
        let (val_loss, val_auc) = match val {
            Some(v) if v.len() > 0 => {
                let inference = super::device::without_autodiff(device);
                let p = predict(&evaluation_model(&model, train, &inference), v, &inference)?;
                (Some(log_loss(&p, &v.y)), Some(auc(&p, &v.y)))
            }
            _ => (None, None),
        };
        on_epoch(&EpochLog { epoch, train_loss, val_loss, val_auc })?;
        if let Some(dir) = &checkpoints.dir
            && epoch < cfg.epochs
            && last_checkpoint.elapsed() >= checkpoints.every
        {
            if let Some((ck, files)) = write_checkpoint(dir, epoch, &model, &optim, &rng)? {
                if let Some(written) = checkpoints.written.as_mut() {
                    written(&ck, &files)?;
                }
                // The previous checkpoint of this training is superseded.
                if let Some(e) = previous.replace(epoch) {
                    let _ = std::fs::remove_dir_all(dir.join(format!("epoch-{e}")));
                }
            }
            last_checkpoint = std::time::Instant::now();
        }
    }
    Ok(model)
}

/// A trained network without its autodiff graph, for prediction.
pub fn for_inference(model: &FusionNet) -> FusionNet {
    model.valid()
}

/// The network for evaluation: without autodiff, and with every
/// BatchNorm's statistics those of the whole training set (`train`, the
/// samples it was trained on) under the final weights, instead of the
/// running averages of batch statistics taken while the weights moved.
/// With a few dozen Adam steps (the quick profile: 7 batches × 12 epochs)
/// the running averages (momentum 0.1) still mix in the statistics of early
/// weights and of single batches of 16, and the held-out loss jumps from
/// epoch to epoch; see docs/deep_model.md for the measurements.
pub fn evaluation_model(model: &FusionNet, train: &Samples, inference: &Device) -> FusionNet {
    let mut m = model.valid();
    if m.has_dose() {
        let idx: Vec<usize> = (0..train.len()).collect();
        let xs = idx.chunks(16).filter_map(|c| batch_tensors(train, c, inference).0).collect();
        m.set_population_statistics(xs);
    }
    m
}

/// Mean binary cross-entropy of probabilities (clipped at 1e-7).
pub fn log_loss(p: &[f64], y: &[u8]) -> f64 {
    let n = p.len().max(1) as f64;
    p.iter()
        .zip(y)
        .map(|(&p, &t)| {
            let p = p.clamp(1e-7, 1.0 - 1e-7);
            if t == 1 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// Probabilities for every sample, in batches of 16, without autodiff
/// (BatchNorm uses its running statistics).
pub fn predict(model: &FusionNet, s: &Samples, device: &Device) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(s.len());
    let idx: Vec<usize> = (0..s.len()).collect();
    for chunk in idx.chunks(16) {
        let (dose, rad, _, _) = batch_tensors(s, chunk, device);
        let dose = if model.has_dose() { dose } else { None };
        let p: Vec<f32> = sigmoid(model.forward(dose, rad))
            .into_data()
            .try_to_vec()
            .map_err(|e| Error::invalid(format!("reading predictions back failed: {e:?}"), None))?;
        out.extend(p.into_iter().map(f64::from));
    }
    Ok(out)
}

/// Saves weights (`PATH.bpk`) and returns the file written.
pub fn save(model: &FusionNet, path: &std::path::Path) -> Result<std::path::PathBuf> {
    let mut file = path.as_os_str().to_owned();
    if path.extension().is_none_or(|e| e != "bpk") {
        file.push(".bpk");
    }
    let file = std::path::PathBuf::from(file);
    // The recorder writes the file itself: it writes a temporary name that
    // is renamed into place, so a killed run never leaves torn weights.
    crate::provenance::write_atomic_via(&file, |tmp| {
        model
            .clone()
            .save_file(tmp)
            .map(|_| ())
            .map_err(|e| Error::invalid(format!("could not save the model to {}: {e:?}", file.display()), None))
    })?;
    Ok(file)
}

/// Loads weights saved by [`save`] into a network of `net`'s shape.
pub fn load(net: &NetConfig, path: &std::path::Path, device: &Device) -> Result<FusionNet> {
    net.validate()?;
    net.init(device)
        .try_load_file(path)
        .map_err(|e| Error::invalid(format!("could not load the model from {}: {e:?}", path.display()), None))
}

struct Collect(Vec<f32>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if let Ok(v) = param.val().into_data().try_to_vec::<f32>() {
            self.0.extend(v);
        }
    }
}

/// Every trainable value of a network, in a fixed order (for comparing two
/// trainings bit for bit; the weights file also holds random parameter ids).
pub fn weights(model: &FusionNet) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

struct CountTrainable(usize);

impl burn::module::ModuleVisitor for CountTrainable {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let t = param.val();
        if t.is_require_grad() {
            self.0 += t.dims().iter().product::<usize>();
        }
    }
}

/// Trainable values (what PyTorch counts as parameters; burn's `num_params`
/// also counts BatchNorm's running statistics). Needs an autodiff device.
pub fn trainable_parameters(model: &FusionNet) -> usize {
    let mut c = CountTrainable(0);
    model.visit(&mut c);
    c.0
}
