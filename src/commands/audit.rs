//! `audit leakage PIPELINE on FRAMES --folds 5 --seed N [--repeats R]`:
//! the fold-safe cross-validation beside the LEAKY published protocol
//! (steps fitted on all patients first), their difference with a paired
//! CI, and each step's share. `audit published --table FILE --against
//! RUN|REPORT_DIR [--tol 0.02]`: reproduced against published, cell by cell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::core::learn::audit::{leaky_cross_validate, step_count, step_name};
use crate::core::learn::cv::repeated_splits;
use crate::core::learn::matrix::Matrix;
use crate::core::learn::metrics::{at_threshold, auc};
use crate::core::learn::pipeline::cross_validate;
use crate::error::{Error, Result};
use crate::output::{Cell, FigureOut, Output, Table, format_sig};
use crate::render::figures::Figure;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};
use crate::store::records::{
    AuditArmParams, AuditLeakageMetrics, AuditLeakageParams, AuditPublishedMetrics, AuditPublishedParams,
    LEAKY_AUC_OUTSIDE,
};
use crate::store::{Prediction, RunKind, RunStatus};
use crate::syntax::Token;
use crate::workflow::features::joined_inputs;

pub struct Audit;

impl Command for Audit {
    fn signature(&self) -> Signature {
        Signature::new(
            "audit",
            "evaluation",
            "Measure leakage optimism, or check reproduced numbers against published ones",
        )
        .required("WHAT", ArgKind::Text, "leakage or published")
        .rest("ARGS", ArgKind::Frame, "leakage: PIPELINE on FRAMES…")
        .named("folds", "K", ArgKind::Int, "leakage: number of folds (default 5)")
        .named("repeats", "R", ArgKind::Int, "leakage: repeats with new shuffles (default 1)")
        .named("seed", "N", ArgKind::Int, "leakage: seed (default 7)")
        .named("experiment", "NAME", ArgKind::Text, "leakage: file the audit under an experiment (for `report`)")
        .named("label", "NAME", ArgKind::Text, "leakage: the model's name (default: the frames, e.g. T1+dose)")
        .named("table", "FILE", ArgKind::Path, "published: the published values (CSV: table,model,auc,acc,f1)")
        .named("against", "RUN|DIR", ArgKind::Text, "published: a cv/holdout run id, or a report folder")
        .named("tol", "T", ArgKind::Float, "published: allowed absolute difference (default 0.02)")
        .table()
        .example("audit leakage P1 on A --folds 3", "fold-safe vs LEAKY cross-validation of P1 on A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let what = args.required(0)?;
        match what.text.as_str() {
            "leakage" => leakage(args, session),
            "published" => published(args, session),
            other => Err(Error::InvalidValue {
                token: other.to_string(),
                what: "WHAT".into(),
                reason: "expected leakage or published".into(),
                span: what.span,
            }),
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    crate::core::describe::mean_sd_finite(v).0
}

fn leakage(args: &Args, session: &mut Session) -> Result<Output> {
    let Some(name) = args.positional(1) else {
        return Err(Error::invalid("audit leakage needs PIPELINE on FRAMES", Some("e.g. audit leakage P1 on A.T1")));
    };
    let pipeline = crate::workflow::lookup::pipeline_named(session, name)?;
    let frames: Vec<Token> = args.positionals[2..].iter().filter(|t| t.text != "on").cloned().collect();
    let k: usize = args.parsed("folds", "a number of folds")?.unwrap_or(5);
    let repeats: usize = args.parsed("repeats", "a number of repeats")?.unwrap_or(1).max(1);
    let seed: u64 = args.parsed("seed", "a non-negative whole number")?.unwrap_or(7);
    let inputs = joined_inputs(session, &frames)?;
    let y = inputs[0].y.clone();
    let ids = inputs[0].ids.clone();
    let labelled: Vec<(String, Matrix, Vec<String>)> =
        inputs.iter().map(|i| (i.label.clone(), i.x.clone(), i.names.clone())).collect();
    let label = crate::workflow::lookup::model_label(args, &frames);
    let steps = step_count(&pipeline);
    let parent = session.begin_run_in(
        args,
        RunKind::AuditLeakage,
        &AuditLeakageParams {
            label: label.clone(),
            pipeline: name.text.clone(),
            steps: pipeline.text.clone(),
            inputs: frames.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(","),
            folds: k,
            repeats,
        },
        Some(seed),
        args.value("experiment").map(|t| t.text.clone()),
    )?;
    for d in inputs.iter().flat_map(|i| i.dataset_ids.iter()) {
        session.store().link_dataset(parent, *d)?;
    }
    let cancel = session.cancel_flag();
    let progress = session.progress((repeats * 2 + steps) as u64, "fits", format!("audit leakage {}", name.text));
    let mut rows = Table::new(["repeat", "fold", "fold-safe AUC", "LEAKY AUC", "difference"]);
    let (mut safe_all, mut leaky_all, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    let splits = repeated_splits(&y, k, repeats, seed)?;
    for (r, split) in splits.iter().enumerate() {
        let s = split.seeds.fit;
        let safe =
            cross_validate(&pipeline, &labelled, &y, &split.folds, s, &|| cancel.is_cancelled(), &mut |_| Ok(()))?;
        progress.inc(1);
        let (leaky, _) =
            leaky_cross_validate(&pipeline, &labelled, &y, steps, k, split.seeds, &|| cancel.is_cancelled())?;
        progress.inc(1);
        for (arm, results, is_leaky) in
            [("fold-safe", &safe, false), ("LEAKY: every step fitted on all patients first", &leaky, true)]
        {
            let arm_params = AuditArmParams { arm: arm.into(), leaky: is_leaky, repeat: r };
            let child = session.begin_child(parent, RunKind::AuditArm, &arm_params, Some(s))?;
            let store = session.store_mut();
            for f in results.iter() {
                store.log_metric(child, "auc", f.auc, None, Some((r * k + f.fold) as i64))?;
            }
            if !is_leaky {
                for f in results.iter() {
                    let fold = Some((r * k + f.fold) as i64);
                    let preds: Vec<Prediction> = f
                        .test
                        .iter()
                        .zip(&f.probability)
                        .map(|(&i, &p)| Prediction { fold, patient: ids[i].clone(), label: y[i], probability: p })
                        .collect();
                    store.log_predictions(child, &preds)?;
                }
            }
            store.finish_run(child, RunStatus::Finished, None)?;
        }
        for (a, b) in safe.iter().zip(&leaky) {
            rows.push(vec![
                Cell::Int(r as i64 + 1),
                Cell::Int(a.fold as i64 + 1),
                Cell::Float(a.auc),
                Cell::Float(b.auc),
                Cell::Float(b.auc - a.auc),
            ]);
            safe_all.push(a.auc);
            leaky_all.push(b.auc);
            diffs.push(b.auc - a.auc);
        }
    }
    // Paired interval over the fold pairs.
    let n = diffs.len() as f64;
    let (d_mean, d_sd) = crate::core::describe::mean_sd_finite(&diffs);
    let t = StudentsT::new(0.0, 1.0, (n - 1.0).max(1.0)).map(|t| t.inverse_cdf(0.975)).unwrap_or(f64::NAN);
    let (lo, hi) = (d_mean - t * d_sd / n.sqrt(), d_mean + t * d_sd / n.sqrt());
    // Each step's share: the first s steps outside, repeat 1's folds.
    let mut contrib = Table::new(["steps fitted on all patients", "mean fold AUC", "added optimism"])
        .with_title("which steps leak (cumulative, repeat 1)");
    let seeds0 = splits[0].seeds;
    let mut prev = mean(&safe_all[..k.min(safe_all.len())]);
    contrib.push(vec!["none (fold-safe)".into(), Cell::Float(prev), Cell::Null]);
    for s in 1..=steps {
        let (res, _) = leaky_cross_validate(&pipeline, &labelled, &y, s, k, seeds0, &|| cancel.is_cancelled())?;
        progress.inc(1);
        let m = mean(&res.iter().map(|f| f.auc).collect::<Vec<_>>());
        let names: Vec<String> = (0..s).map(|i| step_name(&pipeline, i)).collect();
        contrib.push(vec![Cell::Text(names.join(" → ")), Cell::Float(m), Cell::Float(m - prev)]);
        session.store().log_metric(
            parent,
            &LEAKY_AUC_OUTSIDE.key(&format!("{s}_{}", step_name(&pipeline, s - 1))),
            m,
            None,
            None,
        )?;
        prev = m;
    }
    drop(progress);
    let finite = |v: f64| v.is_finite().then_some(v);
    let summary = AuditLeakageMetrics {
        safe_auc_mean: finite(mean(&safe_all)),
        leaky_auc_mean: finite(mean(&leaky_all)),
        optimism: finite(d_mean),
        optimism_ci_low: finite(lo),
        optimism_ci_high: finite(hi),
    };
    session.store().log_metrics(parent, None, &summary)?;
    rows.title = Some(format!("audit leakage {} on {} — run {parent}", name.text, label));
    rows.notes.push(format!(
        "optimism (LEAKY − fold-safe) {} (95% CI {} to {}, paired t over {} fold pairs); fold-safe mean {}, LEAKY mean {}",
        format_sig(d_mean, 3),
        format_sig(lo, 3),
        format_sig(hi, 3),
        diffs.len(),
        format_sig(mean(&safe_all), 3),
        format_sig(mean(&leaky_all), 3)
    ));
    rows.notes.push("LEAKY arm: the published protocol, recorded for comparison only; no other command uses it".into());
    let fig = Figure::AuditFolds { model: label.clone(), safe: safe_all.clone(), leaky: leaky_all.clone() };
    let figure = FigureOut {
        title: format!("{label} — fold AUC, fold-safe vs LEAKY (run {parent})"),
        svg: fig.svg()?,
        data: serde_json::json!({ "safe": safe_all, "leaky": leaky_all }),
    };
    Ok(Output::Many(vec![Output::Table(rows), Output::Table(contrib), Output::Figure(figure)]))
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
    let preds = crate::workflow::lookup::patient_predictions(session, id)?;
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
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(m), Some(a), Some(c), Some(f)) = (col("model"), col("AUC (95% CI)"), col("ACC"), col("F1")) else {
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
    let tol: f64 = args.parsed("tol", "a tolerance")?.unwrap_or(0.02);
    let table_path = PathBuf::from(&table_tok.text);
    let head = std::fs::read_to_string(&table_path).map_err(|e| crate::provenance::io_error(&table_path, e))?;
    if head.lines().next().is_some_and(|l| l.starts_with("variable,level")) {
        let id: i64 = parse_token(against, "--against", "a table1 run id")?;
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
        let Some(row) = rows.iter().find(|r| {
            r.first().map(String::as_str) == Some(f[0]) && r.get(1).map(String::as_str).unwrap_or("") == f[1]
        }) else {
            return Err(Error::MalformedRow {
                path: path.to_path_buf(),
                line: n + 2,
                message: format!("run {id} has no row {} / {}", f[0], f[1]),
            });
        };
        for (g, published) in header.iter().zip(&f).skip(2) {
            let Some(c) = columns.iter().position(|h| h == g) else {
                return Err(Error::MalformedRow {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!("run {id} has no column `{g}`"),
                });
            };
            let (want, got) = (numbers(published), numbers(row.get(c).map(String::as_str).unwrap_or("")));
            let ok = !want.is_empty()
                && want.len() <= got.len()
                && want
                    .iter()
                    .zip(&got)
                    .all(|((w, dw), (v, dv))| (w - v).abs() <= 0.5 * 10f64.powi(-(*dw.min(dv) as i32)) + 1e-9);
            if ok {
                within += 1
            } else {
                outside += 1
            }
            t.push(vec![
                f[0].into(),
                f[1].into(),
                (*g).into(),
                row.get(c).cloned().unwrap_or_default().into(),
                (*published).into(),
                if ok { "yes".into() } else { "NO".into() },
            ]);
        }
    }
    t.notes.push(format!("{within} cells equal as printed, {outside} not"));
    Ok(Output::Table(t))
}
