//! `report NAME [--experiment E | --runs IDS] [--out DIR] [--published FILE]`:
//! Tables 2–3, Figure 4 and the rest, redrawn from runs.db alone.

use std::path::PathBuf;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::provenance::sha256_file;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{ReportParams, incidental};

pub struct Report;

impl Command for Report {
    fn signature(&self) -> Signature {
        Signature::new("report", "evaluation", "Tables 2–3, ROC figures and provenance as a self-contained HTML report")
            .required("NAME", ArgKind::Text, "the report's name (its folder under reports/ by default)")
            .named(
                "experiment",
                "E",
                ArgKind::Text,
                "every finished cv/holdout run (and plot run written as SVG) filed under experiment E",
            )
            .named("runs", "IDS", ArgKind::Text, "comma-separated run ids (ranges like 3-7 allowed)")
            .named("out", "DIR", ArgKind::Path, "the folder to write (default reports/NAME)")
            .named("published", "FILE", ArgKind::Path, "published values to show beside (CSV: table,model,auc,acc,f1)")
            .named(
                "bootstrap",
                "N",
                ArgKind::Int,
                "also a stratified bootstrap AUC interval from N replicates (seed 7)",
            )
            .switch(
                "pseudonymise",
                "replace patient ids in tables/predictions.csv by HMAC-SHA-256 under the key in $RADOSE_PSEUDONYM_KEY",
            )
            .switch("absolute-paths", "show input files with their full paths (default: relative)")
            .named("note", "TEXT", ArgKind::Text, "a line shown under the report's title (e.g. the profile used)")
            .named(
                "table1",
                "RUN",
                ArgKind::Text,
                "include Table 1 as this table1 run recorded it (a run id, or latest)",
            )
            .named(
                "table2",
                "READING",
                ArgKind::Text,
                "Table 2's headline: pooled (default; every patient's out-of-fold probability) or fold-mean \
                 (means ± SD over folds); both are shown",
            )
            .example("report quick", "every finished cv and holdout run, into reports/quick/")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?.text.clone();
        let started = Instant::now();
        let ids: Vec<i64> = match (args.value("runs"), args.value("experiment")) {
            (Some(_), Some(_)) => return Err(Error::invalid("give --runs or --experiment, not both", None)),
            (Some(tok), None) => parse_ids(&tok.text).ok_or_else(|| Error::InvalidValue {
                token: tok.text.clone(),
                what: "--runs".into(),
                reason: "expected run ids like 3,5,8-12".into(),
                span: tok.span,
            })?,
            (None, experiment) => {
                crate::report::finished_run_ids(session.store(), experiment.map(|t| t.text.as_str()))?
            }
        };
        if ids.is_empty() {
            return Err(Error::invalid(
                "no finished cv or holdout runs to report",
                Some("run `cv` / `holdout` first, or name runs with --runs"),
            ));
        }
        let table2 = match args.value("table2") {
            None => crate::report::Table2Reading::default(),
            Some(t) => crate::report::Table2Reading::parse(&t.text).ok_or_else(|| Error::InvalidValue {
                token: t.text.clone(),
                what: "--table2".into(),
                reason: "use pooled or fold-mean".into(),
                span: t.span,
            })?,
        };
        let table1 =
            args.value("table1").map(|t| crate::workflow::lookup::recorded_table1(session.store(), t)).transpose()?;
        let dir = args.value("out").map_or_else(|| PathBuf::from("reports").join(&name), |t| PathBuf::from(&t.text));
        let published =
            args.value("published").map(|t| crate::report::read_published(&PathBuf::from(&t.text))).transpose()?;
        let run = session.begin_run(
            args,
            RunKind::Report,
            &ReportParams {
                pseudonymised: args.has("pseudonymise"),
                name: name.clone(),
                runs: ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
                out: dir.display().to_string(),
                table2: Some(table2.as_str().to_string()),
                table1: table1.as_ref().map(|(id, _)| *id),
            },
            None,
        )?;
        let bootstrap: usize = args.parsed("bootstrap", "a number of replicates")?.unwrap_or(0);
        let opts = crate::report::Options {
            published: published.as_ref(),
            bootstrap,
            pseudonymise: if args.has("pseudonymise") { Some(crate::provenance::pseudonym_key()?) } else { None },
            absolute_paths: args.has("absolute-paths"),
            note: args.value("note").map(|t| t.text.clone()),
            table2,
            table1: table1.map(|(_, t)| t),
        };
        let written = crate::report::build_with(session.store(), &name, &ids, &dir, &opts)?;
        for f in &written.files {
            let sha = sha256_file(f)?;
            session.store().log_artifact(run, &f.display().to_string(), &sha)?;
        }
        let secs = started.elapsed().as_secs_f64();
        session.store().log_incidental_metric(run, incidental::SECONDS, secs)?;
        Ok(Output::Many(vec![
            Output::Message(format!(
                "report `{name}`: {} runs, {} files → {}{}",
                ids.len(),
                written.files.len(),
                dir.join("index.html").display(),
                if written.simulated { "\n  SIMULATED cohorts: the report says so in a banner" } else { "" }
            )),
            Output::Note(format!("  written in {secs:.2} s")),
        ]))
    }
}

/// Parses `3,5,8-12`.
fn parse_ids(s: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i64, i64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 10_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    (!out.is_empty()).then_some(out)
}
