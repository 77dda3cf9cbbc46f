//! `icc FRAME1 FRAME2 … [--model 2,1]`: the intraclass correlation of each
//! feature between two (or more) extractions of the same patients — test
//! and retest, two observers' masks, or a perturbed mask (`extract
//! --perturb`) — with its confidence interval (Shrout & Fleiss' forms).

use std::collections::HashMap;

use crate::core::icc::{IccForm, icc};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::DeriveParams;
use crate::workflow::explore;
use crate::workflow::features::feature_input;

/// The form without `--model`: two-way random effects, absolute agreement,
/// single rating — the one radiomics reproducibility studies usually report.
const DEFAULT_FORM: &str = "2,1";

pub struct Icc;

impl Command for Icc {
    fn signature(&self) -> Signature {
        Signature::new(
            "icc",
            "exploration",
            "Intraclass correlation of each feature between extractions of the same patients",
        )
        .rest("FRAMES", ArgKind::Frame, "two or more feature frames of the same patients (the raters)")
        .named("model", "FORM", ArgKind::Text, "1,1 2,1 (default) 3,1 1,k 2,k or 3,k (Shrout & Fleiss)")
        .named("confidence", "LEVEL", ArgKind::Float, "the interval's confidence level (default 0.95)")
        .table()
        .example("icc A.T1 Ap.T1", "each T1 feature's ICC(2,1) between the PTV and the PTV eroded by 2 mm")
        .example("icc A.T1 Ap.T1 --model 3,1 --out icc.csv", "consistency form, written as CSV")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let frames = &args.positionals;
        let form_text = args.value("model").map_or(DEFAULT_FORM, |t| t.text.as_str());
        let form: IccForm = form_text.parse().map_err(|e: Error| match args.value("model") {
            Some(t) => Error::InvalidValue {
                token: t.text.clone(),
                what: "--model".into(),
                reason: e.to_string(),
                span: t.span,
            },
            None => e,
        })?;
        let confidence: f64 = args.parsed("confidence", "a confidence level")?.unwrap_or(0.95);
        let inputs = frames.iter().map(|t| feature_input(session, t)).collect::<Result<Vec<_>>>()?;

        // Patients in every frame, in the first frame's order.
        let positions: Vec<HashMap<&str, usize>> =
            inputs.iter().map(|i| i.ids.iter().enumerate().map(|(r, id)| (id.as_str(), r)).collect()).collect();
        let patients: Vec<&str> = inputs[0]
            .ids
            .iter()
            .map(String::as_str)
            .filter(|id| positions.iter().all(|p| p.contains_key(id)))
            .collect();
        if patients.len() < 2 {
            return Err(Error::invalid(
                format!("the frames share {} patient(s); an ICC needs at least two", patients.len()),
                Some("the extractions must be of the same patients (matched by id)"),
            ));
        }
        // Features in every frame, in the first frame's order.
        let columns: Vec<HashMap<&str, usize>> =
            inputs.iter().map(|i| i.names.iter().enumerate().map(|(c, n)| (n.as_str(), c)).collect()).collect();
        let features: Vec<&str> =
            inputs[0].names.iter().map(String::as_str).filter(|n| columns.iter().all(|c| c.contains_key(n))).collect();
        let only_some = inputs.iter().map(|i| i.names.len()).max().unwrap_or(0) - features.len();

        let names: Vec<String> = frames.iter().map(|t| t.text.clone()).collect();
        let params = DeriveParams {
            method: Some(form.label().to_string()),
            threshold: Some(confidence),
            ..DeriveParams::of("icc", None, &names, None)
        };
        let run = explore::record_with(session, args, RunKind::Icc, params)?;

        let pct = (confidence * 100.0).round();
        let mut table =
            Table::new(["feature", "icc", "ci_low", "ci_high", "f", "p_value", "agreement"]).with_title(format!(
                "{} of {} — {} patients, {} features",
                form.label(),
                names.join(" vs "),
                patients.len(),
                features.len()
            ));
        let mut counts = [0usize; 4];
        let mut failed = Vec::new();
        let mut identical = 0;
        for name in &features {
            let ratings: Vec<Vec<f64>> = patients
                .iter()
                .map(|id| {
                    inputs.iter().zip(&positions).zip(&columns).map(|((i, p), c)| i.x.get(p[id], c[name])).collect()
                })
                .collect();
            // Identical ratings leave no residual: agreement is perfect and the F test undefined.
            if ratings.iter().all(|r| r.iter().all(|v| *v == r[0])) && ratings.iter().any(|r| r[0] != ratings[0][0]) {
                counts[0] += 1;
                identical += 1;
                let one = Cell::Float(1.0);
                table.push(vec![
                    (*name).into(),
                    one.clone(),
                    one.clone(),
                    one,
                    Cell::Null,
                    Cell::Null,
                    "excellent".into(),
                ]);
                continue;
            }
            match icc(&ratings, form, confidence) {
                Ok(v) if v.icc.is_finite() => {
                    let (band, k) = agreement(v.icc);
                    counts[k] += 1;
                    table.push(vec![
                        (*name).into(),
                        Cell::Float(v.icc),
                        Cell::Float(v.ci_low),
                        Cell::Float(v.ci_high),
                        Cell::Float(v.f),
                        Cell::Float(v.p),
                        band.into(),
                    ]);
                }
                Ok(_) => failed.push(format!("{name} (undefined: no variance)")),
                Err(e) => failed.push(format!("{name} ({e})")),
            }
        }
        table.notes.push(format!(
            "{}: {pct}% interval from the F distribution as in McGraw & Wong (1996), as pingouin computes it",
            form.label()
        ));
        table.notes.push(format!(
            "agreement (Koo & Li 2016): excellent > 0.9: {}, good 0.75–0.9: {}, moderate 0.5–0.75: {}, poor < 0.5: {}",
            counts[0], counts[1], counts[2], counts[3]
        ));
        if identical > 0 {
            table.notes.push(format!("{identical} feature(s) identical in every extraction: ICC 1, no F test"));
        }
        if !failed.is_empty() {
            table.notes.push(format!("no ICC for {} feature(s): {}", failed.len(), failed.join("; ")));
        }
        if only_some > 0 {
            table.notes.push(format!("{only_some} feature(s) are not in every frame and were left out"));
        }
        Ok(Output::Many(vec![Output::Table(table), Output::Note(format!("  recorded as run {run}"))]))
    }
}

/// Koo & Li's (2016) bands for an ICC value, with their index.
fn agreement(value: f64) -> (&'static str, usize) {
    if value > 0.9 {
        ("excellent", 0)
    } else if value >= 0.75 {
        ("good", 1)
    } else if value >= 0.5 {
        ("moderate", 2)
    } else {
        ("poor", 3)
    }
}
