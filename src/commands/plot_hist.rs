//! `plot hist FRAME COLUMN [--by COL] [--bins N]`: a column's distribution,
//! one overlaid histogram per group.

use crate::error::Result;
use crate::output::Output;
use crate::render::figures::{Figure, Group};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::explore;
use crate::workflow::figures::figure_output;

/// Bins without `--bins`.
const DEFAULT_BINS: usize = 10;

pub struct PlotHist;

impl Command for PlotHist {
    fn signature(&self) -> Signature {
        Signature::new("plot hist", "exploration", "Histogram of a column, one per group of --by")
            .required("FRAME", ArgKind::Frame, "the frame")
            .required("COLUMN", ArgKind::Column, "a numeric column")
            .named("by", "COL", ArgKind::Column, "overlay one histogram per level of this column")
            .defaulted(
                "bins",
                "N",
                ArgKind::Int,
                "equal-width bins between the smallest and largest value",
                DEFAULT_BINS,
            )
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot hist A age --by nn", "age of patients with and without necrosis")
            .example("plot hist A tumor_ml --bins 6 --out tumor.svg", "tumour volume, written as SVG")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let column = args.required(1)?;
        let values = explore::numeric_column(session, frame, column)?;
        let by = args.value("by");
        let groups: Vec<Group> = explore::groups(session, frame, by)?
            .into_iter()
            .map(|(label, rows)| Group { label, values: rows.iter().filter_map(|&r| values[r]).collect() })
            .collect();
        let bins: usize = args.parsed("bins", "a number of bins")?.unwrap_or(DEFAULT_BINS).clamp(1, 200);
        let what = format!("{}{}", column.text, by.map(|b| format!(" by {}", b.text)).unwrap_or_default());
        let run = explore::record(session, args, "plot hist", &[frame.text.clone()], Some(what.clone()))?;
        let title = format!("{} — {what}", frame.text);
        let fig = Figure::Histogram { title: title.clone(), column: column.text.clone(), groups, bins };
        let data = fig.explore_data().unwrap_or_default();
        figure_output(args, session, run, title, &fig, data)
    }
}
