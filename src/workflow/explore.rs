//! What the exploration commands share (`plot hist|box|violin|scatter|corr|
//! features`, `corr`, `icc`): a frame's numeric column, its rows split by a
//! grouping column, the run that records an exploration (citing the frames'
//! datasets); figures go out through `workflow::figures::figure_output`.

use crate::core::learn::correlation::{Correlation, pearson, spearman};
use crate::data::frame;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::signature::Args;
use crate::store::RunKind;
use crate::store::records::DeriveParams;
use crate::syntax::Token;

/// The column `col` of frame `frame` as numbers (missing values `None`).
pub fn numeric_column(session: &Session, frame_tok: &Token, col: &Token) -> Result<Vec<Option<f64>>> {
    let f = session.frame(frame_tok)?;
    let column = frame::column(&f.df, &col.text).ok_or_else(|| Error::UnknownFrameColumn {
        frame: frame_tok.text.clone(),
        column: col.text.clone(),
        span: col.span,
        available: frame::column_names(&f.df),
    })?;
    column.values.as_f64().ok_or_else(|| Error::InvalidValue {
        token: col.text.clone(),
        what: format!("a numeric column of `{}`", frame_tok.text),
        reason: format!("it holds {}", column.values.type_name()),
        span: col.span,
    })
}

/// The frame's rows split by the levels of `by` (numbers in numeric order,
/// text in text order; rows with a missing level left out), or one group
/// "all" without `by`. Labels read `nn = 1`.
pub fn groups(session: &Session, frame_tok: &Token, by: Option<&Token>) -> Result<Vec<(String, Vec<usize>)>> {
    let f = session.frame(frame_tok)?;
    let Some(by) = by else {
        return Ok(vec![("all".into(), (0..f.df.height()).collect())]);
    };
    let column = frame::column(&f.df, &by.text).ok_or_else(|| Error::UnknownFrameColumn {
        frame: frame_tok.text.clone(),
        column: by.text.clone(),
        span: by.span,
        available: frame::column_names(&f.df),
    })?;
    let values = column.values.as_text();
    let levels = crate::core::describe::sorted_levels(&values);
    if levels.len() > 10 {
        return Err(Error::InvalidValue {
            token: by.text.clone(),
            what: "--by".into(),
            reason: format!("it has {} levels; a figure takes at most 10 groups", levels.len()),
            span: by.span,
        });
    }
    Ok(levels
        .into_iter()
        .map(|l| {
            let rows = (0..values.len()).filter(|&r| values[r].as_deref() == Some(l.as_str())).collect();
            (format!("{} = {l}", by.text), rows)
        })
        .collect())
}

/// Records an exploration of `frames` (a `plot`, `corr` or `icc` run) and
/// links the frames' datasets.
pub fn record(session: &mut Session, args: &Args, verb: &str, frames: &[String], what: Option<String>) -> Result<i64> {
    record_with(session, args, RunKind::Plot, DeriveParams::of(verb, None, frames, what.as_deref()))
}

/// [`record`] with a kind and parameters of the caller's.
pub fn record_with(session: &mut Session, args: &Args, kind: RunKind, params: DeriveParams) -> Result<i64> {
    let mut datasets = Vec::new();
    for p in params.parents.split(',') {
        if let Some(f) = session.frames().get(p) {
            for &d in f.origin.iter().flat_map(|o| &o.dataset_ids) {
                if !datasets.contains(&d) {
                    datasets.push(d);
                }
            }
        }
    }
    let run = session.begin_run(args, kind, &params, None)?;
    for d in datasets {
        session.store().link_dataset(run, d)?;
    }
    Ok(run)
}

/// `--method pearson|spearman` (default pearson) and the frame's correlation matrix by it.
pub fn correlation(args: &Args, x: &crate::core::learn::matrix::Matrix) -> Result<(&'static str, Correlation)> {
    match args.value("method").map(|t| (t, t.text.as_str())) {
        None | Some((_, "pearson")) => Ok(("pearson", pearson(x)?)),
        Some((_, "spearman")) => Ok(("spearman", spearman(x)?)),
        Some((t, _)) => Err(Error::InvalidValue {
            token: t.text.clone(),
            what: "--method".into(),
            reason: "use pearson or spearman".into(),
            span: t.span,
        }),
    }
}
