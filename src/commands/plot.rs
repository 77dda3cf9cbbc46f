//! `plot roc|calibration RUN [--out FILE.svg|.png]`: a run's figure, drawn
//! from its stored predictions; kept in the session (and notebooks).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::output::{FigureOut, Output};
use crate::provenance::sha256_file;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};

pub struct Plot;

impl Command for Plot {
    fn signature(&self) -> Signature {
        Signature::new("plot", "evaluation", "Draw a run's ROC curves or calibration plot from its stored predictions")
            .required("WHAT", ArgKind::Text, "roc or calibration")
            .required("RUN", ArgKind::Run, "a cv or holdout run id")
            .named("bins", "N", ArgKind::Int, "calibration: equal-width bins (default 5)")
            .named("out", "FILE", ArgKind::Path, "also write the figure (.svg or .png)")
            .example("plot roc 3", "the ROC curves of run 3 (each fold, mean, ±1 SD for a cv run)")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let what = args.required(0)?;
        if !["roc", "calibration"].contains(&what.text.as_str()) {
            return Err(Error::InvalidValue {
                token: what.text.clone(),
                what: "WHAT".into(),
                reason: "expected roc or calibration".into(),
                span: what.span,
            });
        }
        let id: i64 = parse_token(args.required(1)?, "RUN", "a run id (a whole number)")?;
        let bins: usize = args.parsed("bins", "a number of bins")?.unwrap_or(5).max(1);
        let (title, fig, data) = crate::report::run_figure(session.store(), id, &what.text, bins)?;
        let svg = fig.svg()?;
        let mut out = vec![Output::Figure(FigureOut { title, svg: svg.clone(), data })];
        if let Some(tok) = args.value("out") {
            let path = PathBuf::from(&tok.text);
            match path.extension().and_then(|e| e.to_str()) {
                Some("svg") => crate::provenance::write_atomic(&path, svg.as_bytes())?,
                Some("png") => fig.png(&path)?,
                _ => {
                    return Err(Error::InvalidValue {
                        token: tok.text.clone(),
                        what: "--out".into(),
                        reason: "a figure is written as .svg or .png".into(),
                        span: tok.span,
                    });
                }
            }
            let sha = sha256_file(&path)?;
            session.store().log_artifact(id, &path.display().to_string(), &sha)?;
            out.push(Output::Message(format!("wrote {}", path.display())));
        }
        Ok(if out.len() == 1 { out.remove(0) } else { Output::Many(out) })
    }
}
