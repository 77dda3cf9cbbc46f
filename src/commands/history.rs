//! `history`: the statements of this session, with outcome and duration.

use crate::error::Result;
use crate::output::{Output, Table};
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};

pub struct History;

impl Command for History {
    fn signature(&self) -> Signature {
        Signature::new("history", "session", "List this session's commands with their outcome, time and runs")
            .table()
            .not_replayable()
            .example("history", "what was run so far")
    }

    fn run(&self, _args: &Args, session: &mut Session) -> Result<Output> {
        let mut table = Table::new(["#", "status", "seconds", "runs", "command"]);
        for (i, h) in session.history().iter().enumerate() {
            let runs: Vec<String> = h.runs.iter().map(i64::to_string).collect();
            table.push(vec![
                (i + 1).into(),
                if h.ok { "ok" } else { "error" }.into(),
                h.duration.as_secs_f64().into(),
                runs.join(",").into(),
                h.text.as_str().into(),
            ]);
        }
        Ok(Output::Table(table))
    }
}
