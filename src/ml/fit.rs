//! One deep model fitted fold-safely: selection and PCA fitted on the
//! training rows, balancing (SMOTE with real dose plans, oversampling or
//! weights) of the training rows only, the network trained, held-out rows
//! predicted; and a fitted model saved to and loaded from a folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::learn::matrix::Matrix;
use crate::core::learn::pipeline::FittedFeatures;
use crate::error::{Error, Result};
use crate::ml::data::Samples;
use crate::ml::net::{FusionNet, NetConfig};
use crate::ml::spec::ModelSpec;
use crate::ml::train::{EpochLog, TrainConfig};

/// One cohort's inputs to a model, rows in the same patient order.
pub struct CohortInputs {
    pub ids: Vec<String>,
    pub y: Vec<u8>,
    /// (sequence, features, column names) per radiomics frame.
    pub frames: Vec<(String, Matrix, Vec<String>)>,
    /// Dose crops [D, H, W] per patient, scaled.
    pub dose: Option<Vec<Vec<f32>>>,
    pub dataset_ids: Vec<i64>,
    pub simulated: bool,
}

/// A trained model: everything needed to predict new patients.
pub struct Fitted {
    pub spec: ModelSpec,
    pub features: FittedFeatures,
    /// Input columns per sequence, in the order the features were fitted.
    pub columns: Vec<Vec<String>>,
    pub net: NetConfig,
    pub train: TrainConfig,
    pub model: FusionNet,
    /// Synthetic samples balancing added to the training rows (0 when loaded).
    pub synthetic: usize,
}

/// What `model.json` holds beside the weights.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    version: String,
    spec: ModelSpec,
    features: FittedFeatures,
    columns: Vec<Vec<String>>,
    net: serde_json::Value,
    train: serde_json::Value,
}

impl CohortInputs {
    fn rows(&self, idx: &[usize]) -> Vec<(String, Matrix, Vec<String>)> {
        self.frames.iter().map(|(l, x, n)| (l.clone(), x.select_rows(idx), n.clone())).collect()
    }

    fn dose_rows(&self, idx: &[usize]) -> Option<Vec<Vec<f32>>> {
        self.dose.as_ref().map(|d| idx.iter().map(|&i| d[i].clone()).collect())
    }

    /// The samples at `idx` through fitted feature steps.
    pub fn samples(&self, features: &FittedFeatures, spec: &ModelSpec, idx: &[usize]) -> Result<Samples> {
        let mats: Vec<Matrix> = self.rows(idx).into_iter().map(|(_, x, _)| x).collect();
        let x = features.transform(&mats);
        let y: Vec<u8> = idx.iter().map(|&i| self.y[i]).collect();
        Samples::new(&x, self.dose_rows(idx).as_deref(), spec.input, &y)
    }
}

/// Fits selection on `train_idx`, balances those rows, trains the network,
/// and (with `val_idx`) predicts the held-out rows.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    spec: &ModelSpec,
    inputs: &CohortInputs,
    train_idx: &[usize],
    val_idx: Option<&[usize]>,
    cfg: &TrainConfig,
    device: &crate::ml::Device,
    cancelled: &dyn Fn() -> bool,
    on_epoch: &mut dyn FnMut(&EpochLog) -> Result<()>,
    checkpoints: &mut crate::ml::train::Checkpointing<'_>,
) -> Result<(Fitted, Option<Vec<f64>>)> {
    let pipeline = spec.pipeline()?;
    let ytr: Vec<u8> = train_idx.iter().map(|&i| inputs.y[i]).collect();
    let (features, _) = pipeline.fit_features(&inputs.rows(train_idx), &ytr, cfg.seed)?;
    let train = inputs.samples(&features, spec, train_idx)?;
    let net = spec.net(train.width);
    let balanced = train.balanced(spec.balance, crate::core::rng::Rng::sub_seed(cfg.seed, &["balance"]))?;
    let val = val_idx.map(|v| inputs.samples(&features, spec, v)).transpose()?;
    let model = crate::ml::train::train(&net, cfg, &balanced, val.as_ref(), device, cancelled, on_epoch, checkpoints)?;
    let inference = crate::ml::device::without_autodiff(&device);
    let model = crate::ml::train::evaluation_model(&model, &balanced, &inference);
    let probs = val.as_ref().map(|v| crate::ml::train::predict(&model, v, &inference)).transpose()?;
    let columns = inputs.frames.iter().map(|(_, _, n)| n.clone()).collect();
    let synthetic = balanced.synthetic;
    Ok((Fitted { spec: spec.clone(), features, columns, net, train: cfg.clone(), model, synthetic }, probs))
}

/// What the LEAKY arm of `audit leakage` fits on every patient before its
/// folds split them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakyPrefix {
    /// Selection and PCA; balancing stays inside each training fold.
    Features,
    /// Selection, PCA and balancing (SMOTE draws neighbours among all patients).
    FeaturesAndBalance,
}

/// `audit leakage` only — the LEAKY published protocol's samples for a deep
/// model: selection and PCA fitted on every patient (their outcomes
/// included), and with [`LeakyPrefix::FeaturesAndBalance`] every patient
/// balanced together, so the folds that then split these samples put
/// synthetic samples made from held-out patients into training and held-out
/// folds alike. Returns the samples and the network for their width.
pub fn leaky_samples(
    spec: &ModelSpec,
    inputs: &CohortInputs,
    prefix: LeakyPrefix,
    seed: u64,
) -> Result<(Samples, NetConfig)> {
    let all: Vec<usize> = (0..inputs.y.len()).collect();
    let (features, _) = spec.pipeline()?.fit_features(&inputs.rows(&all), &inputs.y, seed)?;
    let samples = inputs.samples(&features, spec, &all)?;
    let net = spec.net(samples.width);
    let samples = match prefix {
        LeakyPrefix::Features => samples,
        LeakyPrefix::FeaturesAndBalance => {
            samples.balanced(spec.balance, crate::core::rng::Rng::sub_seed(seed, &["balance"]))?
        }
    };
    Ok((samples, net))
}

/// `audit leakage` only — one LEAKY fold: the network trained on the
/// samples at `train_idx` (balanced here when the prefix did not balance
/// them already) and the samples at `test_idx` predicted.
#[allow(clippy::too_many_arguments)]
pub fn fit_leaky_fold(
    spec: &ModelSpec,
    net: &NetConfig,
    (samples, prefix): (&Samples, LeakyPrefix),
    train_idx: &[usize],
    test_idx: &[usize],
    cfg: &TrainConfig,
    device: &crate::ml::Device,
    cancelled: &dyn Fn() -> bool,
    on_epoch: &mut dyn FnMut(&EpochLog) -> Result<()>,
) -> Result<Vec<f64>> {
    let mut train = samples.subset(train_idx);
    if prefix == LeakyPrefix::Features {
        train = train.balanced(spec.balance, crate::core::rng::Rng::sub_seed(cfg.seed, &["balance"]))?;
    }
    let val = samples.subset(test_idx);
    let mut none = crate::ml::train::Checkpointing::default();
    let model = crate::ml::train::train(net, cfg, &train, Some(&val), device, cancelled, on_epoch, &mut none)?;
    let inference = crate::ml::device::without_autodiff(device);
    let model = crate::ml::train::evaluation_model(&model, &train, &inference);
    crate::ml::train::predict(&model, &val, &inference)
}

impl Fitted {
    /// Probabilities for every patient of `inputs` (gathered with this
    /// model's columns).
    pub fn predict(&self, inputs: &CohortInputs, device: &crate::ml::Device) -> Result<Vec<f64>> {
        let idx: Vec<usize> = (0..inputs.ids.len()).collect();
        let s = inputs.samples(&self.features, &self.spec, &idx)?;
        crate::ml::train::predict(&self.model, &s, device)
    }

    /// Writes `model.json` and `weights.bpk` into `dir`; returns the files.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
        let manifest = Manifest {
            format: 1,
            version: env!("CARGO_PKG_VERSION").into(),
            spec: self.spec.clone(),
            features: self.features.clone(),
            columns: self.columns.clone(),
            net: serde_json::to_value(&self.net).unwrap_or_default(),
            train: serde_json::to_value(&self.train).unwrap_or_default(),
        };
        let json = dir.join("model.json");
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::invalid(format!("could not encode the model: {e}"), None))?;
        crate::provenance::write_atomic(&json, text.as_bytes())?;
        let weights = crate::ml::train::save(&self.model, &dir.join("weights"))?;
        Ok(vec![json, weights])
    }

    /// Reads a model written by [`Fitted::save`].
    pub fn load(dir: &Path, device: &crate::ml::Device) -> Result<Fitted> {
        let json = dir.join("model.json");
        let text = std::fs::read_to_string(&json).map_err(|e| crate::provenance::io_error(&json, e))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{}: not a radose model ({e})", json.display()), None))?;
        let bad = |what: &str, e: serde_json::Error| {
            Error::invalid(format!("{}: the {what} config does not parse ({e})", json.display()), None)
        };
        let net: NetConfig = serde_json::from_value(m.net).map_err(|e| bad("network", e))?;
        let train: TrainConfig = serde_json::from_value(m.train).map_err(|e| bad("training", e))?;
        let model = crate::ml::train::load(&net, &dir.join("weights.bpk"), device)?;
        Ok(Fitted { spec: m.spec, features: m.features, columns: m.columns, net, train, model, synthetic: 0 })
    }
}
