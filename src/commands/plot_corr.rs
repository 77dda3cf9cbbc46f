//! `plot corr FRAME [--cluster] [--method pearson|spearman]`: a feature
//! frame's correlation matrix as a heatmap, optionally ordered by
//! average-linkage clustering on 1 − |r| so redundant features sit together.

use crate::core::learn::correlation::cluster_order;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::explore;
use crate::workflow::features::feature_input;
use crate::workflow::figures::figure_output;

pub struct PlotCorr;

/// The most features a heatmap takes (its SVG grows with their square).
const MAX_FEATURES: usize = 400;

impl Command for PlotCorr {
    fn signature(&self) -> Signature {
        Signature::new("plot corr", "exploration", "Correlation heatmap of a feature frame")
            .required("FRAME", ArgKind::Frame, "a feature frame")
            .switch("cluster", "order the features by average-linkage clustering on 1 − |r|")
            .named("method", "M", ArgKind::Text, "pearson (default) or spearman")
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot corr A.T1 --cluster", "T1 feature correlations, correlated features side by side")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame = args.required(0)?;
        let input = feature_input(session, frame)?;
        if input.names.len() > MAX_FEATURES {
            return Err(Error::invalid(
                format!(
                    "`{}` has {} features; a heatmap draws at most {MAX_FEATURES} (one cell per pair)",
                    frame.text,
                    input.names.len()
                ),
                Some("keep fewer first, e.g. `corr FRAME --threshold 0.9 --into NAME`, then plot NAME"),
            ));
        }
        let (method, corr) = explore::correlation(args, &input.x)?;
        let order: Vec<usize> =
            if args.has("cluster") { cluster_order(&corr.r) } else { (0..input.names.len()).collect() };
        let labels: Vec<String> = order.iter().map(|&i| input.names[i].clone()).collect();
        let values: Vec<Vec<f64>> = order.iter().map(|&i| order.iter().map(|&j| corr.r.get(i, j)).collect()).collect();
        let what = format!("{method}{}", if args.has("cluster") { ", clustered" } else { "" });
        let run = explore::record(session, args, "plot corr", &[frame.text.clone()], Some(what.clone()))?;
        let title = format!("{} — {} features ({what})", frame.text, labels.len());
        let fig = Figure::Heatmap { title: title.clone(), labels, values, lo: -1.0, hi: 1.0 };
        let data = fig.explore_data().unwrap_or_default();
        figure_output(args, session, run, title, &fig, data)
    }
}
