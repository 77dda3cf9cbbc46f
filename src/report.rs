//! Reports from the tracker alone: Tables 2 (cross-validation) and 3 (test
//! set), Figure 4 (per-model fold ROCs with the mean curve and ±1 SD band)
//! and its all-model grid, test-set ROCs with DeLong CIs, calibration
//! plots, and a provenance section — written as a self-contained
//! `index.html` (inline SVG and CSS) plus `tables/` and `figures/`.
//! Everything is recomputed from the predictions and parameters in
//! `runs.db`, so a report can be redrawn without retraining.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::core::learn::metrics::{Roc, at_threshold, auc, brier, calibration, delong, reliability, roc_curve};
use crate::error::{Error, Result};
use crate::output::{Cell, Table};
use crate::render::figures::{CurvePanel, CurvePoint, CvPanel, Figure, TestPanel};
use crate::render::table::{csv, html, html_escape, latex, markdown};
use crate::store::records::{
    AuditArmParams, AuditLeakageMetrics, HeldOutMetrics, NestedMetrics, TrainConfigParams, TrainParams, curve,
};
use crate::store::{Metrics, Params, Prediction, RunDetail, RunKind, Store};

/// Published values to show beside the reproduced ones: table → model → (AUC, ACC, F1).
pub type Published = BTreeMap<String, BTreeMap<String, (f64, f64, f64)>>;

/// Reads `table,model,auc,acc,f1` rows (table 2 or 3).
pub fn read_published(path: &Path) -> Result<Published> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::provenance::io_error(path, e))?;
    let mut out: Published = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok());
        match (f.first(), f.get(1), num(2), num(3), num(4)) {
            (Some(t), Some(m), Some(a), Some(c), Some(f1)) => {
                out.entry(t.to_string()).or_default().insert(m.to_ascii_lowercase(), (a, c, f1));
            }
            _ => {
                return Err(Error::MalformedRow {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: "expected table,model,auc,acc,f1".into(),
                });
            }
        }
    }
    Ok(out)
}

/// One run's data for the report.
struct ModelRun {
    detail: RunDetail,
    label: String,
    predictions: Vec<Prediction>,
}

impl ModelRun {
    fn param(&self, key: &str) -> Option<String> {
        self.detail.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.display())
    }
    /// The test threshold a `holdout`/`test` run chose (0.5 for cross-validation).
    fn threshold(&self) -> f64 {
        if table_of(self.detail.summary.kind) != Some("3") {
            return 0.5;
        }
        HeldOutMetrics::from_metrics(self.detail.summary.id, &self.detail.metrics)
            .ok()
            .and_then(|m| m.threshold)
            .unwrap_or(0.5)
    }
    fn simulated(&self) -> bool {
        self.param("simulated").is_some_and(|v| v == "true")
    }
    /// Per-patient (label, mean probability), sorted by patient.
    fn pooled(&self) -> (Vec<u8>, Vec<f64>) {
        let mut acc: BTreeMap<&str, (u8, f64, usize)> = BTreeMap::new();
        for p in &self.predictions {
            let e = acc.entry(p.patient.as_str()).or_insert((p.label, 0.0, 0));
            e.1 += p.probability;
            e.2 += 1;
        }
        acc.values().map(|(l, s, n)| (*l, s / *n as f64)).unzip()
    }
    /// Each fold's (labels, probabilities), by fold.
    fn by_fold(&self) -> BTreeMap<i64, (Vec<u8>, Vec<f64>)> {
        let mut by: BTreeMap<i64, (Vec<u8>, Vec<f64>)> = BTreeMap::new();
        for p in &self.predictions {
            if let Some(f) = p.fold {
                let e = by.entry(f).or_default();
                e.0.push(p.label);
                e.1.push(p.probability);
            }
        }
        by
    }

    /// Each fold's (AUC, accuracy, F1) at probability 0.5.
    fn fold_metrics(&self) -> Vec<[f64; 3]> {
        self.by_fold()
            .values()
            .map(|(t, p)| {
                let m = at_threshold(p, t, 0.5);
                [auc(p, t), m.accuracy, m.f1]
            })
            .collect()
    }

    fn folds(&self) -> Vec<(Roc, f64)> {
        self.by_fold().values().filter_map(|(t, p)| roc_curve(p, t).map(|r| (r, auc(p, t)))).collect()
    }
}

/// A run's model name: its `label` parameter, else its pipeline, else "run ID".
fn run_label(detail: &RunDetail) -> String {
    let param = |k: &str| detail.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.display());
    param("label").or_else(|| param("pipeline")).unwrap_or_else(|| format!("run {}", detail.summary.id))
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub runs: Vec<i64>,
    pub simulated: bool,
}

fn fmt(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "—".into() }
}

/// A metric cell rounded as the paper prints it.
fn r2(x: f64) -> Cell {
    if x.is_finite() { Cell::Float((x * 100.0).round() / 100.0) } else { Cell::Null }
}

fn r3(x: f64) -> Cell {
    if x.is_finite() { Cell::Float((x * 1000.0).round() / 1000.0) } else { Cell::Null }
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn write(path: &Path, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<()> {
    crate::provenance::write_atomic(path, bytes)?;
    files.push(path.to_path_buf());
    Ok(())
}

/// Options of a report.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    pub published: Option<&'a Published>,
    /// Stratified bootstrap replicates for an extra AUC interval (0: none).
    pub bootstrap: usize,
    /// Key for pseudonymising patient ids in `tables/predictions.csv`.
    pub pseudonymise: Option<String>,
    /// Show input paths in full (default: relative to the working folder).
    pub absolute_paths: bool,
    /// A line shown under the title (e.g. the script profile that made the runs).
    pub note: Option<String>,
    /// Which reading of Table 2 is the headline.
    pub table2: Table2Reading,
    /// Table 1 as a `table1` run recorded it (shown first).
    pub table1: Option<Table>,
}

/// How Table 2 aggregates the folds of a cross-validation; the paper does
/// not say. Both are shown, one as the headline (what `audit published`
/// compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table2Reading {
    /// AUC/ACC/F1 of every patient's out-of-fold probability, pooled.
    #[default]
    Pooled,
    /// The mean (± SD) of each fold's AUC/ACC/F1.
    FoldMean,
}

impl Table2Reading {
    pub const NAMES: [&'static str; 2] = ["pooled", "fold-mean"];

    pub fn parse(s: &str) -> Option<Table2Reading> {
        match s {
            "pooled" => Some(Table2Reading::Pooled),
            "fold-mean" => Some(Table2Reading::FoldMean),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The paper table a run kind fills: "2" for cross-validation (`cv`, and the
/// deep model's `train`), "3" for a test set (`holdout`, `test`).
pub fn table_of(kind: RunKind) -> Option<&'static str> {
    match kind {
        RunKind::Cv | RunKind::Train => Some("2"),
        RunKind::Holdout | RunKind::Test => Some("3"),
        _ => None,
    }
}

/// Every finished run a report covers — model results, leakage audits and
/// plot runs — filed under `experiment` (all when `None`), oldest first.
pub fn finished_run_ids(store: &Store, experiment: Option<&str>) -> Result<Vec<i64>> {
    use crate::store::RunStatus;
    use crate::store::query::{Expr, Field, Op, Value, column};
    let kinds = Expr::In(
        Field::Column("r.kind"),
        RunKind::ALL
            .into_iter()
            .filter(|k| k.is_model_result() || matches!(k, RunKind::AuditLeakage | RunKind::Plot))
            .map(|k| Value::Text(k.as_str().into()))
            .collect(),
        false,
    );
    let finished = Expr::Cmp(Field::Column("r.status"), Op::Eq, Value::Text(RunStatus::Finished.as_str().into()));
    let mut filter = Expr::And(Box::new(kinds), Box::new(finished));
    if let (Some(e), Some(col)) = (experiment, column("experiment")) {
        filter = Expr::And(Box::new(filter), Box::new(Expr::Cmp(col, Op::Eq, Value::Text(e.to_string()))));
    }
    let mut ids: Vec<i64> =
        store.query_runs(Some(&filter), None, false, 100_000)?.into_iter().map(|(r, _)| r.id).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Tables 2 and 3 and the leakage audit table of `ids`, computed as the
/// report computes them (the dashboard's experiment page).
pub fn tables(store: &Store, ids: &[i64], opts: &Options<'_>) -> Result<(Table, Table, Table)> {
    let collected = collect(store, ids)?;
    let computed = compute(&collected, opts)?;
    Ok((computed.table2, computed.table3, computed.audit_table))
}

/// Builds the report for `ids` into `dir`.
pub fn build(store: &Store, name: &str, ids: &[i64], dir: &Path, published: Option<&Published>) -> Result<Written> {
    build_with(store, name, ids, dir, &Options { published, ..Options::default() })
}

/// [`build`] with every option: the runs collected from runs.db, the
/// tables and figures computed from them, then everything written.
pub fn build_with(store: &Store, name: &str, ids: &[i64], dir: &Path, opts: &Options<'_>) -> Result<Written> {
    let collected = collect(store, ids)?;
    let computed = compute(&collected, opts)?;
    let files = write_report(dir, name, &collected, &computed, opts)?;
    Ok(Written { dir: dir.to_path_buf(), files, runs: ids.to_vec(), simulated: computed.simulated })
}

/// One `audit leakage` run: its label, each fold's fold-safe and LEAKY AUC.
struct AuditRun {
    label: String,
    safe: Vec<f64>,
    leaky: Vec<f64>,
    detail: RunDetail,
}

/// The runs a report covers, read from runs.db.
struct Collected {
    /// Model runs, each model by its latest run.
    runs: Vec<ModelRun>,
    /// Each `train` run's learning curves (its chosen configuration).
    curves: Vec<CurvePanel>,
    audits: Vec<AuditRun>,
    /// Exploration figures (`plot hist|box|…` runs written with `--out
    /// FILE.svg`): (run id, caption, SVG text), read back from their
    /// artifacts when the file still hashes as recorded.
    exploration: Vec<(i64, String, String)>,
    /// Earlier runs of models run again, left out.
    superseded: usize,
}

/// Stage 1: reads the runs (model runs with their predictions, audits with
/// their arms) and keeps each model's latest run.
fn collect(store: &Store, ids: &[i64]) -> Result<Collected> {
    let mut runs = Vec::new();
    let mut audits = Vec::new();
    let mut exploration = Vec::new();
    for &id in ids {
        let detail = store.run_detail(id)?;
        if detail.summary.kind == RunKind::Plot {
            for (path, sha) in detail.artifacts.iter().filter(|(p, _)| p.ends_with(".svg")) {
                let Ok(bytes) = std::fs::read(path) else { continue };
                if crate::provenance::sha256_bytes(&bytes) != *sha {
                    continue;
                }
                let caption = format!("{} (run {id})", detail.summary.command);
                exploration.push((id, caption, String::from_utf8_lossy(&bytes).into_owned()));
            }
            continue;
        }
        if detail.summary.kind == RunKind::AuditLeakage {
            let (mut safe, mut leaky) = (Vec::new(), Vec::new());
            for &child in &detail.children {
                let c = store.run_detail(child)?;
                let is_leaky = AuditArmParams::from_params(child, &c.params)?.leaky;
                let mut aucs: Vec<(i64, f64)> =
                    c.metrics.iter().filter(|m| m.key == "auc").filter_map(|m| m.fold.map(|f| (f, m.value))).collect();
                aucs.sort_by_key(|a| a.0);
                if is_leaky {
                    leaky.extend(aucs.into_iter().map(|a| a.1))
                } else {
                    safe.extend(aucs.into_iter().map(|a| a.1))
                }
            }
            let label = run_label(&detail);
            audits.push(AuditRun { label, safe, leaky, detail });
            continue;
        }
        if table_of(detail.summary.kind).is_none() {
            return Err(Error::invalid(
                format!(
                    "run {id} is a `{}` run; reports take `cv`, `train`, `holdout`, `test`, `audit leakage` and \
                     `plot` runs",
                    detail.summary.kind
                ),
                None,
            ));
        }
        let predictions = store.predictions(id)?;
        if predictions.is_empty() {
            return Err(Error::invalid(format!("run {id} stored no predictions"), None));
        }
        let label = run_label(&detail);
        runs.push(ModelRun { detail, label, predictions });
    }
    // A model run again (the same label in the same table) is reported once: its latest run.
    let mut latest: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        let key = (table_of(r.detail.summary.kind).unwrap_or("?"), r.label.clone());
        let keep = latest.get(&key).is_none_or(|&j| runs[j].detail.summary.id < r.detail.summary.id);
        if keep {
            latest.insert(key, i);
        }
    }
    let superseded = runs.len() - latest.len();
    let keep: std::collections::BTreeSet<usize> = latest.values().copied().collect();
    let runs: Vec<ModelRun> = runs.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, r)| r).collect();
    let mut curves = Vec::new();
    for r in runs.iter().filter(|r| r.detail.summary.kind == RunKind::Train) {
        curves.extend(learning_curves(store, r.detail.summary.id)?);
    }
    Ok(Collected { runs, curves, audits, exploration, superseded })
}

/// What a report shows, before it is written.
struct Computed {
    table2: Table,
    table3: Table,
    /// `table2`/`table3`: one numeric row per model, for scripts.
    numeric: Vec<(&'static str, Table)>,
    /// (file stem, caption, figure).
    figures: Vec<(String, String, Figure)>,
    audit_table: Table,
    /// Each model's choices where the paper is ambiguous (docs/paper.md), from its run parameters.
    choices: Table,
    predictions: Table,
    simulated: bool,
}

/// Whether each deep model's Table 2 row comes from the folds that chose
/// its training configuration (a grid search of several configurations
/// without `--nested`), or from nested cross-validation.
fn selection_notes(cv: &[&ModelRun]) -> Result<Vec<String>> {
    let (mut same, mut nested) = (Vec::new(), Vec::new());
    for r in cv.iter().filter(|r| r.detail.summary.kind == RunKind::Train) {
        let id = r.detail.summary.id;
        let p = TrainParams::from_params(id, &r.detail.params)?;
        match p.nested_folds {
            Some(k) => {
                let m = NestedMetrics::from_metrics(id, &r.detail.metrics)?;
                nested.push(format!(
                    "{} ({k} inner folds; grid search {} on its own folds, optimism {})",
                    r.label,
                    fmt(m.selection_auc_pooled),
                    fmt(m.selection_optimism)
                ));
            }
            None if p.configs > 1 => same.push(format!("{} ({} configurations)", r.label, p.configs)),
            None => {}
        }
    }
    let mut notes = Vec::new();
    if !same.is_empty() {
        notes.push(format!(
            "chosen on the same folds: {} — the configuration was picked by these folds' mean AUC, so their AUC \
             includes selection optimism (`train MODEL on COHORT --nested` measures it)",
            same.join(", ")
        ));
    }
    if !nested.is_empty() {
        notes.push(format!(
            "nested cross-validation: {} — each fold's configuration was chosen inside its training rows",
            nested.join(", ")
        ));
    }
    Ok(notes)
}

/// Stage 2: Tables 2 and 3 (with the published check and the bootstrap
/// interval when asked), the numeric tables, the figures, the audit table
/// and every patient's probability.
fn compute(c: &Collected, opts: &Options<'_>) -> Result<Computed> {
    let published = opts.published;
    let cv: Vec<&ModelRun> = c.runs.iter().filter(|r| table_of(r.detail.summary.kind) == Some("2")).collect();
    let test: Vec<&ModelRun> = c.runs.iter().filter(|r| table_of(r.detail.summary.kind) == Some("3")).collect();
    let simulated = c.runs.iter().any(ModelRun::simulated);

    let mut table2 = table_cv(&cv, published.and_then(|p| p.get("2")), opts.table2);
    let mut table3 = table_test(&test, published.and_then(|p| p.get("3")));
    if c.superseded > 0 {
        table2.notes.push(format!(
            "{} earlier run(s) of models run again are left out: each model is reported by its latest run",
            c.superseded
        ));
    }
    table2.notes.extend(selection_notes(&cv)?);
    // The published check (`audit published`'s rule, ±0.02): how many cells agree.
    for (t, rs, key) in [(&mut table2, &cv, "2"), (&mut table3, &test, "3")] {
        let Some(p) = published.and_then(|p| p.get(key)) else { continue };
        let (mut within, mut total, mut off) = (0, 0, Vec::new());
        for r in rs.iter() {
            let Some((pa, pc, pf)) = p.get(&r.label.to_ascii_lowercase()) else { continue };
            let (truth, prob) = r.pooled();
            let thr = r.threshold();
            let m = at_threshold(&prob, &truth, thr);
            for (name, got, want) in [("AUC", auc(&prob, &truth), *pa), ("ACC", m.accuracy, *pc), ("F1", m.f1, *pf)] {
                total += 1;
                if (got - want).abs() <= 0.02 + 1e-12 {
                    within += 1;
                } else {
                    off.push(format!("{} {name} {} vs {}", r.label, fmt(got), fmt(want)));
                }
            }
        }
        if total > 0 {
            t.notes.push(format!(
                "published check: {within} of {total} cells within ±0.02{}",
                if off.is_empty() { String::new() } else { format!("; outside: {}", off.join(", ")) }
            ));
        }
    }
    if opts.bootstrap > 1 {
        for (t, rs) in [(&mut table2, &cv), (&mut table3, &test)] {
            t.columns.insert(2, format!("AUC bootstrap 95% CI ({} replicates)", opts.bootstrap));
            for (row, r) in t.rows.iter_mut().zip(rs.iter()) {
                let (truth, p) = r.pooled();
                let cell = crate::core::learn::metrics::bootstrap_auc(&p, &truth, opts.bootstrap, 0.95, 7)
                    .map_or(Cell::Null, |(lo, hi)| Cell::Text(format!("{}–{}", fmt(lo), fmt(hi))));
                row.insert(2, cell);
            }
            t.notes.push(format!(
                "bootstrap: events and non-events resampled separately, {} replicates, seed 7, percentile interval",
                opts.bootstrap
            ));
        }
    }
    // Stable, numeric tables for scripts: one row per model.
    let numeric = [("table2", &cv, false), ("table3", &test, true)]
        .into_iter()
        .filter(|(_, rs, _)| !rs.is_empty())
        .map(|(stem, rs, is_test)| (stem, numeric_table(rs, is_test)))
        .collect();
    let figures = figures(&cv, &test, &c.audits, &c.curves);
    let mut audit_table = Table::new(["model", "fold-safe AUC", "LEAKY AUC", "optimism (95% CI)", "run"])
        .with_title("Leakage audit: fold-safe vs the LEAKY published protocol");
    for a in &c.audits {
        let m = AuditLeakageMetrics::from_metrics(a.detail.summary.id, &a.detail.metrics)?;
        let value = |v: Option<f64>| v.unwrap_or(f64::NAN);
        audit_table.push(vec![
            Cell::Text(a.label.clone()),
            r2(crate::core::describe::mean_sd_finite(&a.safe).0),
            r2(crate::core::describe::mean_sd_finite(&a.leaky).0),
            Cell::Text(format!(
                "{} ({} to {})",
                fmt(value(m.optimism)),
                fmt(value(m.optimism_ci_low)),
                fmt(value(m.optimism_ci_high))
            )),
            Cell::Int(a.detail.summary.id),
        ]);
    }
    let predictions = predictions_table(&c.runs, opts.pseudonymise.as_deref());
    let choices = choices_table(&c.runs, opts.table2);
    Ok(Computed { table2, table3, numeric, figures, audit_table, choices, predictions, simulated })
}

/// Figure 4 (each cross-validated model and the grid), each trained
/// model's learning curves, the test-set ROC and calibration of each tested
/// model, and each audit's fold AUCs.
fn figures(
    cv: &[&ModelRun],
    test: &[&ModelRun],
    audits: &[AuditRun],
    curves: &[CurvePanel],
) -> Vec<(String, String, Figure)> {
    let mut figures: Vec<(String, String, Figure)> = Vec::new();
    let panels: Vec<CvPanel> = cv.iter().map(|r| CvPanel { model: r.label.clone(), folds: r.folds() }).collect();
    for p in &panels {
        figures.push((
            format!("roc_cv_{}", slug(&p.model)),
            format!("Figure 4 — {}", p.model),
            Figure::CvRoc(p.clone()),
        ));
    }
    if !panels.is_empty() {
        figures.push(("fig4_roc_cv".into(), "Figure 4 — all models".into(), Figure::CvGrid(panels.clone())));
    }
    for c in curves {
        figures.push((
            format!("curves_{}", slug(&c.model)),
            format!(
                "Learning curves — {}: training and held-out loss, held-out AUC by epoch (each fold, and their mean)",
                c.model
            ),
            Figure::Curves(c.clone()),
        ));
    }
    for r in test {
        let (t, p) = r.pooled();
        if let Some(roc) = roc_curve(&p, &t) {
            let ci = delong(&p, &t).map_or((f64::NAN, f64::NAN), |d| d.ci(0.95));
            let panel = TestPanel { model: r.label.clone(), roc, auc: auc(&p, &t), ci };
            figures.push((
                format!("roc_test_{}", slug(&r.label)),
                format!("Test-set ROC — {}", r.label),
                Figure::TestRoc(panel),
            ));
        }
        if let Some(c) = calibration(&p, &t) {
            let fig = Figure::Calibration {
                model: r.label.clone(),
                bins: reliability(&p, &t, 5),
                intercept: c.intercept,
                slope: c.slope,
            };
            figures.push((
                format!("calibration_{}", slug(&r.label)),
                format!("Calibration — {} (test set)", r.label),
                fig,
            ));
        }
    }
    for a in audits {
        figures.push((
            format!("audit_leakage_{}", slug(&a.label)),
            format!("Leakage audit — {} (run {}): each fold's AUC, fold-safe vs LEAKY", a.label, a.detail.summary.id),
            Figure::AuditFolds { model: a.label.clone(), safe: a.safe.clone(), leaky: a.leaky.clone() },
        ));
    }
    figures
}

/// Every patient's probability, ids pseudonymised when a key is given.
fn predictions_table(runs: &[ModelRun], pseudonymise: Option<&str>) -> Table {
    let mut preds = Table::new(["model", "run", "fold", "patient", "label", "probability"]);
    for r in runs {
        for Prediction { fold, patient: id, label, probability: p } in &r.predictions {
            let patient = match pseudonymise {
                Some(key) => crate::provenance::pseudonym(key, id),
                None => id.clone(),
            };
            preds.push(vec![
                Cell::Text(r.label.clone()),
                Cell::Int(r.detail.summary.id),
                fold.map_or(Cell::Null, Cell::Int),
                Cell::Text(patient),
                Cell::Int(i64::from(*label)),
                Cell::Float(*p),
            ]);
        }
    }
    if pseudonymise.is_some() {
        preds.notes.push("patient ids are HMAC-SHA-256 pseudonyms under the user's key".into());
    }
    preds
}

/// Stage 3: renders and writes the tables (CSV, Markdown, LaTeX, HTML,
/// JSON), the figures (SVG, PNG) and `index.html`; returns the files.
fn write_report(dir: &Path, name: &str, c: &Collected, r: &Computed, opts: &Options<'_>) -> Result<Vec<PathBuf>> {
    let (tables_dir, figures_dir) = (dir.join("tables"), dir.join("figures"));
    for d in [dir, &tables_dir, &figures_dir] {
        std::fs::create_dir_all(d).map_err(|e| crate::provenance::io_error(d, e))?;
    }
    let mut files = Vec::new();
    let t1 = match &opts.table1 {
        Some(t) => {
            let t = t.clone().with_title(format!("Table 1 — {}", t.title.clone().unwrap_or_default()));
            write(&tables_dir.join("table1.csv"), csv(&t).as_bytes(), &mut files)?;
            write(&tables_dir.join("table1.md"), markdown(&t).as_bytes(), &mut files)?;
            t
        }
        None => Table::new(Vec::<String>::new()),
    };
    for (stem, t) in [("table2_cv", &r.table2), ("table3_test", &r.table3)] {
        if t.rows.is_empty() {
            continue;
        }
        write(&tables_dir.join(format!("{stem}.csv")), csv(t).as_bytes(), &mut files)?;
        write(&tables_dir.join(format!("{stem}.md")), markdown(t).as_bytes(), &mut files)?;
        write(&tables_dir.join(format!("{stem}.tex")), latex(t).as_bytes(), &mut files)?;
        write(&tables_dir.join(format!("{stem}.html")), html(t).as_bytes(), &mut files)?;
        write(&tables_dir.join(format!("{stem}.json")), crate::render::table::json(t).as_bytes(), &mut files)?;
    }
    for (stem, t) in &r.numeric {
        write(&tables_dir.join(format!("{stem}.csv")), csv(t).as_bytes(), &mut files)?;
    }
    let mut svgs = Vec::new();
    for (stem, caption, fig) in &r.figures {
        let svg = fig.svg()?;
        write(&figures_dir.join(format!("{stem}.svg")), svg.as_bytes(), &mut files)?;
        let png = figures_dir.join(format!("{stem}.png"));
        fig.png(&png)?;
        files.push(png);
        svgs.push((caption.clone(), svg));
    }
    for (id, caption, svg) in &c.exploration {
        write(&figures_dir.join(format!("explore_run{id}.svg")), svg.as_bytes(), &mut files)?;
        svgs.push((caption.clone(), svg.clone()));
    }
    if !r.choices.rows.is_empty() {
        write(&tables_dir.join("choices.csv"), csv(&r.choices).as_bytes(), &mut files)?;
    }
    if !r.audit_table.rows.is_empty() {
        write(&tables_dir.join("audit_leakage.csv"), csv(&r.audit_table).as_bytes(), &mut files)?;
        write(&tables_dir.join("audit_leakage.md"), markdown(&r.audit_table).as_bytes(), &mut files)?;
    }
    write(&tables_dir.join("predictions.csv"), csv(&r.predictions).as_bytes(), &mut files)?;
    let mut html_text = page(
        name,
        r.simulated,
        &t1,
        &r.table2,
        &r.table3,
        &r.audit_table,
        &r.choices,
        &svgs,
        &c.runs,
        opts.absolute_paths,
    );
    if let Some(note) = &opts.note {
        let at = html_text.find("<h2>Tables</h2>").unwrap_or(html_text.len());
        html_text.insert_str(at, &format!("<p class=\"note\" id=\"note\">{}</p>\n", html_escape(note)));
    }
    write(&dir.join("index.html"), html_text.as_bytes(), &mut files)?;
    Ok(files)
}

/// The choices each model was run with where the paper is ambiguous, read
/// back from the runs' parameters (a deep model's declaration, its grid; a
/// pipeline's text).
fn choices_table(runs: &[ModelRun], table2: Table2Reading) -> Table {
    let mut t = Table::new([
        "model",
        "run",
        "selection",
        "balance",
        "dose input",
        "dose scaling",
        "pooling (block 5 / fusion)",
        "training",
    ])
    .with_title("Choices where the paper is ambiguous (docs/paper.md), as recorded with each run");
    for r in runs {
        let d = &r.detail;
        let param = |k: &str| d.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.display());
        let spec = param("model_json").and_then(|j| serde_json::from_str::<crate::ml::spec::ModelSpec>(&j).ok());
        let row = match spec {
            Some(m) => {
                let [dd, hh, ww] = m.input;
                vec![
                    m.select.clone(),
                    m.balance.name().to_string(),
                    if m.dose {
                        format!("{dd}×{hh}×{ww}, {} ({})", m.dose_crop.as_str(), m.roi)
                    } else {
                        "—".into()
                    },
                    if m.dose { m.dose_scale.describe() } else { "—".into() },
                    format!("{} / {}", if m.dose { m.pool_l6.as_str() } else { "—" }, m.fusion_pool.as_str()),
                    param("grid").or_else(|| param("config").map(|c| config_text(&c))).unwrap_or_default(),
                ]
            }
            None => vec![
                param("steps").or_else(|| param("pipeline")).unwrap_or_default(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
            ],
        };
        let mut cells = vec![Cell::Text(r.label.clone()), Cell::Int(d.summary.id)];
        cells.extend(row.into_iter().map(Cell::Text));
        t.push(cells);
    }
    t.notes.push(format!("Table 2's headline: {} (`report NAME --table2 READING`)", table2.as_str()));
    t
}

/// A retrained configuration (`test`'s recorded JSON) as the grid writes it.
fn config_text(json: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else { return json.to_string() };
    ["lr", "batch", "epochs", "weight_decay", "lr_decay"]
        .iter()
        .filter_map(|k| v.get(*k).map(|x| format!("{}={x}", if *k == "weight_decay" { "wd" } else { k })))
        .collect::<Vec<_>>()
        .join(" ")
}

fn published_cells(p: Option<&BTreeMap<String, (f64, f64, f64)>>, label: &str) -> Vec<Cell> {
    match p.and_then(|m| m.get(&label.to_ascii_lowercase())) {
        Some((a, c, f)) => vec![Cell::Float(*a), Cell::Float(*c), Cell::Float(*f)],
        None => vec![Cell::Null, Cell::Null, Cell::Null],
    }
}

fn table_cv(
    runs: &[&ModelRun],
    published: Option<&BTreeMap<String, (f64, f64, f64)>>,
    reading: Table2Reading,
) -> Table {
    let pooled_cols = ["AUC (95% CI)", "ACC", "F1"];
    let fold_cols = ["AUC (fold mean ± SD)", "ACC (fold mean ± SD)", "F1 (fold mean ± SD)"];
    let (headline, beside_names) = match reading {
        Table2Reading::Pooled => (pooled_cols, ["fold AUC mean ± SD", "fold ACC mean ± SD", "fold F1 mean ± SD"]),
        Table2Reading::FoldMean => (fold_cols, ["pooled AUC (95% CI)", "pooled ACC", "pooled F1"]),
    };
    let mut cols = vec!["model"];
    cols.extend(headline);
    cols.extend(beside_names);
    cols.extend(["sensitivity", "specificity", "Brier", "run"]);
    if published.is_some() {
        cols.extend(["published AUC", "published ACC", "published F1"]);
    }
    let title = match reading {
        Table2Reading::Pooled => "Table 2 — cross-validation (pooled out-of-fold predictions)",
        Table2Reading::FoldMean => "Table 2 — cross-validation (means ± SD over folds)",
    };
    let mut t = Table::new(cols).with_title(title);
    for r in runs {
        let (truth, p) = r.pooled();
        let m = at_threshold(&p, &truth, 0.5);
        let a = auc(&p, &truth);
        let ci = delong(&p, &truth).map(|d| d.ci(0.95));
        let pooled = [
            Cell::Text(match ci {
                Some((lo, hi)) => format!("{} ({}–{})", fmt(a), fmt(lo), fmt(hi)),
                None => fmt(a),
            }),
            r2(m.accuracy),
            r2(m.f1),
        ];
        let per_fold = r.fold_metrics();
        let mean_sd = |k: usize| {
            let v: Vec<f64> = per_fold.iter().map(|f| f[k]).collect();
            let (mean, sd) = crate::core::describe::mean_sd_finite(&v);
            Cell::Text(format!("{} ± {}", fmt(mean), fmt(sd)))
        };
        let folds = [mean_sd(0), mean_sd(1), mean_sd(2)];
        let mut row = vec![Cell::Text(r.label.clone())];
        match reading {
            Table2Reading::Pooled => row.extend(pooled.into_iter().chain(folds)),
            Table2Reading::FoldMean => row.extend(folds.into_iter().chain(pooled)),
        }
        row.extend([r2(m.sensitivity), r2(m.specificity), r3(brier(&p, &truth)), Cell::Int(r.detail.summary.id)]);
        if published.is_some() {
            row.extend(published_cells(published, &r.label));
        }
        t.push(row);
    }
    t.notes.push(
        "pooled: AUC of the out-of-fold probabilities of every patient with DeLong's 95% CI, ACC and F1 at \
         probability 0.5; fold mean ± SD: each fold's AUC, ACC and F1 (at 0.5) averaged (SD with n − 1); \
         sensitivity, specificity and Brier pooled"
            .into(),
    );
    t.notes.push(match reading {
        Table2Reading::Pooled => "headline: pooled (`report … --table2 fold-mean` puts the fold means first); \
                                  the published check compares the headline AUC, ACC and F1"
            .into(),
        Table2Reading::FoldMean => "headline: fold means (`--table2 fold-mean`); the published check compares \
                                    the headline AUC, ACC and F1"
            .into(),
    });
    t
}

/// `model, auc, auc_ci_low, auc_ci_high, acc, f1, sensitivity, specificity`
/// (DeLong CI; threshold 0.5 for cross-validation, the run's for a test set).
fn numeric_table(runs: &[&ModelRun], is_test: bool) -> Table {
    let mut t = Table::new(["model", "auc", "auc_ci_low", "auc_ci_high", "acc", "f1", "sensitivity", "specificity"]);
    for r in runs {
        let (truth, p) = r.pooled();
        let thr = if is_test { r.threshold() } else { 0.5 };
        let m = at_threshold(&p, &truth, thr);
        let ci = delong(&p, &truth).map(|d| d.ci(0.95));
        let num = |v: f64| if v.is_finite() { Cell::Float(v) } else { Cell::Null };
        t.push(vec![
            Cell::Text(r.label.clone()),
            num(auc(&p, &truth)),
            ci.map_or(Cell::Null, |c| num(c.0)),
            ci.map_or(Cell::Null, |c| num(c.1)),
            num(m.accuracy),
            num(m.f1),
            num(m.sensitivity),
            num(m.specificity),
        ]);
    }
    t
}

fn table_test(runs: &[&ModelRun], published: Option<&BTreeMap<String, (f64, f64, f64)>>) -> Table {
    let mut cols = vec![
        "model",
        "AUC (95% CI)",
        "ACC",
        "F1",
        "sensitivity",
        "specificity",
        "Brier",
        "calibration intercept",
        "calibration slope",
        "threshold",
        "run",
    ];
    if published.is_some() {
        cols.extend(["published AUC", "published ACC", "published F1"]);
    }
    let mut t = Table::new(cols).with_title("Table 3 — external test set");
    for r in runs {
        let (truth, p) = r.pooled();
        let thr = r.threshold();
        let m = at_threshold(&p, &truth, thr);
        let a = auc(&p, &truth);
        let ci = delong(&p, &truth).map(|d| d.ci(0.95));
        let cal = calibration(&p, &truth);
        let mut row = vec![
            Cell::Text(r.label.clone()),
            Cell::Text(match ci {
                Some((lo, hi)) => format!("{} ({}–{})", fmt(a), fmt(lo), fmt(hi)),
                None => fmt(a),
            }),
            r2(m.accuracy),
            r2(m.f1),
            r2(m.sensitivity),
            r2(m.specificity),
            r3(brier(&p, &truth)),
            cal.map_or(Cell::Null, |c| r2(c.intercept)),
            cal.map_or(Cell::Null, |c| r2(c.slope)),
            r3(thr),
            Cell::Int(r.detail.summary.id),
        ];
        if published.is_some() {
            row.extend(published_cells(published, &r.label));
        }
        t.push(row);
    }
    t.notes.push(
        "each model fitted once on all of the training cohort; the threshold was fixed or chosen on training data"
            .into(),
    );
    t
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}\
.banner{background:#b00020;color:#fff;font-weight:bold;padding:.8em 1em;border-radius:4px;margin:1em 0}\
table{border-collapse:collapse;margin:1em 0;font-size:.92em}caption{text-align:left;font-weight:bold;padding:.3em 0}\
th,td{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tfoot td{color:#555;font-size:.9em;border:none}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{color:#444;font-size:.95em}code{background:#f5f5f5;padding:0 .25em}.prov td{font-size:.85em;word-break:break-all}";

/// A path for people: relative to the working folder when inside it,
/// else its last three components, unless `absolute`.
fn shown_path(path: &str, absolute: bool) -> String {
    let p = Path::new(path);
    if absolute || !p.is_absolute() {
        return path.to_string();
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = p.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    let parts: Vec<_> = p.components().collect();
    let tail: PathBuf = parts[parts.len().saturating_sub(3)..].iter().collect();
    format!("…/{}", tail.display())
}

#[allow(clippy::too_many_arguments)]
#[allow(clippy::too_many_arguments)]
fn page(
    name: &str,
    simulated: bool,
    t1: &Table,
    t2: &Table,
    t3: &Table,
    audit: &Table,
    choices: &Table,
    svgs: &[(String, String)],
    runs: &[ModelRun],
    absolute: bool,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n<p>Report generated by radose {} at {} from the run database alone.</p>\n",
        html_escape(name),
        html_escape(name),
        env!("CARGO_PKG_VERSION"),
        crate::provenance::now_iso()
    );
    if simulated {
        h.push_str("<div class=\"banner\" id=\"simulated\">SIMULATED DATA — these results come from radose's simulated cohorts, not from real patients.</div>\n");
    }
    h.push_str("<h2>Tables</h2>\n");
    for t in [t1, t2, t3, audit, choices] {
        if !t.rows.is_empty() {
            h.push_str(&html(t));
        }
    }
    if !svgs.is_empty() {
        h.push_str("<h2>Figures</h2>\n");
        for (caption, svg) in svgs {
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            let _ = write!(h, "<figure>{body}<figcaption>{}</figcaption></figure>\n", html_escape(caption));
        }
    }
    h.push_str("<h2>Provenance</h2>\n");
    for r in runs {
        let d = &r.detail;
        let mut t = Table::new(["field", "value"])
            .with_title(format!("run {} — {} ({})", d.summary.id, r.label, d.summary.kind));
        let mut f = |k: &str, v: String| t.push(vec![Cell::Text(k.into()), Cell::Text(v)]);
        f("command", d.summary.command.clone());
        f("status", d.summary.status.to_string());
        f("started", d.summary.started_at.clone());
        f("seed", d.seed.map_or("—".into(), |s| s.to_string()));
        f("program version", d.program_version.clone());
        f("git commit", d.git_commit.clone().unwrap_or_else(|| "—".into()));
        f("experiment", d.experiment.clone().unwrap_or_else(|| "—".into()));
        for (k, v) in &d.params {
            if k != "pipeline_json" {
                f(&format!("param {k}"), v.display());
            }
        }
        for ds in &d.datasets {
            f("input", format!("{} — {} — sha256 {}", ds.name, shown_path(&ds.path, absolute), ds.sha256));
        }
        let mut table_html = html(&t);
        table_html = table_html.replacen("<table>", "<table class=\"prov\">", 1);
        h.push_str(&table_html);
    }
    let _ = write!(
        h,
        "<p>Numbers: {} models; AUC intervals by DeLong's method; figures also in <code>figures/</code> as SVG and PNG.</p>\n</body></html>\n",
        runs.len()
    );
    h
}

/// One figure of one run (`roc` or `calibration`), with its title and the
/// data drawn (for notebooks to compare on replay).
/// The learning curves of a `train` run's chosen configuration, of one
/// `train-config` run, or of one `train-fold` run: every fold's training
/// loss, held-out loss and held-out AUC by epoch, as `train` stored them.
/// `None` for other runs and for a `train` run that chose no configuration.
pub fn learning_curves(store: &Store, id: i64) -> Result<Option<CurvePanel>> {
    let detail = store.run_detail(id)?;
    let (label, folds) = match detail.summary.kind {
        RunKind::Train => {
            let Some(best) = TrainParams::from_params(id, &detail.params)?.best_config else { return Ok(None) };
            let mut folds = Vec::new();
            for &child in &detail.children {
                let c = store.run_detail(child)?;
                if c.summary.kind == RunKind::TrainConfig
                    && TrainConfigParams::from_params(child, &c.params)?.config == best
                {
                    folds = c.children;
                }
            }
            (run_label(&detail), folds)
        }
        RunKind::TrainConfig => (format!("run {id}"), detail.children.clone()),
        RunKind::TrainFold => (format!("run {id}"), vec![id]),
        _ => return Ok(None),
    };
    let mut panel = CurvePanel { model: label, folds: Vec::new() };
    for fold in folds {
        let metrics = store.metrics(fold)?;
        let mut by_epoch: BTreeMap<i64, CurvePoint> = BTreeMap::new();
        for m in metrics.iter().filter(|m| m.step.is_some_and(|s| s >= 1)) {
            let Some(step) = m.step else { continue };
            let p = by_epoch.entry(step).or_insert(CurvePoint {
                epoch: step as usize,
                train_loss: f64::NAN,
                val_loss: f64::NAN,
                val_auc: f64::NAN,
            });
            match m.key.as_str() {
                curve::TRAIN_LOSS => p.train_loss = m.value,
                curve::VAL_LOSS => p.val_loss = m.value,
                curve::VAL_AUC => p.val_auc = m.value,
                _ => {}
            }
        }
        if !by_epoch.is_empty() {
            panel.folds.push(by_epoch.into_values().collect());
        }
    }
    Ok((!panel.folds.is_empty()).then_some(panel))
}

pub fn run_figure(store: &Store, id: i64, what: &str, bins: usize) -> Result<(String, Figure, serde_json::Value)> {
    if what == "curves" {
        let Some(panel) = learning_curves(store, id)? else {
            return Err(Error::invalid(
                format!("run {id} has no learning curves"),
                Some("learning curves are drawn for `train` runs and their configurations and folds"),
            ));
        };
        let data = serde_json::json!({
            "folds": panel.folds.iter().map(|f| f.iter().map(|p| serde_json::json!({
                "epoch": p.epoch, "train_loss": p.train_loss, "val_loss": p.val_loss, "val_auc": p.val_auc
            })).collect::<Vec<_>>()).collect::<Vec<_>>()
        });
        return Ok((format!("{} — learning curves (run {id})", panel.model), Figure::Curves(panel), data));
    }
    let detail = store.run_detail(id)?;
    let Some(table) = table_of(detail.summary.kind) else {
        return Err(Error::invalid(
            format!(
                "run {id} is a `{}` run; figures are drawn for `cv`, `train`, `holdout` and `test` runs",
                detail.summary.kind
            ),
            None,
        ));
    };
    let kind = if table == "2" { "cv" } else { "holdout" };
    let predictions = store.predictions(id)?;
    if predictions.is_empty() {
        return Err(Error::invalid(format!("run {id} stored no predictions"), None));
    }
    let label = run_label(&detail);
    let r = ModelRun { detail, label: label.clone(), predictions };
    let (truth, p) = r.pooled();
    match (what, kind) {
        ("roc", "cv") => {
            let folds = r.folds();
            let data = serde_json::json!({
                "folds": folds.iter().map(|(roc, a)| serde_json::json!({"fpr": roc.fpr, "tpr": roc.tpr, "auc": a})).collect::<Vec<_>>()
            });
            Ok((
                format!("{label} — cross-validation ROC (run {id})"),
                Figure::CvRoc(CvPanel { model: label, folds }),
                data,
            ))
        }
        ("roc", _) => {
            let roc = roc_curve(&p, &truth)
                .ok_or_else(|| Error::invalid(format!("run {id}: one class only, no ROC"), None))?;
            let ci = delong(&p, &truth).map_or((f64::NAN, f64::NAN), |d| d.ci(0.95));
            let a = auc(&p, &truth);
            let data = serde_json::json!({"fpr": roc.fpr, "tpr": roc.tpr, "auc": a});
            Ok((
                format!("{label} — test-set ROC (run {id})"),
                Figure::TestRoc(TestPanel { model: label, roc, auc: a, ci }),
                data,
            ))
        }
        ("calibration", _) => {
            let c = calibration(&p, &truth)
                .ok_or_else(|| Error::invalid(format!("run {id}: one class only, no calibration"), None))?;
            let b = reliability(&p, &truth, bins);
            let data = serde_json::json!({
                "bins": b.iter().map(|x| [x.mean_predicted, x.fraction_positive, x.count as f64]).collect::<Vec<_>>(),
                "intercept": c.intercept, "slope": c.slope,
            });
            Ok((
                format!("{label} — calibration (run {id})"),
                Figure::Calibration { model: label, bins: b, intercept: c.intercept, slope: c.slope },
                data,
            ))
        }
        (other, _) => {
            Err(Error::invalid(format!("unknown figure `{other}`"), Some("plot roc RUN or plot calibration RUN")))
        }
    }
}
