//! `corr FRAME [--threshold R] [--method pearson|spearman] [--into NAME]`:
//! the pairs of features correlated beyond a threshold and a proposed set
//! to keep (caret's `findCorrelation` rule), on the whole frame —
//! exploratory; inside `cv` the pipeline step `decorrelate r=R` does the
//! same on each training fold.

use crate::core::cohort::TypedColumn;
use crate::core::learn::correlation::{Correlation, correlated_pairs, redundancy_keep};
use crate::data::frame;
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::DeriveParams;
use crate::workflow::derive::{self, Derived};
use crate::workflow::explore;
use crate::workflow::features::feature_input;
use crate::workflow::lookup::{EXPLORATORY, check_frame_name};

/// |r| above which two features count as redundant, without `--threshold`.
pub const DEFAULT_THRESHOLD: f64 = 0.9;

pub struct Corr;

impl Command for Corr {
    fn signature(&self) -> Signature {
        Signature::new("corr", "exploration", "Correlated feature pairs of a frame and a proposed set to keep")
            .required("FRAME", ArgKind::Frame, "a feature frame")
            .defaulted("threshold", "R", ArgKind::Float, "pairs with |r| above this", DEFAULT_THRESHOLD)
            .named("method", "M", ArgKind::Text, "pearson (default) or spearman")
            .named("into", "NAME", ArgKind::NewName, "also store the frame with only the kept features")
            .table()
            .example("corr A.T1 --threshold 0.9", "T1 features with |r| > 0.9 and which to keep")
            .example("corr A.T1 --method spearman --threshold 0.95 --into T1d", "rank correlations; keep as a frame")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frame_tok = args.required(0)?;
        let threshold: f64 = args.parsed("threshold", "a correlation in (0, 1)")?.unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold > 0.0 && threshold < 1.0) {
            let tok = args.value("threshold").unwrap_or(frame_tok);
            return Err(Error::InvalidValue {
                token: tok.text.clone(),
                what: "--threshold".into(),
                reason: "a correlation threshold is between 0 and 1".into(),
                span: tok.span,
            });
        }
        if let Some(into) = args.value("into") {
            check_frame_name(into)?;
        }
        let input = feature_input(session, frame_tok)?;
        let (method, Correlation { r, constant }) = explore::correlation(args, &input.x)?;
        let pairs = correlated_pairs(&r, threshold);
        let keep = redundancy_keep(&r, threshold);
        let params = DeriveParams {
            method: Some(method.to_string()),
            threshold: Some(threshold),
            ..DeriveParams::of("corr", None, &[frame_tok.text.clone()], None)
        };
        let run = explore::record_with(session, args, RunKind::Corr, params)?;

        let names = &input.names;
        let mut table = Table::new(["feature_a", "feature_b", "r", "keep_a", "keep_b"]).with_title(format!(
            "corr {} ({method}) — {} pairs with |r| > {threshold} among {} features",
            frame_tok.text,
            pairs.len(),
            names.len()
        ));
        for (i, j, v) in &pairs {
            table.push(vec![
                names[*i].as_str().into(),
                names[*j].as_str().into(),
                Cell::Float(*v),
                Cell::Bool(keep.contains(i)),
                Cell::Bool(keep.contains(j)),
            ]);
        }
        table.notes.push(format!(
            "keep {} of {} features: pairs above the threshold from the strongest down, of each pair whose members \
             are both kept the one with the larger mean |r| to all others is dropped (after caret's findCorrelation, \
             exact = FALSE)",
            keep.len(),
            names.len()
        ));
        if !constant.is_empty() {
            let c: Vec<&str> = constant.iter().map(|&c| names[c].as_str()).collect();
            table.notes.push(format!("constant features (no correlation; kept out of pairs): {}", c.join(", ")));
        }
        table.notes.push(EXPLORATORY.replace("use a pipeline in `cv`", "use `decorrelate r=R` in a pipeline"));
        let mut out = vec![Output::Table(table)];
        if let Some(into) = args.value("into") {
            let f = session.frame(frame_tok)?;
            let (Some(id), Some(outcome)) = (f.roles.id.clone(), f.roles.outcome.clone()) else {
                return Err(Error::invalid(format!("frame `{}` has no id or outcome column", frame_tok.text), None));
            };
            let kept: Vec<String> = keep.iter().map(|&k| names[k].clone()).collect();
            let mut columns: Vec<TypedColumn> = [id, outcome].iter().filter_map(|c| frame::column(&f.df, c)).collect();
            columns.extend(kept.iter().filter_map(|c| frame::column(&f.df, c)));
            let df = frame::to_dataframe(&columns)?;
            let roles = derive::roles_within(&f.roles, &df);
            let d = Derived {
                verb: "corr",
                name: &into.text,
                parents: vec![frame_tok.text.clone()],
                expression: Some(format!("keep |r| <= {threshold} ({method})")),
                df,
                roles,
            };
            derive::store(session, args, d)?;
            out.push(Output::Message(derive::summary(session, &into.text)));
        }
        out.push(Output::Note(format!("  recorded as run {run}")));
        Ok(Output::Many(out))
    }
}
