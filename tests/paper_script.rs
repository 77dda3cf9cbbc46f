//! `experiments/paper.radose` end to end at a tiny size (30 + 12 patients,
//! 17³ dose input, one epoch, two folds) on cohorts imported from a DICOM
//! export (`simulate --dicom`, `cohort import`): every output file exists and
//! parses, Tables 2–3 have the eight models with the stable columns, and a
//! second run with the same seed gives identical tables. The quick profile
//! itself (97 + 20 patients) is the README's main command.

mod common;

use std::path::Path;

const COLUMNS: [&str; 8] = ["model", "auc", "auc_ci_low", "auc_ci_high", "acc", "f1", "sensitivity", "specificity"];
const MODELS: [&str; 8] = ["T1", "T1C", "T2", "T1+T1C+T2", "T1+Dose", "T1C+Dose", "T2+Dose", "T1+T1C+T2+Dose"];

fn run_paper(dir: &Path) -> String {
    let mut s = radose::open_session(&dir.join("runs.db")).unwrap();
    // The cohorts come as a clinical DICOM export does (MR series, RT Dose and
    // RT Structure Set in a planning frame, a registration), imported into
    // DATA; the script then finds A and B there and simulates nothing.
    let d = dir.display();
    let import = format!(
        "simulate --out {d}/sim --n-a 30 --n-b 12 --dicom; \
         cohort import {d}/sim/dicom/A --to {d}/data/A --clinical {d}/sim/A/clinical.csv; \
         cohort import {d}/sim/dicom/B --to {d}/data/B --clinical {d}/sim/B/clinical.csv"
    );
    let (_, err, outcome) = common::run(&mut s, &import, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
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
        "figures/curves_T1.svg",
        "figures/curves_T1_T1C_T2_Dose.svg",
        "notebook.html",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("id=\"simulated\"") && html.contains("profile quick"),
        "report lacks the banner or the profile"
    );
    assert_eq!(html.matches("Learning curves — ").count(), 8, "one learning-curve figure per trained model");
    // The report names the choices each model ran with (docs/paper.md), from runs.db.
    assert!(html.contains("Choices where the paper is ambiguous"), "no choices table");
    let choices = std::fs::read_to_string(out.join("tables/choices.csv")).unwrap_or_default();
    assert!(
        choices.contains(", box (ptv)") && choices.contains("mean / max") && choices.contains("Gy / 10"),
        "{choices}"
    );
    assert!(
        html.contains("lr_decay=0") && html.contains("Table 2&#x27;s headline: pooled")
            || html.contains("Table 2's headline: pooled")
    );
    assert!(out.join("tables/choices.csv").is_file());
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

/// The paper script at the tiny size, run by the binary in `dir` with its
/// default (relative) data and report folders.
fn radose_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(common::binary())
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", "200")
        .output()
        .unwrap_or_else(|e| panic!("radose {args:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A replay's table as written with `--out FILE.csv`: (command, result, detail) per cell.
fn replay_table(path: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records().map(|rec| rec.unwrap()).map(|r| (r[1].to_string(), r[2].to_string(), r[3].to_string())).collect()
}

/// The cells whose result is `result`.
fn cells_with(table: &[(String, String, String)], result: &str) -> Vec<(String, String)> {
    table.iter().filter(|c| c.1 == result).map(|c| (c.0.clone(), c.2.clone())).collect()
}

/// A notebook replay reports results only: in the folder it was made in
/// (caches hit, the data already there, new run ids) and in an empty folder
/// (everything recomputed) every cell is identical, with the incidental
/// differences only noted; after an input changed, the replay fails and
/// names the cells that read it. The replay hint `notebook save` prints is
/// run exactly as printed.
#[test]
fn replays_report_results_only() {
    let made = tempfile::tempdir().unwrap();
    let script = common::root().join("experiments/paper.radose");
    let script = script.to_str().unwrap();
    let tiny = [
        "NA=30",
        "NB=12",
        "SPACING=2,2,2.5",
        "SELECT=mannwhitney:k=6",
        "PCA=4",
        "INPUT=17x17x17",
        "EPOCHS=1",
        "BATCH=8",
        "FOLDS=2",
    ];
    let mut args = vec!["run", script];
    for s in &tiny {
        args.extend(["--set", s]);
    }
    let (code, out, err) = radose_in(made.path(), &args);
    assert_eq!(code, 0, "{err}");
    // The hint, as printed.
    let hint = out
        .split("(replay: `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no replay hint in:\n{out}"));
    assert_eq!(hint, "radose notebook replay reports/paper/notebook.html");
    let hint_args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let with_out = |file: &'static str| hint_args.iter().copied().chain(["--out", file]).collect::<Vec<&str>>();

    // 1. The folder it was made in.
    let (code, out, err) = radose_in(made.path(), &with_out("same.csv"));
    assert_eq!(code, 0, "same folder: {err}\n{out}");
    let table = replay_table(&made.path().join("same.csv"));
    assert!(cells_with(&table, "DIFFERS").is_empty(), "{table:?}");
    let identical = cells_with(&table, "identical");
    assert!(identical.len() >= 30, "{table:?}");
    for cell in ["simulate --out data/paper", "preprocess A0", "extract A"] {
        let (_, detail) =
            identical.iter().find(|c| c.0.starts_with(cell)).unwrap_or_else(|| panic!("no `{cell}` cell: {table:?}"));
        assert!(detail.contains("incidental only"), "`{cell}` ran from its cache or found its data: {detail}");
    }
    assert!(out.contains("differ only in incidental values"), "{out}");

    // 2. An empty folder: everything is simulated and computed again.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::copy(made.path().join("reports/paper/notebook.html"), fresh.path().join("nb.html")).unwrap();
    let (code, out, err) = radose_in(fresh.path(), &["notebook", "replay", "nb.html", "--out", "fresh.csv"]);
    assert_eq!(code, 0, "fresh folder: {err}\n{out}");
    let table = replay_table(&fresh.path().join("fresh.csv"));
    assert!(cells_with(&table, "DIFFERS").is_empty() && cells_with(&table, "identical").len() >= 30, "{table:?}");
    assert!(fresh.path().join("data/paper/A/cohort.toml").exists());

    // 3. A changed input: one patient's age in cohort A.
    let csv = made.path().join("data/paper/A/clinical.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let age = header.iter().position(|h| *h == "age").unwrap();
    let mut first: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    first[age] = format!("{}", first[age].parse::<f64>().unwrap() + 20.0);
    lines[1] = first.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = radose_in(made.path(), &hint_args);
    assert_eq!(code, 1, "a changed input must fail the replay:\n{out}");
    assert!(err.contains("cell(s) differ"), "{err}");
    for cell in ["`simulate --out data/paper", "`load A0 data/paper/A`", "`table1 A0 B0"] {
        assert!(err.contains(cell), "the replay must name {cell}:\n{err}");
    }
    assert!(!err.contains("`load B0"), "cohort B did not change:\n{err}");
}

/// Every profile of the paper script — `published` too, the readings closest
/// to the paper's text — expands to statements every command accepts, and
/// the published profile selects those readings.
#[test]
fn every_profile_expands_to_statements_the_commands_accept() {
    let text = std::fs::read_to_string(common::root().join("experiments/paper.radose")).unwrap();
    let registry = radose::commands::registry();
    for profile in ["quick", "paper", "published"] {
        let (expanded, resolved) =
            radose::shell::vars::expand(&text, "paper.radose", Some("experiments"), Some(profile), &[]).unwrap();
        assert_eq!(resolved.profile.as_deref(), Some(profile));
        for st in radose::syntax::parse(&expanded, 1).unwrap() {
            let cmd = registry.resolve(&st).unwrap_or_else(|e| panic!("{profile}: `{}`: {e}", st.text));
            radose::signature::Args::parse(&cmd.signature(), &st)
                .unwrap_or_else(|e| panic!("{profile}: `{}`: {e}", st.text));
        }
        if profile == "published" {
            assert!(expanded.contains("model M8 = T1+T1C+T2+Dose --select chi2:k=64:bins=10,lassocv:keep=32 --pca 32"));
            assert!(
                expanded
                    .contains("--input 80x120x120 --dose-scale raw --dose-crop box --pool-l6 mean --fusion-pool max")
            );
            assert!(expanded.contains("--grid lr=1e-3 batch=16 epochs=300 wd=1e-5 lr_decay=0"));
            assert!(expanded.contains("table1 A0 B0 --tests pearson"));
            assert!(expanded.contains("--table2 pooled"));
        }
    }
}
