//! `run show ID`: everything recorded for one run.

use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};

pub struct Run;

impl Command for Run {
    fn signature(&self) -> Signature {
        Signature::new("run", "tracker", "Inspect one recorded run: `run show ID`")
            .required("ACTION", ArgKind::Text, "what to do: show")
            .required("ID", ArgKind::Run, "the run id (see `runs`)")
            .table()
            .not_replayable()
            .example("run show 1", "parameters, metrics, datasets and provenance of run 1")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let action = args.required(0)?;
        if action.text != "show" {
            return Err(Error::InvalidValue {
                token: action.text.clone(),
                what: "ACTION".into(),
                reason: "the only action is `show`".into(),
                span: action.span,
            });
        }
        let id: i64 = parse_token(args.required(1)?, "ID", "a run id (a whole number)")?;
        detail(session, id)
    }
}

/// Everything recorded for run `id`, as tables.
pub fn detail(session: &Session, id: i64) -> Result<Output> {
    {
        let d = session.store().run_detail(id)?;
        let mut facts = Table::new(["field", "value"]).with_title(format!("run {id}"));
        let mut fact = |k: &str, v: Cell| facts.push(vec![k.into(), v]);
        fact("kind", d.summary.kind.as_str().into());
        fact("status", d.summary.status.as_str().into());
        fact("command", d.summary.command.as_str().into());
        fact("started", d.summary.started_at.as_str().into());
        fact("ended", d.summary.ended_at.clone().into());
        fact("parent", d.summary.parent.into());
        fact("experiment", d.experiment.clone().into());
        fact("seed", d.seed.into());
        fact("program version", d.program_version.as_str().into());
        fact("git commit", d.git_commit.clone().into());
        fact("host", d.host.as_str().into());
        fact("pid", d.pid.into());
        fact("error", d.error.clone().into());
        fact("predictions", d.predictions.into());
        if !d.children.is_empty() {
            let ids: Vec<String> = d.children.iter().map(i64::to_string).collect();
            fact("child runs", ids.join(", ").into());
        }
        let mut outputs = vec![Output::Table(facts)];
        if !d.params.is_empty() {
            let mut t = Table::new(["param", "value"]).with_title("parameters");
            for (k, v) in &d.params {
                t.push(vec![k.as_str().into(), v.display().into()]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.datasets.is_empty() {
            let mut t = Table::new(["dataset", "path", "sha256", "rows"]).with_title("inputs");
            for ds in &d.datasets {
                t.push(vec![
                    ds.name.as_str().into(),
                    ds.path.as_str().into(),
                    ds.sha256.as_str().into(),
                    ds.rows.into(),
                ]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.metrics.is_empty() {
            let mut t = Table::new(["metric", "value", "step", "fold"]).with_title("metrics");
            for m in &d.metrics {
                t.push(vec![m.key.as_str().into(), m.value.into(), m.step.into(), m.fold.into()]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.artifacts.is_empty() {
            let mut t = Table::new(["artifact", "sha256"]).with_title("outputs");
            for (p, h) in &d.artifacts {
                t.push(vec![p.as_str().into(), h.as_str().into()]);
            }
            outputs.push(Output::Table(t));
        }
        Ok(Output::Many(outputs))
    }
}
