//! `audit published --table FILE --against RUN|REPORT_DIR [--tol 0.02]`:
//! reproduced numbers against published ones, cell by cell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::core::learn::metrics::{at_threshold, auc};
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};
use crate::store::RunKind;
use crate::store::records::{AuditPublishedMetrics, AuditPublishedParams};

/// The allowed absolute difference without `--tol` (the published values have two decimals).
pub const DEFAULT_TOLERANCE: f64 = 0.02;

pub struct AuditPublished;

impl Command for AuditPublished {
    fn signature(&self) -> Signature {
        Signature::new("audit published", "evaluation", "Check reproduced numbers against published ones, cell by cell")
            .named("table", "FILE", ArgKind::Path, "the published values (CSV: table,model,auc,acc,f1; or a Table 1)")
            .named("against", "RUN|DIR", ArgKind::Text, "a cv/holdout run id, a table1 run id, or a report folder")
            .defaulted("tol", "T", ArgKind::Float, "allowed absolute difference", DEFAULT_TOLERANCE)
            .table()
            .example(
                "audit published --table experiments/published.csv --against 3",
                "run 3's AUC, ACC and F1 against the paper's (or `--against reports/paper`, a report's tables)",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        published(args, session)
    }
}

/// Reproduced (AUC, ACC, F1) of a cv or holdout run, from its predictions.
fn reproduced_of_run(session: &Session, id: i64) -> Result<(String, String, (f64, f64, f64))> {
    let d = session.store().run_detail(id)?;
    let Some(table) = crate::report::table_of(d.summary.kind) else {
        return Err(Error::invalid(
            format!(
                "run {id} is a `{}` run; compare cv/train (Table 2) or holdout/test (Table 3) runs",
                d.summary.kind
            ),
            None,
        ));
    };
    let label = d.params.iter().find(|(k, _)| k == "label").map_or(format!("run {id}"), |(_, v)| v.display());
    let thr = d.metrics.iter().rev().find(|m| m.key == "threshold" && m.fold.is_none()).map_or(0.5, |m| m.value);
    let preds = crate::workflow::compare::patient_predictions(session.store(), id)?;
    let (truth, p): (Vec<u8>, Vec<f64>) = preds.values().copied().unzip();
    let m = at_threshold(&p, &truth, thr);
    Ok((table.into(), label, (auc(&p, &truth), m.accuracy, m.f1)))
}

/// Reproduced values from a report folder's tables.
fn reproduced_of_report(dir: &Path) -> Result<Vec<(String, String, (f64, f64, f64))>> {
    let mut out = Vec::new();
    for (table, file) in [("2", "table2_cv.csv"), ("3", "table3_test.csv")] {
        let path = dir.join("tables").join(file);
        if !path.exists() {
            continue;
        }
        let mut rdr =
            csv::Reader::from_path(&path).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
        let headers = rdr.headers().map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?.clone();
        // The headline AUC, ACC and F1: `AUC (95% CI)`, `ACC`, `F1` (pooled) or `AUC (fold mean ± SD)`, … .
        let col = |name: &str| headers.iter().position(|h| h == name || h.starts_with(&format!("{name} (")));
        let (Some(m), Some(a), Some(c), Some(f)) = (col("model"), col("AUC"), col("ACC"), col("F1")) else {
            return Err(Error::invalid(
                format!("{}: not a radose report table (model, AUC (95% CI), ACC, F1)", path.display()),
                None,
            ));
        };
        for rec in rdr.records() {
            let rec = rec.map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
            let num = |i: usize| {
                rec.get(i)
                    .and_then(|s| s.split_whitespace().next())
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(f64::NAN)
            };
            out.push((table.to_string(), rec.get(m).unwrap_or("").to_string(), (num(a), num(c), num(f))));
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            format!("{}: no tables/table2_cv.csv or tables/table3_test.csv", dir.display()),
            Some("point --against at a folder written by `report`"),
        ));
    }
    Ok(out)
}

fn published(args: &Args, session: &mut Session) -> Result<Output> {
    let Some(table_tok) = args.value("table") else {
        return Err(Error::invalid(
            "audit published needs --table FILE",
            Some("e.g. audit published --table experiments/published.csv --against reports/paper"),
        ));
    };
    let Some(against) = args.value("against") else {
        return Err(Error::invalid("audit published needs --against RUN|DIR", None));
    };
    let tol: f64 = args.parsed("tol", "a tolerance")?.unwrap_or(DEFAULT_TOLERANCE);
    let table_path = PathBuf::from(&table_tok.text);
    let head = std::fs::read_to_string(&table_path).map_err(|e| crate::provenance::io_error(&table_path, e))?;
    if head.lines().next().is_some_and(|l| l.starts_with("variable,level")) {
        let (id, _) = crate::workflow::lookup::recorded_table1(session.store(), against)?;
        return published_table1(session, &table_path, &head, id);
    }
    let published = crate::report::read_published(&table_path)?;
    let reproduced: Vec<(String, String, (f64, f64, f64))> = match against.text.parse::<i64>() {
        Ok(_) => vec![reproduced_of_run(session, parse_token(against, "--against", "a run id")?)?],
        Err(_) => reproduced_of_report(&PathBuf::from(&against.text))?,
    };
    let run = session.begin_run(
        args,
        RunKind::AuditPublished,
        &AuditPublishedParams { table: table_tok.text.clone(), against: against.text.clone(), tol },
        None,
    )?;
    let mut t = Table::new(["table", "model", "metric", "reproduced", "published", "difference", "within tolerance"])
        .with_title(format!("reproduced vs published (tolerance ±{tol})"));
    let (mut within, mut outside, mut unmatched) = (0, 0, Vec::new());
    let mut seen = BTreeMap::new();
    for (table, model, vals) in &reproduced {
        let Some(p) = published.get(table).and_then(|m| m.get(&model.to_ascii_lowercase())) else {
            unmatched.push(format!("Table {table} {model}"));
            continue;
        };
        seen.insert((table.clone(), model.to_ascii_lowercase()), ());
        for (metric, r, q) in [("AUC", vals.0, p.0), ("ACC", vals.1, p.1), ("F1", vals.2, p.2)] {
            let diff = r - q;
            let ok = diff.abs() <= tol + 1e-12;
            if ok {
                within += 1
            } else {
                outside += 1
            }
            t.push(vec![
                Cell::Text(table.clone()),
                Cell::Text(model.clone()),
                metric.into(),
                Cell::Float((r * 1000.0).round() / 1000.0),
                Cell::Float(q),
                Cell::Float((diff * 1000.0).round() / 1000.0),
                if ok { "yes".into() } else { "NO".into() },
            ]);
        }
    }
    session.store().log_metrics(
        run,
        None,
        &AuditPublishedMetrics { within: within as f64, outside: outside as f64 },
    )?;
    t.notes.push(format!("{within} cells within ±{tol}, {outside} outside"));
    if !unmatched.is_empty() {
        t.notes.push(format!("no published value for: {}", unmatched.join(", ")));
    }
    let missing: Vec<String> = published
        .iter()
        .flat_map(|(tb, m)| m.keys().map(move |k| (tb.clone(), k.clone())))
        .filter(|k| !seen.contains_key(k))
        .map(|(tb, k)| format!("Table {tb} {k}"))
        .collect();
    if !missing.is_empty() && missing.len() < 20 {
        t.notes.push(format!("published but not reproduced here: {}", missing.join(", ")));
    }
    Ok(Output::Table(t))
}

/// The numbers in a cell, in order ("47.0 (24.0–75.0)" → 47, 24, 75).
fn numbers(s: &str) -> Vec<(f64, usize)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() || ch == '.' || (ch == '-' && cur.is_empty()) {
            cur.push(ch);
        } else if !cur.is_empty() {
            if let Ok(v) = cur.parse::<f64>() {
                let decimals = cur.split_once('.').map_or(0, |(_, d)| d.len());
                out.push((v, decimals));
            }
            cur.clear();
        }
    }
    out
}

/// Table 1 (variable, level, group columns) against a `table1` run: each
/// published number must equal the reproduced one as printed (within half
/// a unit of the coarser of the two printed last decimals).
fn published_table1(session: &mut Session, path: &Path, text: &str, id: i64) -> Result<Output> {
    let d = session.store().run_detail(id)?;
    let json = d.params.iter().find(|(k, _)| k == "table_json").map(|(_, v)| v.display()).ok_or_else(|| {
        Error::invalid(
            format!("run {id} is not a table1 run (no table recorded)"),
            Some("run `table1 A B` and give its run id"),
        )
    })?;
    let doc: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| Error::invalid(format!("run {id}: {e}"), None))?;
    let columns: Vec<String> =
        doc["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_string)).collect();
    // Rows are objects keyed by column name.
    let text_of = |c: &serde_json::Value| match c {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = doc["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| columns.iter().map(|c| text_of(&r[c.as_str()])).collect())
        .collect();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let mut t = Table::new(["variable", "level", "group", "reproduced", "published", "within"])
        .with_title(format!("Table 1: run {id} vs {}", path.display()));
    let (mut within, mut outside) = (0, 0);
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != header.len() {
            return Err(Error::MalformedRow {
                path: path.to_path_buf(),
                line: n + 2,
                message: format!("{} fields, the header has {}", f.len(), header.len()),
            });
        }
        let found = rows.iter().find(|r| {
            r.first().map(String::as_str) == Some(f[0]) && r.get(1).map(String::as_str).unwrap_or("") == f[1]
        });
        // A level the reproduced cohort does not have (no stage I patient) counts as an empty row.
        let empty = vec![f[0].to_string(), f[1].to_string()];
        let row = found.unwrap_or(&empty);
        for (i, (g, published)) in header.iter().zip(&f).enumerate().skip(2) {
            // A group column is found by name, else at the same position (`A` ↔ `A0`
            // when the frames had other names); p_value and test only by name.
            let by_position = || {
                (!["p_value", "test"].contains(g) && !["p_value", "test"].contains(&columns.get(i)?.as_str()))
                    .then_some(i)
            };
            let Some(c) = columns.iter().position(|h| h == g).or_else(by_position) else {
                return Err(Error::MalformedRow {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!("run {id} has no column `{g}`"),
                });
            };
            if published.trim().is_empty() {
                continue;
            }
            // A bound (">0.05", "<0.001"), as papers print p-values: the
            // variable's reproduced value (on whichever of its rows) must keep it.
            let bound = published
                .trim()
                .strip_prefix('>')
                .map(|b| (true, b))
                .or_else(|| published.trim().strip_prefix('<').map(|b| (false, b)));
            let (reproduced, ok) = match bound {
                Some((above, bound)) => {
                    let bound: f64 = bound.trim().parse().map_err(|_| Error::MalformedRow {
                        path: path.to_path_buf(),
                        line: n + 2,
                        message: format!("`{published}` is not a bound like >0.05"),
                    })?;
                    let got = rows
                        .iter()
                        .filter(|r| r.first().map(String::as_str) == Some(f[0]))
                        .find_map(|r| r.get(c).and_then(|v| v.parse::<f64>().ok()));
                    (
                        got.map_or(Cell::Null, Cell::Float),
                        got.is_some_and(|v| if above { v > bound } else { v < bound }),
                    )
                }
                None => {
                    let cell = row.get(c).cloned().unwrap_or_default();
                    let (want, got) = (numbers(published), numbers(&cell));
                    let ok = !want.is_empty()
                        && want.len() <= got.len()
                        && want
                            .iter()
                            .zip(&got)
                            .all(|((w, dw), (v, dv))| (w - v).abs() <= 0.5 * 10f64.powi(-(*dw.min(dv) as i32)) + 1e-9);
                    (cell.into(), ok)
                }
            };
            if ok {
                within += 1
            } else {
                outside += 1
            }
            t.push(vec![
                f[0].into(),
                f[1].into(),
                (*g).into(),
                reproduced,
                (*published).into(),
                if ok { "yes".into() } else { "NO".into() },
            ]);
        }
    }
    t.notes.push(format!("{within} cells equal as printed (or within their published bound), {outside} not"));
    Ok(Output::Table(t))
}
