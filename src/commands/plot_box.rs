//! `plot box FRAME COLUMN [--by COL]` and `plot violin …`: a column's
//! distribution per group, as box plots (quartiles, 1.5 IQR whiskers,
//! outliers) or violins (a Gaussian kernel density, Scott's bandwidth).

use crate::error::Result;
use crate::output::Output;
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::explore;
use crate::workflow::figures::figure_output;

pub struct PlotBox;
pub struct PlotViolin;

fn signature(name: &'static str, description: &'static str, example: &'static str) -> Signature {
    Signature::new(name, "exploration", description)
        .required("FRAME", ArgKind::Frame, "the frame")
        .required("COLUMN", ArgKind::Column, "a numeric column")
        .named("by", "COL", ArgKind::Column, "one per level of this column")
        .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
        .example(example, "tumour volume of patients with and without necrosis")
}

fn draw(args: &Args, session: &mut Session, violin: bool) -> Result<Output> {
    let frame = args.required(0)?;
    let column = args.required(1)?;
    let values = explore::numeric_column(session, frame, column)?;
    let by = args.value("by");
    let split = explore::groups(session, frame, by)?;
    let groups: Vec<String> = split.iter().map(|(l, _)| l.clone()).collect();
    let per_group: Vec<Vec<f64>> =
        split.iter().map(|(_, rows)| rows.iter().filter_map(|&r| values[r]).collect()).collect();
    let verb = if violin { "plot violin" } else { "plot box" };
    let what = format!("{}{}", column.text, by.map(|b| format!(" by {}", b.text)).unwrap_or_default());
    let run = explore::record(session, args, verb, &[frame.text.clone()], Some(what.clone()))?;
    let title = format!("{} — {what}", frame.text);
    let fig = Figure::Distribution {
        title: title.clone(),
        features: vec![column.text.clone()],
        groups,
        values: vec![per_group],
        violin,
        y_label: column.text.clone(),
    };
    let data = fig.explore_data().unwrap_or_default();
    figure_output(args, session, run, title, &fig, data)
}

impl Command for PlotBox {
    fn signature(&self) -> Signature {
        signature("plot box", "Box plots of a column per group of --by", "plot box A tumor_ml --by nn")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        draw(args, session, false)
    }
}

impl Command for PlotViolin {
    fn signature(&self) -> Signature {
        signature("plot violin", "Violin plots of a column per group of --by", "plot violin A tumor_ml --by nn")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        draw(args, session, true)
    }
}
