//! `holdout PIPELINE on TRAIN… --test TEST…`: fit a pipeline on every
//! patient of the training frames, then predict the test frames once
//! (dataset B in the study). The test patients' probabilities and every
//! test metric are recorded; nothing is fitted on the test frames.

use crate::core::learn::matrix::Matrix;
use crate::core::learn::metrics::youden_threshold;
use crate::error::{Error, Result};
use crate::output::{Output, format_sig};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::ClassicalParams;
use crate::store::{Prediction, RunKind};
use crate::syntax::Token;
use crate::workflow::features::{FeatureInput, joined_inputs, positions};

pub struct Holdout;

impl Command for Holdout {
    fn signature(&self) -> Signature {
        Signature::new("holdout", "learning", "Fit a pipeline on training frames and test it once on held-out frames")
            .required("PIPELINE", ArgKind::Text, "a pipeline declared with `pipeline`")
            .rest("on FRAMES", ArgKind::Frame, "`on` and the training feature frames")
            .named(
                "test",
                "FRAMES",
                ArgKind::Text,
                "comma-separated test frames, one per training frame, same features",
            )
            .seed_flag("every fitted step")
            .named(
                "threshold",
                "T",
                ArgKind::Text,
                "0.5 (default), a probability, or `youden` (chosen on the training data)",
            )
            .label_flag("the frames, e.g. T1+Dose")
            .experiment_flag()
            .table()
            .example("holdout P1 on A --test B", "fit P1 on all of A, test once on B")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let pipeline = crate::workflow::lookup::pipeline_named(session, name)?;
        let train_toks: Vec<Token> = args.positionals[1..].iter().filter(|t| t.text != "on").cloned().collect();
        let Some(test_tok) = args.value("test") else {
            return Err(Error::invalid("holdout needs --test FRAMES", Some("e.g. holdout P1 on A.T1 --test B.T1")));
        };
        let test_toks: Vec<Token> = test_tok
            .text
            .split(',')
            .map(|s| Token { text: s.trim().to_string(), span: test_tok.span, quoted: false })
            .collect();
        if test_toks.len() != train_toks.len() {
            return Err(Error::invalid(
                format!("{} training frame(s) but {} test frame(s)", train_toks.len(), test_toks.len()),
                Some("name one test frame per training frame, in the same order"),
            ));
        }
        let seed: u64 = args.seed()?;
        let train = joined_inputs(session, &train_toks)?;
        let test = joined_inputs(session, &test_toks)?;
        let test_x: Vec<Matrix> = train.iter().zip(&test).map(|(tr, te)| align(tr, te)).collect::<Result<_>>()?;
        let y = train[0].y.clone();
        let label = crate::workflow::lookup::model_label(args, &train_toks);
        let simulated = train_toks
            .iter()
            .chain(&test_toks)
            .any(|t| session.frame(t).ok().and_then(|f| f.origin.as_ref()).is_some_and(|o| o.simulated()));
        let rule = args.value("threshold").map_or("0.5".to_string(), |t| t.text.clone());
        let fixed = crate::workflow::lookup::threshold_rule(args)?;
        let run = session.begin_run_in(
            args,
            RunKind::Holdout,
            &ClassicalParams {
                inputs: Some(train_toks.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(",")),
                test: Some(test_tok.text.clone()),
                threshold_rule: Some(rule.clone()),
                patients_train: Some(y.len()),
                patients_test: Some(test[0].ids.len()),
                ..ClassicalParams::new(label.clone(), simulated, &name.text, &pipeline.text, pipeline.to_json())
            },
            Some(seed),
            args.experiment(),
        )?;
        for d in train.iter().chain(&test).flat_map(|i| i.dataset_ids.iter()) {
            session.store().link_dataset(run, *d)?;
        }
        let labelled: Vec<(String, Matrix, Vec<String>)> =
            train.iter().map(|i| (i.label.clone(), i.x.clone(), i.names.clone())).collect();
        let fitted = pipeline.fit(&labelled, &y, seed)?;
        session.check_cancel()?;
        let threshold = match fixed {
            Some(t) => t,
            None => {
                let train_x: Vec<Matrix> = train.iter().map(|i| i.x.clone()).collect();
                let p = fitted.predict(&train_x)?;
                youden_threshold(&p, &y).ok_or_else(|| Error::invalid("the training data has one class only", None))?
            }
        };
        let p = fitted.predict(&test_x)?;
        let truth = test[0].y.clone();
        session.store_mut().log_predictions(run, &Prediction::all(None, &test[0].ids, &truth, &p))?;
        let title = format!(
            "holdout {} ({label}): fitted on {} patients, tested on {}, run {run}",
            name.text,
            y.len(),
            truth.len()
        );
        let note = format!(
            "threshold {} ({}); every step was fitted on the training frames only",
            format_sig(threshold, 4),
            if rule == "youden" { "Youden's J on the training patients" } else { "fixed" }
        );
        let t = crate::workflow::lookup::record_test_metrics(session, run, &p, &truth, threshold, title, note)?;
        Ok(Output::Table(t))
    }
}

/// The test frame's feature columns in the training frame's order.
fn align(train: &FeatureInput, test: &FeatureInput) -> Result<Matrix> {
    let idx = positions(&test.names, &train.names).map_err(|n| {
        Error::invalid(
            format!("feature `{n}` of `{}` is missing from the test frame `{}`", train.label, test.label),
            Some("test frames need the training frames' features"),
        )
    })?;
    Ok(test.x.select_cols(&idx))
}
