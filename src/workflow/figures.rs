//! A run's figure as `plot roc`, `plot calibration` and `plot curves` return it: drawn
//! from the run's stored predictions (or per-epoch metrics), kept in the session, and written with
//! `--out FILE.svg|.png` as an artifact of the run.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::output::{FigureOut, Output};
use crate::provenance::sha256_file;
use crate::render::figures::Figure;
use crate::session::Session;
use crate::signature::{Args, parse_token};

/// Calibration bins without `--bins`.
pub const DEFAULT_BINS: usize = 5;

/// The figure `what` (`roc` or `calibration`) of the run named by the first argument.
pub fn plot_run(args: &Args, session: &mut Session, what: &str) -> Result<Output> {
    let id: i64 = parse_token(args.required(0)?, "RUN", "a run id (a whole number)")?;
    plot_run_id(args, session, id, what)
}

/// [`plot_run`] for a run already found.
pub fn plot_run_id(args: &Args, session: &mut Session, id: i64, what: &str) -> Result<Output> {
    let bins: usize = args.parsed("bins", "a number of bins")?.unwrap_or(DEFAULT_BINS).max(1);
    let (title, fig, data) = crate::report::run_figure(session.store(), id, what, bins)?;
    figure_output(args, session, id, title, &fig, data)
}

/// A figure as a command's output (its SVG and the data drawn), also
/// written with `--out FILE.svg|.png` and recorded as an artifact of `run`.
pub fn figure_output(
    args: &Args,
    session: &mut Session,
    run: i64,
    title: String,
    fig: &Figure,
    data: serde_json::Value,
) -> Result<Output> {
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
        session.store().log_artifact(run, &path.display().to_string(), &sha)?;
        out.push(Output::Message(format!("wrote {}", path.display())));
    }
    Ok(if out.len() == 1 { out.remove(0) } else { Output::Many(out) })
}
