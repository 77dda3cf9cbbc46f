//! `show NAME`: the rows of a frame, with the row count always stated.

use crate::data::frame::to_table;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Show;

const DEFAULT_HEAD: usize = 10;

impl Command for Show {
    fn signature(&self) -> Signature {
        Signature::new("show", "data", "Show the rows of a frame")
            .required("NAME", ArgKind::Frame, "the frame")
            .named("head", "N", ArgKind::Int, "the first N rows (default 10)")
            .named("tail", "N", ArgKind::Int, "the last N rows")
            .switch("all", "every row")
            .table()
            .not_replayable()
            .example("show A", "the first 10 rows of A")
            .example("show A --tail 5", "the last 5 rows")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let frame = session.frame(name)?;
        let rows = frame.df.height();
        let head: Option<usize> = args.parsed("head", "a number of rows")?;
        let tail: Option<usize> = args.parsed("tail", "a number of rows")?;
        let (start, end) = match (head, tail, args.has("all")) {
            (Some(_), Some(_), _) | (Some(_), _, true) | (_, Some(_), true) => {
                return Err(Error::invalid("give only one of --head, --tail and --all", Some("see `help show`")));
            }
            (_, _, true) => (0, rows),
            (_, Some(n), _) => (rows.saturating_sub(n), rows),
            (Some(n), _, _) => (0, n.min(rows)),
            (None, None, false) => (0, DEFAULT_HEAD.min(rows)),
        };
        let mut table = to_table(&frame.df, start, end).with_title(format!(
            "{} — {rows} rows × {} columns",
            name.text,
            frame.df.width()
        ));
        if end - start < rows {
            let shown = if end > start { format!("rows {}–{end}", start + 1) } else { "no rows".into() };
            table.notes.push(format!("showing {shown} of {rows}; --head N, --tail N or --all for others"));
        }
        if frame.origin.as_ref().is_some_and(|o| o.simulated()) {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        Ok(Output::Table(table))
    }
}
