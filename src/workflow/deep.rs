//! What `model`, `train`, `test` and `predict` share above `ml`: gathering
//! a cohort's inputs from the session (radiomics frames COHORT.SEQ aligned
//! by patient, the dose crops), a fitted model's files recorded as a run's
//! artifacts, and the `--device` flag.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::features::{joined_inputs, positions};
use crate::data::frame;
use crate::error::{Error, Result};
use crate::ml::fit::{CohortInputs, Fitted};
use crate::ml::spec::{DoseScale, ModelSpec};
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
