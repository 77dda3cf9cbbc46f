//! `describe NAME [--by COL]`: a summary of every column (per group of
//! `COL`, with a test per column), recorded as a run that cites the frame's
//! input files.

use crate::core::describe::{describe, describe_by};
use crate::data::frame;
use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::FrameParams;

pub struct Describe;

impl Command for Describe {
    fn signature(&self) -> Signature {
        Signature::new("describe", "data", "Summarise every column: counts, missing, mean, SD, quartiles, levels")
            .required("NAME", ArgKind::Frame, "the frame")
            .named("by", "COL", ArgKind::Column, "summarise per level of this column, with a test per column")
            .table()
            .example("describe A", "per-column summary of A")
            .example("describe A --by nn", "each column by outcome, with Mann-Whitney or chi-square p-values")
            .example("describe A --out reports/describe_A.csv", "the same, also written as CSV")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        let f = session.frame(name)?;
        let datasets = f.origin.as_ref().map(|o| o.dataset_ids.clone()).unwrap_or_default();
        let columns = frame::columns(&f.df);
        let roles = f.roles.clone();
        let simulated = f.origin.as_ref().is_some_and(|o| o.simulated());
        let rows = f.df.height();
        let by = args.value("by").cloned();
        if let Some(b) = &by {
            if !columns.iter().any(|c| c.name == b.text) {
                return Err(crate::error::Error::UnknownFrameColumn {
                    frame: name.text.clone(),
                    column: b.text.clone(),
                    span: b.span,
                    available: columns.iter().map(|c| c.name.clone()).collect(),
                });
            }
        }
        let params =
            FrameParams { method: by.as_ref().map(|b| format!("by {}", b.text)), ..FrameParams::of(&name.text) };
        let run = session.begin_run(args, RunKind::Describe, &params, None)?;
        for d in datasets {
            session.store().link_dataset(run, d)?;
        }
        let mut table = match &by {
            None => describe(&columns, &roles).with_title(format!("{} — {rows} rows", name.text)),
            Some(b) => {
                let mut t = describe_by(&columns, &roles, &b.text)?
                    .with_title(format!("{} by {} — {rows} rows", name.text, b.text));
                t.notes.push(
                    "p_value: Mann-Whitney U (two groups; scipy's method=auto) or Kruskal-Wallis for numbers, \
                     Pearson's chi-square without continuity correction for categories; not adjusted for multiple testing"
                        .into(),
                );
                t
            }
        };
        table
            .notes
            .push("sd: sample standard deviation (n − 1); quartiles: linear interpolation (numpy default)".into());
        if simulated {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        Ok(Output::Table(table))
    }
}
