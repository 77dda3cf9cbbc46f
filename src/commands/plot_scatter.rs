//! `plot scatter FRAME X Y [--by COL]`: two columns against each other,
//! coloured by group.

use crate::error::Result;
use crate::output::Output;
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::explore;
use crate::workflow::figures::figure_output;

pub struct PlotScatter;

impl Command for PlotScatter {
    fn signature(&self) -> Signature {
        Signature::new("plot scatter", "exploration", "Scatter plot of two columns, coloured by --by")
            .required("FRAME", ArgKind::Frame, "the frame")
            .required("X", ArgKind::Column, "the column on the x axis")
            .required("Y", ArgKind::Column, "the column on the y axis")
            .named("by", "COL", ArgKind::Column, "colour the points by this column's levels")
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot scatter A age tumor_ml --by nn", "age against tumour volume, by outcome")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let (xt, yt) = (args.required(1)?, args.required(2)?);
        let x = explore::numeric_column(session, frame, xt)?;
        let y = explore::numeric_column(session, frame, yt)?;
        let by = args.value("by");
        let groups: Vec<(String, Vec<(f64, f64)>)> = explore::groups(session, frame, by)?
            .into_iter()
            .map(|(label, rows)| (label, rows.iter().filter_map(|&r| Some((x[r]?, y[r]?))).collect()))
            .collect();
        let what = format!("{} vs {}{}", yt.text, xt.text, by.map(|b| format!(" by {}", b.text)).unwrap_or_default());
        let run = explore::record(session, args, "plot scatter", &[frame.text.clone()], Some(what.clone()))?;
        let title = format!("{} — {what}", frame.text);
        let fig = Figure::Scatter { title: title.clone(), x: xt.text.clone(), y: yt.text.clone(), groups };
        let data = fig.explore_data().unwrap_or_default();
        figure_output(args, session, run, title, &fig, data)
    }
}
