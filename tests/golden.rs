//! Golden tests for everything a person reads: help, tables, and the error
//! message of each bad-input case (after each, the session still works).

mod common;

use common::{golden, run, session};
use radose::commands::registry;

#[test]
fn help_output() {
    let mut s = session();
    let (out, err, _) = run(&mut s, "help", false);
    assert!(err.is_empty(), "{err}");
    let mut text = out;
    let registry = registry();
    for c in registry.all() {
        text.push_str("\n========\n");
        text.push_str(&registry.help_text(c.signature().name).unwrap());
    }
    golden("help.txt", &text);
}

#[test]
fn table_rendering() {
    let mut s = session();
    let (out, err, _) = run(
        &mut s,
        "load C tests/fixtures/cohort\nframes\nshow C --head 4\nshow C --tail 2\ncolumns C\ndescribe C",
        false,
    );
    assert!(err.is_empty(), "{err}");
    golden("tables.txt", &out);
}

/// Each bad input gets its message, and the next command still succeeds.
#[test]
fn bad_input_messages() {
    let cases = [
        "load X tests/fixtures/nope.csv --id patient_id --outcome nn",
        "load X tests/fixtures/cohort/clinical.csv --id pid --outcome nn",
        "load X tests/fixtures/bad/duplicate_id.csv --id patient_id --outcome nn",
        "load X tests/fixtures/bad/non_binary.csv --id patient_id --outcome nn",
        "load X tests/fixtures/bad/malformed.csv --id patient_id --outcome nn",
        "load X tests/fixtures/bad/bad_number.csv --id patient_id --outcome nn --continuous age",
        "lod X tests/fixtures/cohort",
        "show C --hed 3",
        "show NOPE",
        "show C --head many",
        "load X",
        "describe C --out reports/x.xlsx",
        "run show 999",
        "load 9x tests/fixtures/cohort",
    ];
    let mut s = session();
    run(&mut s, "load C tests/fixtures/cohort", false);
    let mut transcript = String::new();
    for case in cases {
        let (out, err, outcome) = run(&mut s, case, false);
        assert_eq!(outcome.exit_code(), 1, "{case} should fail");
        assert!(out.is_empty(), "{case} printed {out}");
        transcript.push_str(&format!("> {case}\n{err}"));
        let (out, err, outcome) = run(&mut s, "frames", false);
        assert_eq!(outcome.exit_code(), 0, "session broken after {case}: {err}");
        assert!(out.contains("C    │   12"), "frame C lost after {case}: {out}");
    }
    golden("errors.txt", &transcript);
}

#[test]
fn script_stops_at_first_error_with_line_number() {
    let mut s = session();
    let (out, err, outcome) = run(&mut s, "frames\n\n# comment\nshow NOPE\nframes", false);
    assert_eq!(outcome.exit_code(), 1);
    assert!(err.starts_with("test:4: error[E-FRAME]: no frame named `NOPE`"), "{err}");
    assert_eq!(out.matches("no frames loaded").count(), 1, "stopped after the error: {out}");

    let (out, _, outcome) = run(&mut s, "show NOPE; frames", true);
    assert_eq!(outcome.exit_code(), 1);
    assert!(out.contains("no frames loaded"), "--keep-going continues: {out}");
}

#[test]
fn table_out_formats() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    run(&mut s, "load C tests/fixtures/cohort", false);
    for ext in ["csv", "parquet", "md", "tex", "html", "json"] {
        let path = dir.path().join(format!("d.{ext}"));
        let (out, err, _) = run(&mut s, &format!("describe C --out {}", path.display()), false);
        assert!(err.is_empty(), "{err}");
        assert!(out.contains("wrote"), "{out}");
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty());
    }
    let csv = std::fs::read_to_string(dir.path().join("d.csv")).unwrap();
    assert!(csv.starts_with("column,type,role,n,missing,mean,sd,min,q1,median,q3,max,levels\n"), "{csv}");
    // Exact, as numpy gives them: mean, sd(ddof=1), min, percentiles 25/50/75, max of age.
    assert!(csv.contains("age,float,continuous,12,0,49.5,13.076696830622021,29,40.25,48.5,58,73,"), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("d.json")).unwrap()).unwrap();
    assert_eq!(json["rows"][1]["column"], "age");
    // The parquet file loads back as a table.
    let (_, err, _) =
        run(&mut s, &format!("load D {} --id column --outcome n", dir.path().join("d.parquet").display()), false);
    assert!(err.contains("row 1, column `n`: outcome must be 0 or 1, found `12`"), "{err}");
}

#[test]
fn save_writes_a_replayable_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.radose");
    let mut s = session();
    let text = format!("load C tests/fixtures/cohort\nshow NOPE\ndescribe C\nframes\nsave {}", script.display());
    run(&mut s, &text, true);
    let saved = std::fs::read_to_string(&script).unwrap();
    let commands: Vec<&str> = saved.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(commands, vec!["load C tests/fixtures/cohort", "describe C"]);
    let mut replay = session();
    let (_, err, outcome) = run(&mut replay, &saved, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
}

/// Table 1 on the small cohort in every output format.
#[test]
fn table1_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let (out, err, _) = run(
        &mut s,
        "load C tests/fixtures/cohort\ntable1 C --by nn\ntable1 C --by sex --tests tableone --stat mean-sd --overall",
        false,
    );
    assert!(err.is_empty(), "{err}");
    let mut text = out;
    for ext in ["csv", "md", "tex", "html", "json"] {
        let path = dir.path().join(format!("t1.{ext}"));
        let (_, err, _) = run(&mut s, &format!("table1 C --by nn --out {}", path.display()), false);
        assert!(err.is_empty(), "{err}");
        text.push_str(&format!("\n==== .{ext}\n{}", std::fs::read_to_string(&path).unwrap()));
    }
    golden("table1.txt", &text);
}

#[test]
fn table1_bad_input_is_explained() {
    let mut s = session();
    run(&mut s, "load C tests/fixtures/cohort\nload D tests/fixtures/cohort", false);
    let cases = [
        ("table1 C D --continuous sex", "column `sex` of group `C` is not numeric (e.g. `male`)"),
        ("table1 C", "one frame (`C`) needs --by COL"),
        ("table1 C D --categorical sx", "frame `C` has no column `sx`"),
        ("table1 C D --tests sas", "expected one of pearson, tableone, gtsummary, spss"),
        ("table1 C D --test age=fisher", "that test does not fit a continuous variable"),
        ("fisher C D --on stage", "offered for 2×2 tables; `stage` has 3 level(s)"),
    ];
    for (case, message) in cases {
        let (_, err, outcome) = run(&mut s, case, false);
        assert_eq!(outcome.exit_code(), 1, "{case}");
        assert!(err.contains(message), "{case}: {err}");
    }
    // A constant column: the row is kept, with no p-value and the reason.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("constant.csv");
    std::fs::write(&csv, "id,y,site,age\nP1,0,1,40\nP2,1,1,50\nP3,0,1,45\nP4,1,1,60\n").unwrap();
    let script = format!("load K {} --id id --outcome y\ntable1 K --by y --continuous site,age", csv.display());
    let (out, err, outcome) = run(&mut s, &script, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    assert!(out.contains("site: no p-value — the column is constant"), "{out}");
    assert!(!out.contains("NaN"), "{out}");
}

/// The paper's Table 1 on the simulated cohorts (seed 7), as the terminal
/// and Markdown show it.
#[test]
fn table1_on_the_simulated_cohorts() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("t1.md");
    let mut s = session();
    let script = format!(
        "load A tests/fixtures/sim7/A_clinical.csv --id patient_id --outcome nn --categorical sex,stage,chemo --continuous age,tumor_ml,eqd2_gy\n\
         load B tests/fixtures/sim7/B_clinical.csv --id patient_id --outcome nn --categorical sex,stage,chemo --continuous age,tumor_ml,eqd2_gy\n\
         table1 A B --decimals 2 --out {}",
        md.display()
    );
    let (out, err, _) = run(&mut s, &script, false);
    assert!(err.is_empty(), "{err}");
    let table: String = out
        .split("Table 1")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("wrote "))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = format!(
        "Table 1{table}\n==== .md\n{}",
        std::fs::read_to_string(&md).unwrap().replace(&md.display().to_string(), "t1.md")
    );
    golden("table1_sim7.txt", &text);
}

/// `UPDATE_GOLDEN=0` (or empty) compares; only `UPDATE_GOLDEN=1` rewrites,
/// and a comparison that fails leaves the golden file as it was.
#[test]
fn only_update_golden_1_rewrites() {
    use std::ffi::OsStr;
    assert!(common::update_golden_requested(Some(OsStr::new("1"))));
    for value in [None, Some(OsStr::new("0")), Some(OsStr::new("")), Some(OsStr::new("no"))] {
        assert!(!common::update_golden_requested(value), "{value:?} must not rewrite");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.txt");
    std::fs::write(&path, "expected\n").unwrap();
    let compare = common::golden_at(&path, "actual\n", common::update_golden_requested(Some(OsStr::new("0"))));
    assert!(compare.is_err(), "a differing output must fail the comparison");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "expected\n");
    common::golden_at(&path, "actual\n", true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "actual\n");
}
