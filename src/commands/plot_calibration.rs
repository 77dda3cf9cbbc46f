//! `plot calibration RUN [--out FILE.svg|.png]`: a run's calibration plot (binned
//! observed against predicted, intercept and slope), from its predictions.

use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct PlotCalibration;

impl Command for PlotCalibration {
    fn signature(&self) -> Signature {
        Signature::new("plot calibration", "evaluation", "Draw a run's calibration plot from its stored predictions")
            .required("RUN", ArgKind::Run, "a cv, train, holdout or test run id")
            .defaulted("bins", "N", ArgKind::Int, "equal-width bins", crate::workflow::figures::DEFAULT_BINS)
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot calibration 3 --bins 5", "the calibration of run 3's probabilities")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        crate::workflow::figures::plot_run(args, session, "calibration")
    }
}
