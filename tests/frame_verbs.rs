//! The frame verbs (`filter`, `mutate`, `join`, `sql`, `describe --by`,
//! `show --rows`, `head`, `load --features`) against the same operations
//! written with polars' own API on the fixture cohort, and their lineage.

mod common;

use polars::prelude::*;
use radose::core::cohort::{TypedColumn, Values};
use radose::data::frame;
use radose::session::Session;

fn loaded() -> Session {
    let mut s = common::session();
    let cohort = common::root().join("tests/fixtures/cohort");
    let (_, err, outcome) = common::run(&mut s, &format!("load A {}", cohort.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    s
}

/// The fixture's clinical table read by polars itself.
fn polars_clinical() -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(common::root().join("tests/fixtures/cohort/clinical.csv")))
        .unwrap()
        .finish()
        .unwrap()
}

fn session_column(s: &Session, frame_name: &str, column: &str) -> TypedColumn {
    let f = &s.frames()[frame_name];
    frame::column(&f.df, column).unwrap_or_else(|| panic!("{frame_name} has no column {column}"))
}

fn texts(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    let s = df.column(column).unwrap().as_materialized_series().cast(&DataType::String).unwrap();
    s.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
}

fn floats(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    let s = df.column(column).unwrap().as_materialized_series().cast(&DataType::Float64).unwrap();
    s.f64().unwrap().iter().collect()
}

fn run_ok(s: &mut Session, text: &str) -> String {
    let (out, err, outcome) = common::run(s, text, false);
    assert_eq!(outcome.exit_code(), 0, "`{text}` failed:\n{err}");
    out
}

#[test]
fn filter_matches_polars_filter() {
    let mut s = loaded();
    let out = run_ok(&mut s, "filter old = A where age > 50 and stage in (III, IV)");
    assert!(out.contains("filter of A"), "{out}");
    let expected = polars_clinical()
        .lazy()
        .filter(
            col("age")
                .gt(lit(50))
                .and(col("stage").is_in(lit(Series::new("s".into(), ["III", "IV"])).implode(true), false)),
        )
        .collect()
        .unwrap();
    assert!(expected.height() > 0 && expected.height() < 12);
    assert_eq!(session_column(&s, "old", "patient_id").values.as_text(), texts(&expected, "patient_id"));
    // Quoted text and the bare form give the same rows.
    run_ok(&mut s, "filter old2 = A where age > 50 and stage in ('III', 'IV')");
    assert_eq!(
        session_column(&s, "old2", "patient_id").values.as_text(),
        session_column(&s, "old", "patient_id").values.as_text()
    );
    // Roles and the SIMULATED label carry over.
    assert_eq!(s.frames()["old"].roles, s.frames()["A"].roles);
    assert!(s.frames()["old"].origin.as_ref().unwrap().simulated());
    let lineage = s.lineage("old").unwrap();
    assert_eq!((lineage.verb.as_str(), lineage.parents.clone()), ("filter", vec!["A".to_string()]));
}

#[test]
fn mutate_matches_polars_with_columns() {
    let mut s = loaded();
    run_ok(&mut s, "mutate A log_tumor = ln(tumor_ml)");
    run_ok(&mut s, "mutate A dose_per_ml = eqd2_gy / tumor_ml");
    let expected = polars_clinical()
        .lazy()
        .with_columns([col("tumor_ml").log(lit(std::f64::consts::E)).alias("log_tumor")])
        .with_columns([(col("eqd2_gy") / col("tumor_ml")).alias("dose_per_ml")])
        .collect()
        .unwrap();
    for c in ["log_tumor", "dose_per_ml"] {
        let Values::Float(got) = session_column(&s, "A", c).values else { panic!("{c} is not a float column") };
        let want = floats(&expected, c);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            match (g, w) {
                (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{c}: {g} vs {w}"),
                // T011 has no tumour volume: missing in, missing out.
                _ => assert_eq!(g, w, "{c}"),
            }
        }
        assert!(got.iter().any(Option::is_none) && got.iter().filter(|v| v.is_some()).count() == 11);
    }
    assert!(s.frames()["A"].roles.continuous.contains(&"log_tumor".to_string()));
    assert_eq!(s.lineage("A").unwrap().verb, "mutate");
    // The id and outcome columns are not replaced.
    let (_, err, outcome) = common::run(&mut s, "mutate A nn = 1", false);
    assert_ne!(outcome.exit_code(), 0);
    assert!(err.contains("`nn`") && err.contains("outcome"), "{err}");
}

#[test]
fn join_and_sql_match_polars_join() {
    let mut s = loaded();
    run_ok(&mut s, "sql doses = SELECT patient_id, eqd2_gy * 2 AS double_dose FROM A WHERE nn = 1");
    run_ok(&mut s, "join J = A with doses on patient_id");
    run_ok(&mut s, "join L = A with doses on patient_id --how left");
    let base = polars_clinical();
    let doses = base
        .clone()
        .lazy()
        .filter(col("nn").eq(lit(1)))
        .select([col("patient_id"), (col("eqd2_gy") * lit(2)).alias("double_dose")])
        .collect()
        .unwrap();
    let inner = base
        .clone()
        .lazy()
        .join(doses.clone().lazy(), [col("patient_id")], [col("patient_id")], JoinArgs::new(JoinType::Inner))
        .collect()
        .unwrap();
    let left = base
        .lazy()
        .join(doses.lazy(), [col("patient_id")], [col("patient_id")], JoinArgs::new(JoinType::Left))
        .collect()
        .unwrap();
    assert_eq!(session_column(&s, "J", "patient_id").values.as_text(), texts(&inner, "patient_id"));
    assert_eq!(session_column(&s, "J", "double_dose").values.as_f64().unwrap(), floats(&inner, "double_dose"));
    assert_eq!(session_column(&s, "L", "double_dose").values.as_f64().unwrap(), floats(&left, "double_dose"));
    assert_eq!(s.lineage("J").unwrap().parents, vec!["A".to_string(), "doses".to_string()]);

    // SQL over a join of two frames.
    run_ok(
        &mut s,
        "sql Q = SELECT a.patient_id, a.age, d.double_dose FROM A a JOIN doses d ON a.patient_id = d.patient_id \
         WHERE a.age >= 40 ORDER BY a.patient_id",
    );
    let want: Vec<Option<String>> = texts(&inner, "patient_id")
        .into_iter()
        .zip(floats(&inner, "age"))
        .filter(|(_, age)| age.unwrap() >= 40.0)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(session_column(&s, "Q", "patient_id").values.as_text(), want);
    assert_eq!(s.lineage("Q").unwrap().parents, vec!["A".to_string(), "doses".to_string()]);
    // Lineage is a run: `runs` lists it with its parents.
    let out = run_ok(&mut s, "runs --where \"kind = derive\"");
    assert!(out.contains("derive"), "{out}");
}

#[test]
fn sql_reads_only_session_frames() {
    let mut s = loaded();
    for (query, expect) in [
        ("sql X = SELECT * FROM read_csv('tests/fixtures/cohort/clinical.csv')", "reads a file"),
        ("sql X = DROP TABLE A", "not a query"),
        ("sql X = SELECT * FROM nowhere", "none of this session's frames"),
        ("sql X = SELECT nosuch FROM A", "nosuch"),
    ] {
        let (_, err, outcome) = common::run(&mut s, query, false);
        assert_ne!(outcome.exit_code(), 0, "{query}");
        assert!(err.contains(expect), "{query}: {err}");
    }
    assert!(!s.frames().contains_key("X"));
    // The shell keeps going: A is intact.
    assert_eq!(s.frames()["A"].df.height(), 12);
}

#[test]
fn verbs_name_what_is_wrong() {
    let mut s = loaded();
    for (text, expect) in [
        ("filter B = A where agee > 50", "agee"),
        ("filter B = A having age > 50", "expected `where`"),
        ("filter B = Z where age > 50", "Z"),
        ("join J = A with A on pid", "pid"),
        ("join J = A with A on patient_id --how sideways", "sideways"),
        ("mutate A x = log(", "the expression"),
        ("show A --rows 5-2", "FROM ≤ TO"),
    ] {
        let (_, err, outcome) = common::run(&mut s, text, false);
        assert_ne!(outcome.exit_code(), 0, "{text}");
        assert!(err.contains(expect), "`{text}`: {err}");
    }
}

#[test]
fn describe_by_groups_and_tests_each_column() {
    let mut s = loaded();
    let out = run_ok(&mut s, "describe A --by nn");
    assert!(out.contains("nn = 0") && out.contains("nn = 1"), "{out}");
    let f = &s.frames()["A"];
    let age = frame::column(&f.df, "age").unwrap().values.as_f64().unwrap();
    let nn = frame::column(&f.df, "nn").unwrap().values.as_f64().unwrap();
    let group =
        |g: f64| -> Vec<f64> { age.iter().zip(&nn).filter(|(_, y)| **y == Some(g)).map(|(a, _)| a.unwrap()).collect() };
    let (g0, g1) = (group(0.0), group(1.0));
    let p = radose::core::stats::mann_whitney(&g0, &g1, radose::core::stats::MwuMethod::Auto).unwrap().p_value;
    let table = radose::core::describe::describe_by(&frame::columns(&f.df), &f.roles, "nn").unwrap();
    let rows: Vec<_> = table.rows.iter().filter(|r| r[0] == "age".into()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][table.columns.iter().position(|c| c == "p_value").unwrap()], radose::output::Cell::Float(p));
    let mean0 = g0.iter().sum::<f64>() / g0.len() as f64;
    assert_eq!(rows[0][table.columns.iter().position(|c| c == "mean").unwrap()], radose::output::Cell::Float(mean0));
    // A categorical row is tested with chi-square.
    let sex: Vec<_> = table.rows.iter().filter(|r| r[0] == "sex".into()).collect();
    assert!(matches!(&sex[0][14], radose::output::Cell::Text(t) if t.contains("chi")), "{:?}", sex[0]);
}

#[test]
fn show_rows_and_head() {
    let mut s = loaded();
    let out = run_ok(&mut s, "show A --rows 3-4");
    assert!(out.contains("T003") && out.contains("T004") && !out.contains("T005") && !out.contains("T002"), "{out}");
    let out = run_ok(&mut s, "head A 2");
    assert!(out.contains("T001") && out.contains("T002") && !out.contains("T003"), "{out}");
}
