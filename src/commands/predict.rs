//! `predict RUN on COHORT`: a saved model (the final model of a `test` run,
//! or a fold's model of a `train` run) predicts every patient of a cohort.
//! The weights are checked against the hashes recorded when they were saved.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::PredictParams;
use crate::store::{Prediction, RunKind};
use crate::workflow::deep::{device_choice, gather};

pub struct Predict;

impl Command for Predict {
    fn signature(&self) -> Signature {
        Signature::new("predict", "deep learning", "Predict a cohort with a saved model (a test run's, or a train fold's)")
            .required("RUN", ArgKind::Text, "a `test` or `train-fold` run id that saved a model, or a model name (its latest `test` run)")
            .rest("on COHORT", ArgKind::Text, "`on` and the cohort frame (its radiomics frames are COHORT.SEQ)")
            .named("device", "DEV", ArgKind::Text, "cpu (default), gpu[:N] or cuda[:N]")
            .table()
            .example(
                "model Q = T1+Dose --select mannwhitney:k=8 --input 20x30x30; train Q on A --folds 2 --grid epochs=1; test Q on B; predict Q on B",
                "predict B again with the final model `test Q` saved (or give a run id)",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let run_tok = args.required(0)?;
        let id: i64 = match run_tok.text.parse() {
            Ok(id) => id,
            Err(_) => crate::workflow::lookup::latest_run(session, run_tok, RunKind::Test)?,
        };
        let cohort = args.positionals[1..]
            .iter()
            .find(|t| t.text != "on")
            .ok_or_else(|| Error::invalid("name the cohort: `predict RUN on B`", None))?;
        let detail = session.store().run_detail(id)?;
        let Some((json, _)) = detail.artifacts.iter().find(|(p, _)| p.ends_with("model.json")) else {
            return Err(Error::InvalidValue {
                token: run_tok.text.clone(),
                what: "RUN".into(),
                reason: format!(
                    "run {id} (`{}`) saved no model; use a `test` or `train-fold` run",
                    detail.summary.kind
                ),
                span: run_tok.span,
            });
        };
        for (path, hash) in &detail.artifacts {
            let now = crate::provenance::sha256_file(std::path::Path::new(path))?;
            if &now != hash {
                return Err(Error::invalid(
                    format!("{path} changed since run {id} saved it (sha256 {now}, recorded {hash})"),
                    None,
                ));
            }
        }
        let dir = PathBuf::from(json).parent().map(PathBuf::from).unwrap_or_default();
        let choice = device_choice(args)?;
        let device = choice.inference_device()?;
        let fitted = crate::ml::fit::Fitted::load(&dir, &device)?;
        let inputs = gather(session, &fitted.spec, cohort, Some(&fitted.columns))?;
        let run = session.begin_run(
            args,
            RunKind::Predict,
            &PredictParams {
                model_run: id,
                model: fitted.spec.name.clone(),
                label: fitted.spec.preset.clone(),
                cohort: cohort.text.clone(),
                device: choice.label(),
            },
            None,
        )?;
        for d in &inputs.dataset_ids {
            session.store().link_dataset(run, *d)?;
        }
        let p = fitted.predict(&inputs, &device)?;
        session.store_mut().log_predictions(run, &Prediction::all(None, &inputs.ids, &inputs.y, &p))?;
        let mut t = Table::new(["patient", "probability", "outcome"]).with_title(format!(
            "predict {} ({}) from run {id} on {}, run {run}",
            fitted.spec.name, fitted.spec.preset, cohort.text
        ));
        for ((i, y), p) in inputs.ids.iter().zip(&inputs.y).zip(&p) {
            t.push(vec![i.as_str().into(), Cell::Float(*p), (*y as usize).into()]);
        }
        Ok(Output::Table(t))
    }
}
