//! `pipeline` and `cv` through the shell on two input frames: per-fold child
//! runs, out-of-fold predictions for every patient, and bad input.

mod common;

use std::fmt::Write as _;

use radose::core::rng::Rng;
use radose::store::{RunKind, RunStatus};

/// A feature CSV: id, outcome, `n` features (the first weakly informative).
fn features(path: &std::path::Path, seed: u64, n: usize, y: &[u8]) {
    let mut rng = Rng::new(seed);
    let mut s = String::from("patient_id,nn");
    for j in 0..n {
        write!(s, ",f{j}").unwrap();
    }
    s.push('\n');
    for (i, &label) in y.iter().enumerate() {
        write!(s, "P{i:03},{label}").unwrap();
        for j in 0..n {
            let v = rng.normal() + if j == 0 { f64::from(label) } else { 0.0 };
            write!(s, ",{v}").unwrap();
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn cv_records_folds_and_out_of_fold_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let y: Vec<u8> = (0..60).map(|i| u8::from(i % 3 == 0)).collect();
    features(&dir.path().join("t1.csv"), 1, 12, &y);
    features(&dir.path().join("t2.csv"), 2, 12, &y);
    let db = dir.path().join("runs.db");
    let mut s = radose::open_session(&db).unwrap();
    let script = format!(
        "load T1 {0}/t1.csv --id patient_id --outcome nn\n\
         load T2 {0}/t2.csv --id patient_id --outcome nn\n\
         pipeline M = standardize | mannwhitney k=3 then pca n=2 | smote k=5 | logistic C=1\n\
         cv M on T1 T2 --folds 5 --seed 3",
        dir.path().display()
    );
    let (out, err, outcome) = common::run(&mut s, &script, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("selection stability"), "{out}");
    assert!(out.contains("T1:f0"), "the informative feature is named by input: {out}");
    let store = s.store();
    let runs = store.list_runs(50).unwrap();
    let parent = runs.iter().find(|r| r.kind == RunKind::Cv).unwrap();
    assert_eq!(parent.status, RunStatus::Finished);
    let detail = store.run_detail(parent.id).unwrap();
    assert_eq!(detail.children.len(), 5);
    assert_eq!(detail.predictions, 60, "one out-of-fold prediction per patient");
    assert!(detail.params.iter().any(|(k, _)| k == "pipeline_json"));
    assert!(detail.metrics.iter().any(|m| m.key == "auc_pooled"));
    assert!(detail.metrics.iter().any(|m| m.key == "auc_pooled_ci_low"));
    assert!(out.contains("pooled AUC 95% CI (DeLong)"), "{out}");
    assert_eq!(detail.datasets.len(), 2, "both inputs are cited");
    for child in &detail.children {
        let c = store.run_detail(*child).unwrap();
        assert_eq!(c.summary.kind, RunKind::CvFold);
        assert!(c.params.iter().any(|(k, _)| k == "selected"));
    }
    // A fold run's own metrics (stored with their fold number) are its
    // values for `runs --where` and `--sort`, as a parent's summary is.
    let filter = radose::store::query::parse("kind = cv-fold and auc >= 0").unwrap();
    let sort = radose::store::query::parse_field("auc").unwrap();
    let found = store.query_runs(Some(&filter), Some(&sort), true, 100).unwrap();
    assert_eq!(found.len(), 5, "every fold run has an auc");
    assert!(found.iter().all(|(_, v)| v.as_deref().and_then(|v| v.parse::<f64>().ok()).is_some()));
    let (out, err, outcome) = common::run(&mut s, "runs --where \"kind = cv-fold and auc >= 0\" --sort auc", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert_eq!(out.matches("cv-fold").count(), 5, "{out}");
}

#[test]
fn bad_learning_input_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let y: Vec<u8> = (0..30).map(|i| u8::from(i % 3 == 0)).collect();
    features(&dir.path().join("f.csv"), 1, 4, &y);
    let text = std::fs::read_to_string(dir.path().join("f.csv")).unwrap();
    // A constant column and a missing value.
    let constant: String =
        text.lines().enumerate().map(|(i, l)| if i == 0 { format!("{l},c\n") } else { format!("{l},1\n") }).collect();
    std::fs::write(dir.path().join("const.csv"), constant).unwrap();
    // Patient P002 loses its last feature value.
    let missing: String = text
        .lines()
        .map(|l| match l.strip_prefix("P002,").and(l.rsplit_once(',')) {
            Some((head, _)) => format!("{head},\n"),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(dir.path().join("missing.csv"), missing).unwrap();
    let mut s = common::session();
    let setup = format!(
        "load F {0}/f.csv --id patient_id --outcome nn\nload C {0}/const.csv --id patient_id --outcome nn\nload M {0}/missing.csv --id patient_id --outcome nn",
        dir.path().display()
    );
    let (_, err, outcome) = common::run(&mut s, &setup, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let cases = [
        ("pipeline P = standardize | logistic\ncv P on C", "feature `c` of `C` is constant"),
        ("pipeline P = standardize | logistic\ncv P on M", "feature `f3` of `M` is missing for patient P002"),
        ("pipeline P = chi2 k=2 | logistic\ncv P on F", "needs non-negative values"),
        ("pipeline P = mannwhitney k=9 | logistic\ncv P on F", "asks for 9 features but only 4 reach it"),
        ("pipeline P = smote k=20 | logistic\ncv P on F", "needs at least 21 minority rows"),
        ("cv NOPE on F", "no pipeline has that name"),
        ("pipeline P = standardize | logistic\ncv P on F --folds 20", "fewer than the 20 folds"),
        ("pipeline P = pca n=3 | nonsense", "is not a classifier"),
    ];
    for (script, message) in cases {
        let (_, err, outcome) = common::run(&mut s, script, false);
        assert_eq!(outcome.exit_code(), 1, "{script}");
        assert!(err.contains(message), "{script}: {err}");
    }
}
