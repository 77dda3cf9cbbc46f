//! What `model`, `train`, `test` and `predict` share: gathering a cohort's
//! inputs (radiomics frames COHORT.SEQ aligned by patient, the dose crops),
//! fitting one model (selection inside the training rows, balancing of the
//! training rows only, the network), and model artifacts on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::features::joined_inputs;
use crate::core::learn::matrix::Matrix;
use crate::core::learn::pipeline::FittedFeatures;
use crate::data::frame;
use crate::error::{Error, Result};
use crate::ml::data::Samples;
use crate::ml::net::{FusionNet, NetConfig};
use crate::ml::spec::{DoseScale, ModelSpec};
use crate::ml::train::{EpochLog, TrainConfig};
use crate::session::Session;
use crate::store::{RunId, Store};
use crate::syntax::Token;

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

fn token(text: String, like: &Token) -> Token {
    Token { text, span: like.span, quoted: false }
}

/// Gathers `cohort`'s inputs for `spec`. With `columns` (a trained model's
/// input columns per sequence), each frame's columns are put in that order
/// and a missing one is an error naming it.
pub fn gather(
    session: &Session,
    spec: &ModelSpec,
    cohort: &Token,
    columns: Option<&[Vec<String>]>,
) -> Result<CohortInputs> {
    let frame = session.frame(cohort)?;
    let toks: Vec<Token> = spec.sequences.iter().map(|s| token(format!("{}.{s}", cohort.text), cohort)).collect();
    for t in &toks {
        if session.frames().get(&t.text).is_none() {
            return Err(Error::invalid(
                format!("model {} needs the radiomics frame `{}`, which is not loaded", spec.name, t.text),
                Some(&format!(
                    "extract it: `extract {} --sequences {} --roi {}`",
                    cohort.text,
                    spec.sequences.join(","),
                    spec.roi
                )),
            ));
        }
    }
    let inputs = joined_inputs(session, &toks)?;
    let ids = inputs[0].ids.clone();
    let y = inputs[0].y.clone();
    let mut frames = Vec::new();
    let mut dataset_ids = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        dataset_ids.extend(input.dataset_ids.iter().copied());
        let (x, names) = match columns.and_then(|c| c.get(i)) {
            Some(wanted) => {
                let mut idx = Vec::with_capacity(wanted.len());
                for w in wanted {
                    let Some(p) = input.names.iter().position(|n| n == w) else {
                        return Err(Error::invalid(
                            format!("frame `{}` has no column `{w}`, which the trained model uses", input.label),
                            Some("extract the frame with the same settings as the training cohort"),
                        ));
                    };
                    idx.push(p);
                }
                (input.x.select_cols(&idx), wanted.clone())
            }
            None => (input.x, input.names),
        };
        frames.push((spec.sequences[i].clone(), x, names));
    }
    let simulated = frame.origin.as_ref().is_some_and(|o| o.simulated());
    let dose = if spec.dose {
        let (origin, manifest) = super::load::cohort_of(frame, cohort)?;
        let scales = dose_scales(session, cohort, &spec.dose_scale, &ids)?;
        let workers = crate::threads::count();
        let cancel = session.cancel_flag();
        let crops = crate::imaging::dose_input::dose_crops(
            &origin.path,
            &manifest,
            &ids,
            &spec.roi,
            spec.input,
            &scales,
            workers,
            &|| cancel.is_cancelled(),
        )?;
        dataset_ids.extend(origin.dataset_ids.iter().copied());
        Some(crops)
    } else {
        None
    };
    dataset_ids.sort_unstable();
    dataset_ids.dedup();
    Ok(CohortInputs { ids, y, frames, dose, dataset_ids, simulated })
}

/// Each patient's dose divisor.
fn dose_scales(session: &Session, cohort: &Token, scale: &DoseScale, ids: &[String]) -> Result<Vec<f64>> {
    match scale {
        DoseScale::Gy(g) if *g > 0.0 && g.is_finite() => Ok(vec![*g; ids.len()]),
        DoseScale::Gy(g) => Err(Error::invalid(format!("--dose-scale {g} must be a positive number of Gy"), None)),
        DoseScale::Column(col) => {
            let f = session.frame(cohort)?;
            let id_col = f.roles.id.clone().unwrap_or_default();
            let ids_of = frame::column(&f.df, &id_col)
                .map(|c| c.values.as_text().into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>())
                .unwrap_or_default();
            let values = frame::column(&f.df, col).and_then(|c| c.values.as_f64()).ok_or_else(|| {
                Error::invalid(
                    format!("frame `{}` has no numeric column `{col}` to scale the dose by", cohort.text),
                    Some("give --dose-scale COLUMN (the prescription in Gy) or --dose-scale 60 (Gy)"),
                )
            })?;
            let by_id: BTreeMap<&str, Option<f64>> = ids_of.iter().map(String::as_str).zip(values).collect();
            ids.iter()
                .map(|id| match by_id.get(id.as_str()) {
                    Some(Some(v)) => Ok(*v),
                    _ => Err(Error::invalid(
                        format!("patient {id}: `{col}` is missing in `{}`, so the dose cannot be scaled", cohort.text),
                        None,
                    )),
                })
                .collect()
        }
    }
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
) -> Result<(Fitted, Option<Vec<f64>>)> {
    let pipeline = spec.pipeline()?;
    let ytr: Vec<u8> = train_idx.iter().map(|&i| inputs.y[i]).collect();
    let (features, _) = pipeline.fit_features(&inputs.rows(train_idx), &ytr, cfg.seed)?;
    let train = inputs.samples(&features, spec, train_idx)?;
    let net = spec.net(train.width);
    let balanced = train.balanced(spec.balance, crate::core::rng::Rng::sub_seed(cfg.seed, &["balance"]))?;
    let val = val_idx.map(|v| inputs.samples(&features, spec, v)).transpose()?;
    let model = crate::ml::train::train(&net, cfg, &balanced, val.as_ref(), device, cancelled, on_epoch)?;
    let inference = crate::ml::device::without_autodiff(&device);
    let model = crate::ml::train::for_inference(&model);
    let probs = val.as_ref().map(|v| crate::ml::train::predict(&model, v, &inference)).transpose()?;
    let columns = inputs.frames.iter().map(|(_, _, n)| n.clone()).collect();
    let synthetic = balanced.synthetic;
    Ok((Fitted { spec: spec.clone(), features, columns, net, train: cfg.clone(), model, synthetic }, probs))
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

/// Saves `fitted` into `BASE/run-ID/SUB` as artifacts of `run` and records their hashes.
pub fn save_artifacts(store: &Store, base: &Path, run: RunId, fitted: &Fitted, sub: &str) -> Result<PathBuf> {
    let dir = base.join(format!("run-{run}")).join(sub);
    for file in fitted.save(&dir)? {
        let hash = crate::provenance::sha256_file(&file)?;
        store.log_artifact(run, &file.to_string_lossy(), &hash)?;
    }
    Ok(dir)
}

/// The device flag of a command (`cpu` by default).
pub fn device_choice(args: &crate::signature::Args) -> Result<crate::ml::device::DeviceChoice> {
    match args.value("device") {
        Some(t) => crate::ml::device::DeviceChoice::parse(&t.text).map_err(|e| crate::error::Error::InvalidValue {
            token: t.text.clone(),
            what: "--device".into(),
            reason: e.to_string(),
            span: t.span,
        }),
        None => Ok(crate::ml::device::DeviceChoice::Cpu),
    }
}
