//! `runs`: the recorded runs, newest first.

use super::{ArgKind, Args, Command, Signature};
use crate::error::Result;
use crate::output::{Output, Table};
use crate::session::Session;

pub struct Runs;

impl Command for Runs {
    fn signature(&self) -> Signature {
        Signature::new("runs", "tracker", "List recorded runs, newest first")
            .named("limit", "N", ArgKind::Int, "how many (default 20)")
            .table()
            .not_replayable()
            .example("runs", "the 20 most recent runs")
            .example("runs --limit 100 --out reports/runs.csv", "more of them, also as CSV")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let limit: usize = args.parsed("limit", "a number of runs")?.unwrap_or(20);
        let runs = session.store().list_runs(limit)?;
        let total = session.store().count_runs()?;
        let mut table = Table::new(["id", "parent", "kind", "status", "started", "ended", "command"]);
        for r in &runs {
            table.push(vec![
                r.id.into(),
                r.parent.into(),
                r.kind.as_str().into(),
                r.status.as_str().into(),
                r.started_at.as_str().into(),
                r.ended_at.clone().into(),
                r.command.as_str().into(),
            ]);
        }
        table.notes.push(format!("{} of {total} runs in {}", runs.len(), session.store().path().display()));
        Ok(Output::Table(table))
    }
}
