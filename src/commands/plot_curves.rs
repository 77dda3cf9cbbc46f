//! `plot curves RUN|MODEL [--out FILE.svg|.png]`: a `train` run's learning
//! curves (training and held-out loss, held-out AUC, by epoch, every fold
//! and the mean) for its chosen configuration, from the per-epoch metrics it
//! stored; a model name means its latest finished `train` run.

use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;

pub struct PlotCurves;

impl Command for PlotCurves {
    fn signature(&self) -> Signature {
        Signature::new(
            "plot curves",
            "deep learning",
            "Draw a trained model's learning curves from its per-epoch metrics",
        )
        .required(
            "RUN",
            ArgKind::Run,
            "a train run (its chosen configuration), a train-config or train-fold run, or a model's name (its \
                 latest train run)",
        )
        .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
        .example(
            "model Q = T1 --select mannwhitney:k=8; train Q on A --folds 2 --grid epochs=3; plot curves Q --out \
                 curves.svg",
            "loss and held-out AUC by epoch for each fold of Q's latest training",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let tok = args.required(0)?;
        let id = match tok.text.parse::<i64>() {
            Ok(id) => id,
            Err(_) => crate::workflow::lookup::latest_run(session, tok, RunKind::Train)?,
        };
        crate::workflow::figures::plot_run_id(args, session, id, "curves")
    }
}
