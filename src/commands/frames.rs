//! `frames`: the frames in this session.

use crate::error::Result;
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{Args, Signature};

pub struct Frames;

impl Command for Frames {
    fn signature(&self) -> Signature {
        Signature::new("frames", "data", "List the frames in this session")
            .table()
            .not_replayable()
            .example("frames", "name, size, source, outcome and lineage of every frame")
    }

    fn run(&self, _args: &Args, session: &mut Session) -> Result<Output> {
        let mut table = Table::new(["name", "rows", "columns", "outcome", "source", "derived", "simulated"]);
        for (name, frame) in session.frames() {
            let origin = frame.origin.as_ref();
            table.push(vec![
                name.as_str().into(),
                frame.df.height().into(),
                frame.df.width().into(),
                frame.roles.outcome.clone().into(),
                origin.map(|o| o.path.display().to_string()).into(),
                session.lineage(name).map(|l| format!("{} of {} (run {})", l.verb, l.parents.join(", "), l.run)).into(),
                Cell::Bool(origin.is_some_and(|o| o.simulated())),
            ]);
        }
        if table.rows.is_empty() {
            table.notes.push("no frames loaded; `load NAME PATH` loads one".into());
        }
        Ok(Output::Table(table))
    }
}
