//! Every tracker command on a PostgreSQL store gives what it gives on
//! SQLite: `experiments/quick.radose` (cv, holdout, `runs --where … --sort`,
//! `report`, `notebook save`) run on both, then `compare`, `best`, `run
//! show` and the report's tables compared. Needs `RADOSE_TEST_PG` (CI
//! starts a server; `RADOSE_REQUIRE_PG=1` makes its absence a failure).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

fn radose(dir: &Path, db: &str, args: &[&str]) -> String {
    let out = Command::new(common::binary())
        .current_dir(dir)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "radose --db {db} {args:?} failed: {text}");
    text
}

/// Output without clock times, durations and the store's name.
fn timeless(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("seconds") && !l.contains(" ms") && !l.contains("took"))
        .filter(|l| !l.contains("runs.db") && !l.contains("postgres://") && !l.trim_start().starts_with("pid "))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| !(w.len() >= 20 && w.contains('T') && w.ends_with('Z')))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_tracker_commands_read_a_postgresql_store_as_they_read_sqlite() {
    let Some(pg) = common::pg_database("commands") else { return };
    let script = common::root().join("experiments/quick.radose");
    let published = common::root().join("experiments/published.csv");
    let mut seen = Vec::new();
    for server in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let db = if server { pg.clone() } else { d.join("runs.db").display().to_string() };
        let db = db.as_str();
        std::fs::create_dir_all(d.join("experiments")).unwrap();
        std::fs::copy(&published, d.join("experiments/published.csv")).unwrap();
        let run_out = radose(d, db, &["run", script.to_str().unwrap()]);
        let sorted = run_out.lines().skip_while(|l| !l.contains("auc_pooled")).collect::<Vec<_>>().join("\n");
        let best = radose(d, db, &["-c", "best auc_pooled --where \"kind = cv and experiment = quick\""]);
        let store = radose::store::Store::open(Path::new(db), radose::provenance::Provenance::gather()).unwrap();
        let cvs: Vec<i64> = store
            .list_runs(1000)
            .unwrap()
            .iter()
            .filter(|r| r.kind == radose::store::RunKind::Cv && r.parent.is_none())
            .map(|r| r.id)
            .collect();
        drop(store);
        assert!(cvs.len() >= 8, "{cvs:?}");
        let compare = radose(d, db, &["-c", &format!("compare {} {}", cvs[0], cvs[1])]);
        let show = radose(d, db, &["-c", &format!("run show {}", cvs[0])]);
        let filtered =
            radose(d, db, &["-c", "runs --where \"model in (R1, RM) and auc_mean > 0.5\" --sort lr --limit 50"]);
        let mut tables = Vec::new();
        let mut files: Vec<_> =
            std::fs::read_dir(d.join("reports/quick/tables")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            tables.push((f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&f).unwrap()));
        }
        assert!(d.join("reports/quick/notebook.html").is_file(), "{db}: no notebook");
        assert!(d.join("reports/quick/index.html").is_file(), "{db}: no report");
        seen.push((
            timeless(&sorted),
            timeless(&best),
            timeless(&compare),
            timeless(&show),
            timeless(&filtered),
            tables,
        ));
    }
    let (sqlite, server) = (&seen[0], &seen[1]);
    assert!(sqlite.1.contains("auc_pooled"), "{}", sqlite.1);
    assert!(sqlite.2.contains("DeLong"), "{}", sqlite.2);
    assert!(!sqlite.5.is_empty());
    assert_eq!(sqlite.0, server.0, "runs --where … --sort");
    assert_eq!(sqlite.1, server.1, "best");
    assert_eq!(sqlite.2, server.2, "compare");
    assert_eq!(sqlite.4, server.4, "runs --where with a parameter sort");
    assert_eq!(sqlite.5, server.5, "the report's tables");
    // `run show`: the same record, but the store's name differs.
    let strip = |t: &str| {
        t.lines().filter(|l| !l.contains("runs.db") && !l.contains("postgres://")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&sqlite.3), strip(&server.3), "run show");
}
