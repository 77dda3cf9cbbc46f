//! `holdout PIPELINE on TRAIN… --test TEST…`: fit a pipeline on every
//! patient of the training frames, then predict the test frames once
//! (dataset B in the study). The test patients' probabilities and every
//! test metric are recorded; nothing is fitted on the test frames.

use super::features::{FeatureInput, joined_inputs};
use crate::core::learn::matrix::Matrix;
use crate::core::learn::metrics::{at_threshold, auc, brier, calibration, delong, youden_threshold};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table, format_sig};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::{ClassicalParams, HeldOutMetrics};
use crate::store::{Prediction, RunKind};
use crate::syntax::Token;

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
            .named("seed", "N", ArgKind::Int, "seed for every fitted step (default 7)")
            .named(
                "threshold",
                "T",
                ArgKind::Text,
                "0.5 (default), a probability, or `youden` (chosen on the training data)",
            )
            .named("label", "NAME", ArgKind::Text, "the model's name in reports (default: the frames, e.g. T1+Dose)")
            .named(
                "experiment",
                "NAME",
                ArgKind::Text,
                "file the run under an experiment (for `report NAME --experiment NAME`)",
            )
            .table()
            .example("holdout P1 on A --test B", "fit P1 on all of A, test once on B")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let pipeline = super::pipeline::lookup(session, name)?;
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
        let seed: u64 = args.parsed("seed", "a non-negative whole number")?.unwrap_or(7);
        let train = joined_inputs(session, &train_toks)?;
        let test = joined_inputs(session, &test_toks)?;
        let test_x: Vec<Matrix> = train.iter().zip(&test).map(|(tr, te)| align(tr, te)).collect::<Result<_>>()?;
        let y = train[0].y.clone();
        let label = super::cv::model_label(args, &train_toks);
        let simulated = train_toks
            .iter()
            .chain(&test_toks)
            .any(|t| session.frame(t).ok().and_then(|f| f.origin.as_ref()).is_some_and(|o| o.simulated()));
        let rule = args.value("threshold").map_or("0.5".to_string(), |t| t.text.clone());
        let fixed = threshold_rule(args)?;
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
            args.value("experiment").map(|t| t.text.clone()),
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
        let t = record_test_metrics(session, run, &p, &truth, threshold, title, note)?;
        Ok(Output::Table(t))
    }
}

/// `--threshold P|youden` (default 0.5): `Some(P)` for a fixed probability,
/// `None` for Youden's J on the training patients. Checked before any work.
pub fn threshold_rule(args: &Args) -> Result<Option<f64>> {
    let Some(tok) = args.value("threshold") else { return Ok(Some(0.5)) };
    if tok.text == "youden" {
        return Ok(None);
    }
    match tok.text.parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(Some(t)),
        _ => Err(Error::InvalidValue {
            token: tok.text.clone(),
            what: "--threshold".into(),
            reason: "expected a probability in [0, 1] or `youden`".into(),
            span: tok.span,
        }),
    }
}

/// Logs a test set's metrics (AUC with DeLong CI, threshold metrics, Brier,
/// calibration) on `run` and returns them as a table.
pub fn record_test_metrics(
    session: &Session,
    run: i64,
    p: &[f64],
    truth: &[u8],
    threshold: f64,
    title: String,
    note: String,
) -> Result<Table> {
    let m = at_threshold(p, truth, threshold);
    let a = auc(p, truth);
    let ci = delong(p, truth).map(|d| d.ci(0.95));
    let cal = calibration(p, truth);
    let mut rows = vec![
        ("auc", a),
        ("acc", m.accuracy),
        ("f1", m.f1),
        ("sensitivity", m.sensitivity),
        ("specificity", m.specificity),
        ("ppv", m.ppv),
        ("npv", m.npv),
        ("brier", brier(p, truth)),
        ("threshold", threshold),
    ];
    if let Some((lo, hi)) = ci {
        rows.extend([("auc_ci_low", lo), ("auc_ci_high", hi)]);
    }
    if let Some(c) = &cal {
        rows.extend([("calibration_intercept", c.intercept), ("calibration_slope", c.slope)]);
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let record = HeldOutMetrics {
        auc: finite(a),
        acc: finite(m.accuracy),
        f1: finite(m.f1),
        sensitivity: finite(m.sensitivity),
        specificity: finite(m.specificity),
        ppv: finite(m.ppv),
        npv: finite(m.npv),
        brier: finite(brier(p, truth)),
        threshold: finite(threshold),
        auc_ci_low: ci.and_then(|c| finite(c.0)),
        auc_ci_high: ci.and_then(|c| finite(c.1)),
        calibration_intercept: cal.as_ref().and_then(|c| finite(c.intercept)),
        calibration_slope: cal.as_ref().and_then(|c| finite(c.slope)),
    };
    session.store().log_metrics(run, None, &record)?;
    let mut t = Table::new(["metric", "value"]).with_title(title);
    for (k, v) in rows {
        t.push(vec![k.into(), finite(v).map_or(Cell::Null, Cell::Float)]);
    }
    if let Some((lo, hi)) = ci {
        t.notes.push(format!("AUC {} (95% CI {}–{}, DeLong)", format_sig(a, 3), format_sig(lo, 3), format_sig(hi, 3)));
    }
    t.notes.push(note);
    Ok(t)
}

/// The test frame's feature columns in the training frame's order.
fn align(train: &FeatureInput, test: &FeatureInput) -> Result<Matrix> {
    let mut idx = Vec::with_capacity(train.names.len());
    for n in &train.names {
        let Some(i) = test.names.iter().position(|m| m == n) else {
            return Err(Error::invalid(
                format!("feature `{n}` of `{}` is missing from the test frame `{}`", train.label, test.label),
                Some("test frames need the training frames' features"),
            ));
        };
        idx.push(i);
    }
    Ok(test.x.select_cols(&idx))
}
