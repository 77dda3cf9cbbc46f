//! `experiments/paper.radose` end to end at a tiny size (30 + 12 patients,
//! 17³ dose input, one epoch, two folds): every output file exists and
//! parses, Tables 2–3 have the eight models with the stable columns, and a
//! second run with the same seed gives identical tables. The quick profile
//! itself (97 + 20 patients) is the README's main command.

mod common;

use std::path::Path;

const COLUMNS: [&str; 8] = ["model", "auc", "auc_ci_low", "auc_ci_high", "acc", "f1", "sensitivity", "specificity"];
const MODELS: [&str; 8] = ["T1", "T1C", "T2", "T1+T1C+T2", "T1+Dose", "T1C+Dose", "T2+Dose", "T1+T1C+T2+Dose"];

fn run_paper(dir: &Path) -> String {
    let mut s = radose::open_session(&dir.join("runs.db")).unwrap();
    let sets: Vec<(String, String)> = [
        ("DATA", dir.join("data").display().to_string()),
        ("OUT", dir.join("out").display().to_string()),
        ("NA", "30".into()),
        ("NB", "12".into()),
        ("SPACING", "2,2,2.5".into()),
        ("SELECT", "mannwhitney:k=6".into()),
        ("PCA", "4".into()),
        ("INPUT", "17x17x17".into()),
        ("EPOCHS", "1".into()),
        ("BATCH", "8".into()),
        ("FOLDS", "2".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let script = common::root().join("experiments/paper.radose");
    let outcome =
        radose::shell::script::run_file_with(&mut s, &script, false, Some("quick"), &sets, &mut out, &mut err);
    let err = String::from_utf8_lossy(&err).to_string();
    assert_eq!(outcome.exit_code(), 0, "{err}");
    String::from_utf8_lossy(&out).to_string()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

#[test]
fn the_paper_script_runs_end_to_end_and_reproduces_itself() {
    let first = tempfile::tempdir().unwrap();
    let log = run_paper(first.path());
    assert!(log.contains("profile quick"), "{log}");
    let out = first.path().join("out");
    for f in [
        "index.html",
        "tables/table1.csv",
        "tables/table2.csv",
        "tables/table3.csv",
        "figures/fig4_roc_cv.svg",
        "figures/fig4_roc_cv.png",
        "notebook.html",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("id=\"simulated\"") && html.contains("profile quick"),
        "report lacks the banner or the profile"
    );
    common::well_formed(&std::fs::read_to_string(out.join("figures/fig4_roc_cv.svg")).unwrap()).unwrap();
    assert_eq!(&std::fs::read(out.join("figures/fig4_roc_cv.png")).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let (_, t1) = read_csv(&out.join("tables/table1.csv"));
    assert!(t1.len() >= 10, "Table 1 has {} rows", t1.len());
    for t in ["table2", "table3"] {
        let (header, rows) = read_csv(&out.join(format!("tables/{t}.csv")));
        assert_eq!(header, COLUMNS, "{t}");
        let models: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(models, MODELS, "{t}");
        for r in &rows {
            let auc: f64 = r[1].parse().unwrap_or_else(|_| panic!("{t}: AUC `{}`", r[1]));
            assert!((0.0..=1.0).contains(&auc));
        }
    }
    // Same seed, fresh folders and database: identical tables.
    let second = tempfile::tempdir().unwrap();
    run_paper(second.path());
    for t in ["table1.csv", "table2.csv", "table3.csv"] {
        let a = std::fs::read_to_string(out.join("tables").join(t)).unwrap();
        let b = std::fs::read_to_string(second.path().join("out/tables").join(t)).unwrap();
        assert_eq!(a, b, "{t} differs between two runs with the same seed");
    }
}
