//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use radose::session::Session;
use radose::shell::script::{ScriptOutcome, run_text};

/// The crate root (tests run with it as the working directory): the one
/// `cargo test` names when it runs the test, so a test binary built from a
/// copy of the checkout at another path (and not rebuilt since) still reads
/// the checkout it is run for.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// A fresh session on a private in-memory database, 100 columns wide.
pub fn session() -> Session {
    let mut s = radose::open_session(Path::new(":memory:")).expect("in-memory session");
    s.width = 100;
    s
}

/// Runs `text` in `session`, continuing after errors; returns stdout and
/// stderr interleaved per statement is not needed, so both separately.
pub fn run(session: &mut Session, text: &str, keep_going: bool) -> (String, String, ScriptOutcome) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = run_text(session, text, "test", keep_going, &mut out, &mut err);
    (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap(), outcome)
}

/// Compares `actual` with the golden file `tests/golden/NAME`; with
/// `UPDATE_GOLDEN=1` in the environment, rewrites the file instead.
pub fn golden(name: &str, actual: &str) {
    let update = update_golden_requested(std::env::var_os("UPDATE_GOLDEN").as_deref());
    if let Err(e) = golden_at(&root().join("tests/golden").join(name), actual, update) {
        panic!("{e}");
    }
}

/// Whether the value of `UPDATE_GOLDEN` asks for goldens to be rewritten:
/// only `1` does (`UPDATE_GOLDEN=0` or an empty value compares).
pub fn update_golden_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// [`golden`] against the file at `path`: rewrites it when `update`, else
/// says how it differs.
pub fn golden_at(path: &Path, actual: &str, update: bool) -> Result<(), String> {
    if update {
        return std::fs::write(path, actual).map_err(|e| format!("{}: {e}", path.display()));
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|_| format!("missing golden file {}; run with UPDATE_GOLDEN=1", path.display()))?;
    if expected != actual {
        let diff_at = expected.lines().zip(actual.lines()).position(|(a, b)| a != b);
        return Err(format!(
            "golden {} differs (first differing line: {:?})\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            diff_at.map(|i| i + 1)
        ));
    }
    Ok(())
}

/// The path of the `radose` binary built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_radose"))
}

/// A minimal XML well-formedness check: balanced tags, quoted attributes.
pub fn well_formed(xml: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("unclosed `<`")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("`</{name}>` closes nothing"))?;
            if open != name.trim() {
                return Err(format!("`<{open}>` closed by `</{name}>`"));
            }
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or("").trim_end_matches('/').to_string();
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in `<{tag}>`"));
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if stack.is_empty() { Ok(()) } else { Err(format!("unclosed {stack:?}")) }
}

/// A file under `tests/fixtures/` (the reference data the tests check
/// against ships with the repository; nothing is read from outside it).
pub fn fixture(rel: &str) -> PathBuf {
    let p = root().join("tests/fixtures").join(rel);
    assert!(p.exists(), "test fixture {} is missing from the repository", p.display());
    p
}

/// A database for the dashboard's tests (`DIR/runs.db`): two `cv` runs, a
/// two-fold `train` of a small +Dose model, all in experiment `e`, and a
/// figure of the first `cv` written outside the artifact folder. Returns
/// the session and the ids of the two `cv` runs and the `train` run.
pub fn dashboard_study(dir: &Path) -> (Session, i64, i64, i64) {
    let db = dir.join("runs.db");
    let mut s = radose::open_session(&db).unwrap();
    let d = dir.display();
    let script = format!(
        "simulate --out {d}/sim --n-a 30 --n-b 12 --seed 7\n\
         load A0 {d}/sim/A\npreprocess A0 --to {d}/pre/A\nload A {d}/pre/A\n\
         extract A --sequences T1 --roi ptv --to {d}/feat/A\n\
         pipeline P = standardize | mannwhitney k=4 | logistic\n\
         cv P on A.T1 --folds 3 --seed 1 --label first --experiment e\n\
         cv P on A.T1 --folds 3 --seed 2 --label second --experiment e\n\
         model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance weight\n\
         train Q on A --folds 2 --grid epochs=2 batch=4 --seed 3 --experiment e\n"
    );
    let (_, err, outcome) = run(&mut s, &script, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let runs = s.store().query_runs(None, None, false, 500).unwrap();
    let of = |kind: radose::store::RunKind| {
        runs.iter().filter(|(r, _)| r.kind == kind).map(|(r, _)| r.id).collect::<Vec<_>>()
    };
    let (cvs, train) = (of(radose::store::RunKind::Cv), of(radose::store::RunKind::Train)[0]);
    // A figure written outside the run database's artifact folder.
    let (_, err, outcome) = run(&mut s, &format!("plot roc {} --out {d}/outside.svg", cvs[0]), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    (s, cvs[0], cvs[1], train)
}

/// A fresh, empty PostgreSQL database named `radose_NAME` on the server
/// `RADOSE_TEST_PG` names (dropped and made again), as a URL. `None` when
/// no server is named — unless `RADOSE_REQUIRE_PG=1` (CI), where that
/// fails the test instead of skipping it.
pub fn pg_database(name: &str) -> Option<String> {
    let Some(url) = std::env::var("RADOSE_TEST_PG").ok().filter(|u| !u.is_empty()) else {
        assert!(
            std::env::var("RADOSE_REQUIRE_PG").as_deref() != Ok("1"),
            "RADOSE_REQUIRE_PG=1 but RADOSE_TEST_PG names no PostgreSQL server"
        );
        eprintln!("skipping the PostgreSQL half: RADOSE_TEST_PG is not set");
        return None;
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect to RADOSE_TEST_PG");
    let db = format!("radose_{name}");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).expect("drop the test database");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).expect("create the test database");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{db}"))
}

/// The stores a store test runs on: a SQLite file in `dir`, and a fresh
/// PostgreSQL database when one is available.
pub fn store_targets(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut targets = vec![dir.join(format!("{name}.db"))];
    targets.extend(pg_database(name).map(PathBuf::from));
    targets
}
