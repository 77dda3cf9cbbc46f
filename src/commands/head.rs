//! `head FRAME [N]`: the first N rows of a frame (10 by default).

use crate::data::frame::to_table;
use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};

pub struct Head;

const DEFAULT_ROWS: usize = 10;

impl Command for Head {
    fn signature(&self) -> Signature {
        Signature::new("head", "data", "The first rows of a frame")
            .required("FRAME", ArgKind::Frame, "the frame")
            .optional("N", ArgKind::Int, "how many rows (default 10)")
            .table()
            .not_replayable()
            .example("head A 5", "the first 5 rows of A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let n: usize =
            args.positional(1).map(|t| parse_token(t, "N", "a number of rows")).transpose()?.unwrap_or(DEFAULT_ROWS);
        let frame = session.frame(name)?;
        let rows = frame.df.height();
        let mut table = to_table(&frame.df, 0, n.min(rows)).with_title(format!(
            "{} — first {} of {rows} rows × {} columns",
            name.text,
            n.min(rows),
            frame.df.width()
        ));
        if frame.origin.as_ref().is_some_and(|o| o.simulated()) {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        Ok(Output::Table(table))
    }
}
