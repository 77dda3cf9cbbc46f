//! `plot roc RUN [--out FILE.svg|.png]`: a run's ROC curves (each fold, mean, ±1 SD
//! for cross-validation), drawn from its stored predictions.

use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct PlotRoc;

impl Command for PlotRoc {
    fn signature(&self) -> Signature {
        Signature::new("plot roc", "evaluation", "Draw a run's ROC curves from its stored predictions")
            .required("RUN", ArgKind::Run, "a cv, train, holdout or test run id")
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot roc 3", "the ROC curves of run 3 (each fold, mean, ±1 SD for a cv run)")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        crate::workflow::figures::plot_run(args, session, "roc")
    }
}
