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
            .named("rows", "FROM-TO", ArgKind::Text, "rows FROM to TO (1-based, inclusive), e.g. 11-20")
            .switch("all", "every row")
            .table()
            .not_replayable()
            .example("show A", "the first 10 rows of A")
            .example("show A --tail 5", "the last 5 rows")
            .example("show A --rows 11-20", "rows 11 to 20")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let frame = session.frame(name)?;
        let rows = frame.df.height();
        let head: Option<usize> = args.parsed("head", "a number of rows")?;
        let tail: Option<usize> = args.parsed("tail", "a number of rows")?;
        let range = args.value("rows").map(|t| row_range(t, rows)).transpose()?;
        let given = usize::from(head.is_some()) + usize::from(tail.is_some()) + usize::from(args.has("all"));
        if given + usize::from(range.is_some()) > 1 {
            return Err(Error::invalid("give only one of --head, --tail, --rows and --all", Some("see `help show`")));
        }
        let (start, end) = if let Some(r) = range {
            r
        } else {
            match (head, tail, args.has("all")) {
                (_, _, true) => (0, rows),
                (_, Some(n), _) => (rows.saturating_sub(n), rows),
                (Some(n), _, _) => (0, n.min(rows)),
                (None, None, false) => (0, DEFAULT_HEAD.min(rows)),
            }
        };
        let mut table = to_table(&frame.df, start, end).with_title(format!(
            "{} — {rows} rows × {} columns",
            name.text,
            frame.df.width()
        ));
        if end - start < rows {
            let shown = if end > start { format!("rows {}–{end}", start + 1) } else { "no rows".into() };
            table
                .notes
                .push(format!("showing {shown} of {rows}; --head N, --tail N, --rows FROM-TO or --all for others"));
        }
        if frame.origin.as_ref().is_some_and(|o| o.simulated()) {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        Ok(Output::Table(table))
    }
}

/// `11-20` → rows 10..20 (0-based, end exclusive), clamped to the frame;
/// `11-` runs to the end.
fn row_range(tok: &crate::syntax::Token, rows: usize) -> Result<(usize, usize)> {
    let bad = |reason: &str| Error::InvalidValue {
        token: tok.text.clone(),
        what: "--rows".into(),
        reason: reason.into(),
        span: tok.span,
    };
    let (from, to) = tok.text.split_once('-').ok_or_else(|| bad("write FROM-TO, e.g. 11-20"))?;
    let from: usize = from.trim().parse().map_err(|_| bad("FROM is not a row number"))?;
    let to: usize =
        if to.trim().is_empty() { rows } else { to.trim().parse().map_err(|_| bad("TO is not a row number"))? };
    if from == 0 || to < from {
        return Err(bad("rows count from 1 and FROM ≤ TO"));
    }
    Ok(((from - 1).min(rows), to.min(rows)))
}
