//! `compare ID ID …`: runs side by side — the parameters that differ, their
//! metrics, and the paired DeLong test when two runs predicted the same
//! patients. `best METRIC [--where EXPR]`: the run with the best value.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::learn::metrics::{auc, delong_paired};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};
use crate::store::query::{Expr, Field, Op, Value};

pub struct Compare;
pub struct Best;

impl Command for Compare {
    fn signature(&self) -> Signature {
        Signature::new("compare", "tracker", "Runs side by side: differing parameters, metrics, paired DeLong test")
            .rest("IDS", ArgKind::Run, "two or more run ids")
            .switch("all", "also list the parameters that are equal")
            .table()
            .not_replayable()
            .example("compare 1 2", "what differs between runs 1 and 2")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let ids: Vec<i64> = args
            .positionals
            .iter()
            .map(|t| parse_token(t, "ID", "a run id (a whole number)"))
            .collect::<Result<_>>()?;
        if ids.len() < 2 {
            return Err(Error::invalid("compare needs at least two run ids", Some("e.g. compare 3 7")));
        }
        let details: Vec<_> = ids.iter().map(|&id| session.store().run_detail(id)).collect::<Result<_>>()?;
        let mut t = Table::new(std::iter::once("".to_string()).chain(ids.iter().map(|i| format!("run {i}"))));
        t.title = Some(format!("compare {}", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")));
        t.push(
            std::iter::once(Cell::from("kind")).chain(details.iter().map(|d| d.summary.kind.as_str().into())).collect(),
        );
        t.push(
            std::iter::once(Cell::from("status"))
                .chain(details.iter().map(|d| d.summary.status.as_str().into()))
                .collect(),
        );
        t.push(std::iter::once(Cell::from("seed")).chain(details.iter().map(|d| d.seed.into())).collect());
        t.push(
            std::iter::once(Cell::from("version"))
                .chain(details.iter().map(|d| d.program_version.as_str().into()))
                .collect(),
        );
        let params: Vec<BTreeMap<String, String>> =
            details.iter().map(|d| d.params.iter().map(|(k, v)| (k.clone(), v.display())).collect()).collect();
        let keys: BTreeSet<&String> = params.iter().flat_map(|p| p.keys()).collect();
        let mut equal = Vec::new();
        for k in keys {
            let vals: Vec<Option<&String>> = params.iter().map(|p| p.get(k)).collect();
            let same = vals.windows(2).all(|w| w[0] == w[1]);
            if same && !args.has("all") {
                equal.push(k.clone());
                continue;
            }
            t.push(
                std::iter::once(Cell::Text(format!("param {k}{}", if same { "" } else { " ≠" })))
                    .chain(vals.iter().map(|v| v.map_or(Cell::Null, |s| Cell::Text(s.clone()))))
                    .collect(),
            );
        }
        let metrics: Vec<BTreeMap<String, f64>> = details
            .iter()
            .map(|d| {
                d.metrics
                    .iter()
                    .filter(|m| m.fold.is_none() && m.step.is_none())
                    .map(|m| (m.key.clone(), m.value))
                    .collect()
            })
            .collect();
        let mkeys: BTreeSet<&String> = metrics.iter().flat_map(|m| m.keys()).collect();
        for k in mkeys {
            t.push(
                std::iter::once(Cell::Text(format!("metric {k}")))
                    .chain(metrics.iter().map(|m| m.get(k).map_or(Cell::Null, |v| Cell::Float(*v))))
                    .collect(),
            );
        }
        // Paired DeLong against the first run, on the patients both predicted.
        let first = crate::workflow::lookup::patient_predictions(session, ids[0])?;
        if !first.is_empty() {
            let mut row = vec![Cell::Text(format!("DeLong p vs run {}", ids[0])), Cell::Null];
            let mut auc_row = vec![Cell::from("AUC of the patients' predictions"), Cell::Float(auc_of(&first))];
            for &id in &ids[1..] {
                let other = crate::workflow::lookup::patient_predictions(session, id)?;
                let same_patients = !other.is_empty() && other.keys().eq(first.keys());
                auc_row.push(if other.is_empty() { Cell::Null } else { Cell::Float(auc_of(&other)) });
                if !same_patients {
                    row.push(Cell::Null);
                    if !other.is_empty() {
                        t.notes.push(format!("run {id} predicted other patients than run {}: no paired test", ids[0]));
                    }
                    continue;
                }
                let truth: Vec<u8> = first.values().map(|v| v.0).collect();
                if other.values().map(|v| v.0).ne(truth.iter().copied()) {
                    row.push(Cell::Null);
                    t.notes.push(format!("run {id} and run {} disagree on the outcome labels: no paired test", ids[0]));
                    continue;
                }
                let a: Vec<f64> = first.values().map(|v| v.1).collect();
                let b: Vec<f64> = other.values().map(|v| v.1).collect();
                row.push(delong_paired(&a, &b, &truth).map_or(Cell::Null, |(_, _, p)| Cell::Float(p)));
            }
            t.push(auc_row);
            t.push(row);
        }
        if !equal.is_empty() {
            t.notes.push(format!(
                "{} equal parameters not shown ({}); --all lists them",
                equal.len(),
                equal.join(", ")
            ));
        }
        Ok(Output::Table(t))
    }
}

fn auc_of(p: &BTreeMap<String, (u8, f64)>) -> f64 {
    let (truth, prob): (Vec<u8>, Vec<f64>) = p.values().copied().unzip();
    auc(&prob, &truth)
}

impl Command for Best {
    fn signature(&self) -> Signature {
        Signature::new("best", "tracker", "The run with the best value of a metric")
            .required("METRIC", ArgKind::Text, "a metric name (e.g. auc_pooled)")
            .named("where", "EXPR", ArgKind::Text, "only runs matching this filter (as `runs --where EXPR`)")
            .switch("lowest", "lowest is best (e.g. brier)")
            .not_replayable()
            .example("best auc_pooled --where \"kind = cv\"", "the cross-validation with the highest pooled AUC")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let metric = args.required(0)?.text.clone();
        let has_metric = Expr::Cmp(Field::Metric(metric.clone()), Op::Ge, Value::Number(f64::NEG_INFINITY));
        let filter = match args.value("where") {
            Some(tok) => Expr::And(Box::new(crate::workflow::lookup::filter_expr(tok)?), Box::new(has_metric)),
            None => has_metric,
        };
        let hits =
            session.store().query_runs(Some(&filter), Some(&Field::Metric(metric.clone())), !args.has("lowest"), 1)?;
        let Some((run, value)) = hits.into_iter().next() else {
            return Err(Error::invalid(
                format!(
                    "no run has a metric `{metric}`{}",
                    if args.has("where") { " and matches the filter" } else { "" }
                ),
                Some("list metrics with `run show ID`"),
            ));
        };
        let mut out = vec![Output::Message(format!("best {metric}: {} in run {}", value.unwrap_or_default(), run.id))];
        out.push(crate::workflow::lookup::detail(session, run.id)?);
        Ok(Output::Many(out))
    }
}
