//! Reports and run comparison from the tracker: golden Tables 2–3 in every
//! format from fixed predictions; a full report from real runs (HTML with
//! tables, inline SVG, the simulated banner; SVG well-formed; PNGs);
//! `runs --where` errors and injection attempts; `compare`, `best`,
//! `holdout`.

mod common;

use radose::provenance::Provenance;
use radose::store::{NewRun, ParamValue, Prediction, RunKind, RunStatus, Store};

/// A store with two cv runs (5 folds each) and one holdout run whose
/// predictions are fixed numbers.
fn fixed_store() -> (Store, Vec<i64>) {
    let mut store = Store::open_in_memory(Provenance::gather()).unwrap();
    let mut ids = Vec::new();
    let label = |i: usize| u8::from(i % 3 == 0);
    for (m, (name, shift)) in [("T1", 0.15), ("T1+T1C+T2+Dose", 0.35)].into_iter().enumerate() {
        let id = store
            .begin_run(&NewRun {
                kind: RunKind::Cv,
                command: format!("cv P on {name}"),
                parent: None,
                experiment: Some("fixed".into()),
                seed: Some(7),
                params: vec![
                    ("label".into(), ParamValue::Text(name.into())),
                    ("simulated".into(), ParamValue::Bool(true)),
                ],
            })
            .unwrap();
        for fold in 0..5 {
            let rows: Vec<Prediction> = (0..12)
                .map(|i| {
                    let k = fold * 12 + i;
                    let p = ((k * 37 + m * 11) % 50) as f64 / 100.0 + shift * f64::from(label(k));
                    Prediction { fold: Some(fold as i64), patient: format!("P{k:03}"), label: label(k), probability: p }
                })
                .collect();
            store.log_predictions(id, &rows).unwrap();
        }
        store.finish_run(id, RunStatus::Finished, None).unwrap();
        ids.push(id);
    }
    let id = store
        .begin_run(&NewRun {
            kind: RunKind::Holdout,
            command: "holdout P on T1 --test B.T1".into(),
            parent: None,
            experiment: Some("fixed".into()),
            seed: Some(7),
            params: vec![("label".into(), ParamValue::Text("T1".into()))],
        })
        .unwrap();
    let rows: Vec<Prediction> = (0..20)
        .map(|k| Prediction {
            fold: None,
            patient: format!("B{k:02}"),
            label: label(k),
            probability: ((k * 29) % 40) as f64 / 80.0 + 0.3 * f64::from(label(k)),
        })
        .collect();
    store.log_predictions(id, &rows).unwrap();
    store.log_metric(id, "threshold", 0.5, None, None).unwrap();
    store.finish_run(id, RunStatus::Finished, None).unwrap();
    ids.push(id);
    (store, ids)
}

#[test]
fn golden_tables_from_fixed_predictions() {
    let (store, ids) = fixed_store();
    let dir = tempfile::tempdir().unwrap();
    let published = common::root().join("experiments/published.csv");
    let published = radose::report::read_published(&published).unwrap();
    let w = radose::report::build(&store, "fixed", &ids, dir.path(), Some(&published)).unwrap();
    assert!(w.simulated);
    for stem in ["table2_cv", "table3_test"] {
        for ext in ["csv", "md", "tex", "html", "json"] {
            let text = std::fs::read_to_string(dir.path().join("tables").join(format!("{stem}.{ext}"))).unwrap();
            common::golden(&format!("report_{stem}.{ext}"), &text);
        }
    }
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains("id=\"simulated\""), "the simulated banner");
    assert!(html.contains("Table 2") && html.contains("Table 3") && html.contains("published AUC"));
    assert_eq!(html.matches("<svg").count(), 5, "2 fold-ROC panels, the grid, a test ROC, a calibration plot");
    assert!(!html.contains("src=\"http"), "self-contained");
    for f in std::fs::read_dir(dir.path().join("figures")).unwrap() {
        let p = f.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        match p.extension().and_then(|e| e.to_str()) {
            Some("svg") => common::well_formed(&String::from_utf8(bytes).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            Some("png") => assert_eq!(&bytes[1..4], b"PNG", "{}", p.display()),
            other => panic!("unexpected figure {other:?}"),
        }
    }
}

/// Table 2's two readings: pooled out-of-fold (default) and the mean ± SD
/// over folds, either one the headline, both shown.
#[test]
fn table2_shows_both_readings_and_the_headline_is_a_switch() {
    let (store, ids) = fixed_store();
    let dir = tempfile::tempdir().unwrap();
    let opts = radose::report::Options { table2: radose::report::Table2Reading::FoldMean, ..Default::default() };
    radose::report::build_with(&store, "fixed", &ids, dir.path(), &opts).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("tables/table2_cv.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[..7],
        [
            "model",
            "AUC (fold mean ± SD)",
            "ACC (fold mean ± SD)",
            "F1 (fold mean ± SD)",
            "pooled AUC (95% CI)",
            "pooled ACC",
            "pooled F1"
        ]
    );
    // The headline AUC is the mean of the folds' AUCs, computed here from the predictions.
    let preds = store.predictions(ids[0]).unwrap();
    let fold_aucs: Vec<f64> = (0..5)
        .map(|f| {
            let (t, p): (Vec<u8>, Vec<f64>) =
                preds.iter().filter(|r| r.fold == Some(f)).map(|r| (r.label, r.probability)).unzip();
            radose::core::learn::metrics::auc(&p, &t)
        })
        .collect();
    let mean = fold_aucs.iter().sum::<f64>() / 5.0;
    let first = lines.next().unwrap();
    assert!(first.starts_with(&format!("T1,{:.2} ± ", mean)), "{first}");
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains("headline: fold means"), "the report says which reading is the headline");

    // The default is pooled, with the fold means beside.
    let dir2 = tempfile::tempdir().unwrap();
    radose::report::build(&store, "fixed", &ids, dir2.path(), None).unwrap();
    let csv = std::fs::read_to_string(dir2.path().join("tables/table2_cv.csv")).unwrap();
    assert!(
        csv.starts_with("model,AUC (95% CI),ACC,F1,fold AUC mean ± SD,fold ACC mean ± SD,fold F1 mean ± SD,"),
        "{csv}"
    );
}

#[test]
fn runs_compare_best_holdout_and_report_from_real_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let db = dir.path().join("runs.db");
    let mut s = radose::open_session(&db).unwrap();
    s.width = 100;
    let script = format!(
        "simulate --out {d}/sim --n-a 40 --n-b 12; load A {d}/sim/A; load B {d}/sim/B; \
         extract A --roi rgtv --to {d}/fa; extract B --roi rgtv --to {d}/fb; \
         pipeline P = standardize | mannwhitney k=5 | logistic; \
         cv P on A.T1 --experiment e1; cv P on A.T2 --experiment e1; \
         holdout P on A.T1 --test B.T1 --threshold youden --experiment e1; \
         report r1 --experiment e1 --out {d}/rep --bootstrap 200"
    );
    let (out, err, o) = common::run(&mut s, &script, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("report `r1`: 3 runs"), "{out}");
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    assert!(html.contains("SIMULATED DATA") && html.contains("sha256"));
    assert!(html.contains("AUC bootstrap 95% CI (200 replicates)"));
    common::well_formed(&std::fs::read_to_string(dir.path().join("rep/figures/fig4_roc_cv.svg")).unwrap()).unwrap();

    // Filters: errors point into the expression; hostile text is a value.
    let (_, err, _) = common::run(&mut s, "runs --where \"kind = cv and (auc_pooled > 0.5\"", true);
    assert!(err.contains("expected `)`") && err.contains('^'), "{err}");
    let (_, err, _) = common::run(&mut s, "runs --where \"auc_pooled >> 1\"", true);
    assert!(err.contains("E-SYNTAX"), "{err}");
    for hostile in [
        "runs --where \"command = 'x''; DROP TABLE runs; --'\"",
        "runs --where \"kind = \\\"cv\\\" or 1 = 1 --\"",
        "runs --where \"model in ('a'')) OR 1=1 /*', 'b')\"",
    ] {
        let (_, _, _) = common::run(&mut s, hostile, true);
    }
    let (out, err, o) = common::run(
        &mut s,
        "runs --where \"kind in (cv, holdout) and status = finished\" --sort auc_pooled --desc",
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("3 matching"), "the tables survived and the filter works: {out}");
    let (out, err, o) = common::run(&mut s, "runs --where \"param.threshold_rule = youden\"", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("1 matching"), "{out}");

    // best and compare.
    let (out, err, o) = common::run(&mut s, "best auc_pooled --where \"kind = cv\"", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("best auc_pooled"), "{out}");
    let ids: Vec<i64> = s
        .store()
        .query_runs(None, None, false, 1000)
        .unwrap()
        .into_iter()
        .filter(|(r, _)| r.kind == RunKind::Cv)
        .map(|(r, _)| r.id)
        .collect();
    let (out, err, o) = common::run(&mut s, &format!("compare {} {}", ids[0], ids[1]), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("param inputs ≠") && out.contains("DeLong p vs run"), "{out}");
    let (_, err, _) = common::run(&mut s, "compare 1", true);
    assert!(err.contains("at least two"), "{err}");
}
