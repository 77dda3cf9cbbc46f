//! `compare ID ID …`: runs side by side — the parameters that differ, their
//! metrics, and the paired DeLong test when two runs predicted the same
//! patients. `best METRIC [--where EXPR]`: the run with the best value.

use crate::error::{Error, Result};
use crate::output::Output;
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
        Ok(Output::Table(crate::workflow::compare::compare_table(session.store(), &ids, args.has("all"))?))
    }
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
