//! `select FRAME --method …`: exploratory feature selection on a whole frame.
//! It says plainly that it saw every patient: for honest estimates the same
//! step goes inside a pipeline and `cv` fits it per training fold.

use crate::core::learn::lasso::{Scoring, default_cs, l1_logistic_cv, lasso_cv};
use crate::core::learn::steps::{
    BinStrategy, chi2_scores, fit_discretize, fit_standardize, mann_whitney_scores, top_k,
};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::FrameParams;
use crate::workflow::features::feature_input;

/// Features kept without `--k`.
const DEFAULT_KEEP: usize = 10;

pub struct Select;

impl Command for Select {
    fn signature(&self) -> Signature {
        Signature::new("select", "learning", "Score and select features on a whole frame (exploratory)")
            .required("FRAME", ArgKind::Frame, "a feature frame (id, outcome, numeric features)")
            .named("method", "M", ArgKind::Text, "chi2, mannwhitney, lassocv or lasso-logistic (default mannwhitney)")
            .defaulted("k", "N", ArgKind::Int, "how many to keep", DEFAULT_KEEP)
            .named("bins", "B", ArgKind::Int, "chi2: quantile-bin the values first (needed for negative values)")
            .seed_flag("lasso-logistic's inner folds")
            .table()
            .example("select A --method mannwhitney --k 2", "the two features that best separate the outcome in A")
            .example("select A --method chi2 --bins 5 --k 2", "chi-square screen on binned values")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let input = feature_input(session, frame)?;
        let k: usize = args.parsed("k", "a number of features")?.unwrap_or(DEFAULT_KEEP).min(input.names.len());
        let method = args.value("method").map_or("mannwhitney", |t| t.text.as_str()).to_string();
        let seed: u64 = args.seed()?;
        let run = session.begin_run(
            args,
            RunKind::Select,
            &FrameParams { method: Some(method.clone()), k: Some(k), ..FrameParams::of(&frame.text) },
            Some(seed),
        )?;
        for &d in &input.dataset_ids {
            session.store().link_dataset(run, d)?;
        }
        let (x, y) = (&input.x, &input.y);
        let (scores, label): (Vec<f64>, &str) = match method.as_str() {
            "chi2" => {
                let scored = match args.parsed::<usize>("bins", "a number of bins")? {
                    Some(b) => fit_discretize(x, b, BinStrategy::Quantile)?.transform(x),
                    None => x.clone(),
                };
                (chi2_scores(&scored, y, &input.names)?.0, "chi-square")
            }
            "mannwhitney" => (mann_whitney_scores(x, y)?.into_iter().map(|s| 1.0 - s).collect(), "p-value"),
            "lassocv" | "lasso-logistic" => {
                let xs = fit_standardize(x).transform(x);
                let coef = if method == "lassocv" {
                    lasso_cv(&xs, &y.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), 5, 1e-6)?.model.coef
                } else {
                    l1_logistic_cv(&xs, y, &default_cs(10), 5, Scoring::Accuracy, seed, 1e-8)?.0.coef
                };
                (coef, "coefficient (standardised)")
            }
            other => {
                return Err(Error::invalid(
                    format!("unknown method `{other}`"),
                    Some("use chi2, mannwhitney, lassocv or lasso-logistic"),
                ));
            }
        };
        let ranking: Vec<f64> = match method.as_str() {
            "mannwhitney" => scores.iter().map(|p| -p).collect(),
            "lassocv" | "lasso-logistic" => scores.iter().map(|c| if *c == 0.0 { f64::NAN } else { c.abs() }).collect(),
            _ => scores.clone(),
        };
        // A zero LASSO coefficient (ranked NaN) is never selected.
        let keep: Vec<usize> = top_k(&ranking, k).into_iter().filter(|&i| !ranking[i].is_nan()).collect();
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| if ranking[i].is_nan() { f64::NEG_INFINITY } else { ranking[i] };
            key(b).total_cmp(&key(a))
        });
        let mut t = Table::new(["feature", label, "selected"]).with_title(format!(
            "select {} --method {method} (n = {})",
            frame.text,
            y.len()
        ));
        for &i in &order {
            t.push(vec![input.names[i].as_str().into(), scores[i].into(), Cell::Bool(keep.contains(&i))]);
        }
        t.notes.push(crate::workflow::lookup::EXPLORATORY.into());
        let selected = serde_json::to_string(&keep.iter().map(|&i| &input.names[i]).collect::<Vec<_>>()).ok();
        session.store().log_params(
            run,
            &FrameParams { method: Some(method), k: Some(k), selected, ..FrameParams::of(&frame.text) },
        )?;
        Ok(Output::Table(t))
    }
}
