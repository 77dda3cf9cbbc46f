//! `describe NAME`: a summary of every column, recorded as a run that cites
//! the frame's input files.

use crate::core::describe::describe;
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
            .table()
            .example("describe A", "per-column summary of A")
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
        let run = session.begin_run(args, RunKind::Describe, &FrameParams::of(&name.text), None)?;
        for d in datasets {
            session.store().link_dataset(run, d)?;
        }
        let mut table = describe(&columns, &roles).with_title(format!("{} — {rows} rows", name.text));
        table
            .notes
            .push("sd: sample standard deviation (n − 1); quartiles: linear interpolation (numpy default)".into());
        if simulated {
            table.notes.push("SIMULATED cohort (not real patients)".into());
        }
        Ok(Output::Table(table))
    }
}
