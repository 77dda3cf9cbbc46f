//! `plot features RUN [--top N]`: the features a `cv` run (or a `train`
//! run's best configuration) selected most often across its folds, standardised over the patients of their frames
//! and drawn as box plots by outcome.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};
use crate::store::records::{ClassicalParams, CvFoldParams, TrainConfigParams, TrainFoldParams, TrainParams};
use crate::store::{Params, RunKind};
use crate::syntax::Token;
use crate::workflow::explore;
use crate::workflow::features::feature_input;
use crate::workflow::figures::figure_output;

/// Features drawn without `--top`.
const DEFAULT_TOP: usize = 8;

pub struct PlotFeatures;

impl Command for PlotFeatures {
    fn signature(&self) -> Signature {
        Signature::new("plot features", "exploration", "The features a run selected, standardised, by outcome")
            .required("RUN", ArgKind::Run, "a cv run, or a train run of a model with --select")
            .defaulted("top", "N", ArgKind::Int, "the N features selected in most folds", DEFAULT_TOP)
            .switch("violin", "violins instead of box plots")
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot features 4 --top 3", "the three features cv run 4 selected most often, by outcome")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let run_tok = args.required(0)?;
        let id: i64 = parse_token(run_tok, "RUN", "a run id (a whole number)")?;
        let (label, inputs, selections) = selections_of(session, id)?;
        let folds = selections.len();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in selections.into_iter().flatten() {
            *counts.entry(s).or_default() += 1;
        }
        let top: usize = args.parsed("top", "a number of features")?.unwrap_or(DEFAULT_TOP).max(1);
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(top);
        if ranked.is_empty() {
            return Err(Error::invalid(format!("run {id} recorded no selected features"), None));
        }
        // Each feature's values by outcome, standardised over its frame's patients.
        let mut features = Vec::new();
        let mut values: Vec<Vec<Vec<f64>>> = Vec::new();
        for (name, _) in &ranked {
            // A multi-input model names features `INPUT:feature` (the frame, or its sequence).
            let of_input = |prefix: &str| inputs.iter().find(|i| *i == prefix || i.ends_with(&format!(".{prefix}")));
            let (frame, column) = match name.split_once(':') {
                Some((f, c)) if of_input(f).is_some() => (of_input(f).cloned().unwrap_or_default(), c.to_string()),
                _ => (inputs.first().cloned().unwrap_or_default(), name.clone()),
            };
            let tok = Token { text: frame.clone(), span: run_tok.span, quoted: false };
            let input = feature_input(session, &tok).map_err(|e| match e {
                Error::UnknownFrame { .. } => Error::invalid(
                    format!("run {id} read frame `{frame}`, which is not in this session"),
                    Some("load or extract it again (`load NAME PATH --features DIR` reattaches extracted frames)"),
                ),
                e => e,
            })?;
            let Some(c) = input.names.iter().position(|n| *n == column) else {
                return Err(Error::invalid(
                    format!("frame `{frame}` has no feature `{column}` (run {id} selected it)"),
                    None,
                ));
            };
            let x = input.x.column(c);
            let (mean, sd) = crate::core::describe::mean_sd(&x);
            let z: Vec<f64> = x.iter().map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 }).collect();
            let by = |g: u8| z.iter().zip(&input.y).filter(|(_, y)| **y == g).map(|(v, _)| *v).collect::<Vec<f64>>();
            features.push(name.clone());
            values.push(vec![by(0), by(1)]);
        }
        let violin = args.has("violin");
        let what = format!("top {} of run {id}", features.len());
        let run = explore::record(session, args, "plot features", &inputs, Some(what.clone()))?;
        let title = format!("{label} — features selected most often in {folds} folds (z-scores)");
        let groups = vec!["outcome = 0".to_string(), "outcome = 1".to_string()];
        let times: Vec<usize> = ranked.iter().map(|r| r.1).collect();
        let data = serde_json::json!({ "features": &features, "selected_in": times, "values": &values, "run": id });
        let fig =
            Figure::Distribution { title: title.clone(), features, groups, values, violin, y_label: "z-score".into() };
        figure_output(args, session, run, title, &fig, data)
    }
}

/// A run's label, its input frames and each fold's selected features: a
/// `cv` run's folds, or the folds of a `train` run's best configuration (all
/// configurations while none is chosen).
fn selections_of(session: &Session, id: i64) -> Result<(String, Vec<String>, Vec<Vec<String>>)> {
    let store = session.store();
    let detail = store.run_detail(id)?;
    let split = |s: &str| s.split(',').filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
    let parse = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    let mut selections = Vec::new();
    match detail.summary.kind {
        RunKind::Cv => {
            let params = ClassicalParams::from_params(id, &detail.params)?;
            for &child in &detail.children {
                let p = CvFoldParams::from_params(child, &store.run_detail(child)?.params)?;
                selections.push(parse(&p.selected));
            }
            Ok((params.label, split(params.inputs.as_deref().unwrap_or_default()), selections))
        }
        RunKind::Train => {
            let params = TrainParams::from_params(id, &detail.params)?;
            for &config in &detail.children {
                let c = store.run_detail(config)?;
                if c.summary.kind != RunKind::TrainConfig {
                    // `--nested`'s outer folds: their inner searches are not the run's folds.
                    continue;
                }
                let cp = TrainConfigParams::from_params(config, &c.params)?;
                if params.best_config.is_some_and(|b| b != cp.config) {
                    continue;
                }
                for &fold in &c.children {
                    let p = TrainFoldParams::from_params(fold, &store.run_detail(fold)?.params)?;
                    selections.push(p.selected.as_deref().map(parse).unwrap_or_default());
                }
            }
            Ok((params.label, split(&params.inputs), selections))
        }
        kind => Err(Error::invalid(
            format!("run {id} is a {kind} run; `plot features RUN` reads the selections of a cv or train run"),
            Some("`runs` lists every run with its kind"),
        )),
    }
}
