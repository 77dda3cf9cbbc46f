//! What `model`, `train`, `test` and `predict` share above `ml`: gathering
//! a cohort's inputs from the session (radiomics frames COHORT.SEQ aligned
//! by patient, the dose crops), a fitted model's files recorded as a run's
//! artifacts, the `--device` flag and the training grid (`--grid`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::features::{joined_inputs, positions};
use crate::data::frame;
use crate::error::{Error, Result};
use crate::ml::fit::{CohortInputs, Fitted};
use crate::ml::spec::{DoseScale, ModelSpec};
use crate::ml::train::TrainConfig;
use crate::session::Session;
use crate::store::{RunId, Store};
use crate::syntax::Token;

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
                let idx = positions(&input.names, wanted).map_err(|w| {
                    Error::invalid(
                        format!("frame `{}` has no column `{w}`, which the trained model uses", input.label),
                        Some("extract the frame with the same settings as the training cohort"),
                    )
                })?;
                (input.x.select_cols(&idx), wanted.clone())
            }
            None => (input.x, input.names),
        };
        frames.push((spec.sequences[i].clone(), x, names));
    }
    let simulated = frame.origin.as_ref().is_some_and(|o| o.simulated());
    let dose = if spec.dose {
        let (origin, manifest) = crate::workflow::lookup::cohort_of(frame, cohort)?;
        let scales = dose_scales(session, cohort, &spec.dose_scale, &ids)?;
        let workers = crate::threads::count();
        let cancel = session.cancel_flag();
        let crops = crate::imaging::dose_input::dose_crops(
            &origin.path,
            &manifest,
            &ids,
            &spec.roi,
            (spec.input, spec.dose_crop),
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

/// A checkpoint's own file (beside its weights and optimizer state).
pub const CHECKPOINT_STATE: &str = "state.json";

/// Minutes of training between checkpoints without `--checkpoint-minutes`.
const CHECKPOINT_MINUTES: f64 = 3.0;

/// `--checkpoint-minutes M` (default 3; 0: after every epoch; `off`: none).
pub fn checkpoint_every(args: &crate::signature::Args) -> Result<Option<std::time::Duration>> {
    match args.value("checkpoint-minutes") {
        None => Ok(Some(std::time::Duration::from_secs_f64(CHECKPOINT_MINUTES * 60.0))),
        Some(t) if t.text == "off" => Ok(None),
        Some(t) => match t.text.parse::<f64>() {
            Ok(m) if m >= 0.0 && m.is_finite() => Ok(Some(std::time::Duration::from_secs_f64(m * 60.0))),
            _ => Err(Error::InvalidValue {
                token: t.text.clone(),
                what: "--checkpoint-minutes".into(),
                reason: "a number of minutes ≥ 0, or `off`".into(),
                span: t.span,
            }),
        },
    }
}

/// The latest checkpoint an unfinished run recorded whose files all still
/// have their recorded hashes.
pub fn checkpoint_of(store: &Store, run: RunId) -> Result<Option<crate::ml::train::Checkpoint>> {
    let detail = store.run_detail(run)?;
    let hash_ok = |path: &Path| {
        let p = path.display().to_string();
        detail.artifacts.iter().any(|(a, h)| *a == p && crate::provenance::sha256_file(path).is_ok_and(|now| now == *h))
    };
    let mut best: Option<crate::ml::train::Checkpoint> = None;
    for (path, _) in detail.artifacts.iter().filter(|(p, _)| p.ends_with(CHECKPOINT_STATE)) {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let Ok(ck) = serde_json::from_str::<crate::ml::train::Checkpoint>(&text) else { continue };
        let complete = hash_ok(Path::new(path)) && hash_ok(&ck.weights) && hash_ok(&ck.optimizer);
        if complete && best.as_ref().is_none_or(|b| ck.epoch > b.epoch) {
            best = Some(ck);
        }
    }
    Ok(best)
}

/// Where `run`'s checkpoints go: `BASE/run-ID/checkpoint`.
pub fn checkpoint_dir(base: &Path, run: RunId) -> PathBuf {
    base.join(format!("run-{run}")).join("checkpoint")
}

/// Records a checkpoint's files as artifacts of `run` with their hashes,
/// and its epoch as the metric `checkpoint_epoch`.
pub fn record_checkpoint(
    store: &Store,
    run: RunId,
    fold: Option<i64>,
    ck: &crate::ml::train::Checkpoint,
    files: &[PathBuf],
) -> Result<()> {
    for file in files {
        let hash = crate::provenance::sha256_file(file)?;
        store.log_artifact(run, &file.to_string_lossy(), &hash)?;
    }
    store.log_metric(run, "checkpoint_epoch", ck.epoch as f64, None, fold)
}

/// A finished training's checkpoints are pruned: files and records.
pub fn prune_checkpoints(store: &Store, run: RunId, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    }
    store.forget_artifacts_under(run, &dir.to_string_lossy())?;
    Ok(())
}

/// The grid's keys and what they set.
const GRID_KEYS: &[&str] = &["lr", "batch", "epochs", "weight_decay", "beta1", "beta2", "lr_decay"];

/// `lr=1e-3,3e-4 batch=16` → every combination, in the order given.
pub fn parse_grid(items: &[&Token], base: &TrainConfig) -> Result<Vec<TrainConfig>> {
    let mut configs = vec![base.clone()];
    let mut seen: Vec<String> = Vec::new();
    for tok in items {
        let bad = |reason: String| Error::InvalidValue {
            token: tok.text.clone(),
            what: "--grid".into(),
            reason,
            span: tok.span,
        };
        let Some((key, values)) = tok.text.split_once('=') else {
            return Err(bad("write KEY=V1,V2 (keys: lr, batch, epochs, weight_decay, beta1, beta2, lr_decay)".into()));
        };
        let key = match key.to_ascii_lowercase().as_str() {
            "wd" => "weight_decay".to_string(),
            "decay" => "lr_decay".to_string(),
            k => k.to_string(),
        };
        if !GRID_KEYS.contains(&key.as_str()) {
            let hint =
                crate::error::suggest(&key, GRID_KEYS.iter().copied()).map(|s| format!(" (did you mean `{s}`?)"));
            return Err(bad(format!(
                "unknown grid key `{key}`{}; keys: {}",
                hint.unwrap_or_default(),
                GRID_KEYS.join(", ")
            )));
        }
        if seen.contains(&key) {
            return Err(bad(format!("`{key}` is given twice")));
        }
        seen.push(key.clone());
        let mut next = Vec::new();
        let values: Vec<&str> = values.split(',').map(str::trim).collect();
        for v in &values {
            let num: f64 = v.parse().map_err(|_| bad(format!("`{v}` is not a number")))?;
            for c in &configs {
                let mut c = c.clone();
                match key.as_str() {
                    "lr" => c.lr = num,
                    "batch" | "epochs" => {
                        if num < 1.0 || num.fract() != 0.0 {
                            return Err(bad(format!("{key} must be a whole number ≥ 1, not {v}")));
                        }
                        if key == "batch" { c.batch = num as usize } else { c.epochs = num as usize }
                    }
                    "weight_decay" => c.weight_decay = num as f32,
                    "beta1" => c.beta1 = num as f32,
                    "lr_decay" => c.lr_decay = num,
                    _ => c.beta2 = num as f32,
                }
                c.validate().map_err(|e| bad(e.to_string()))?;
                next.push(c);
            }
        }
        configs = next;
    }
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_takes_keras_learning_rate_decay() {
        let st = crate::syntax::parse("x lr_decay=0,1e-5 wd=1e-4", 1).unwrap().remove(0);
        let items: Vec<&Token> = st.tokens[1..].iter().collect();
        let configs = parse_grid(&items, &TrainConfig::new()).unwrap();
        assert_eq!(configs.iter().map(|c| c.lr_decay).collect::<Vec<_>>(), vec![0.0, 1e-5]);
        assert!(configs.iter().all(|c| c.weight_decay == 1e-4));
        let st = crate::syntax::parse("x decay=-1", 1).unwrap().remove(0);
        assert!(parse_grid(&[&st.tokens[1]], &TrainConfig::new()).is_err());
    }
}
