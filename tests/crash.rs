//! Crash safety: `kill -9` in the middle of `preprocess` leaves runs.db
//! sound (PRAGMA integrity_check), the killed run `interrupted`, every
//! patient folder either complete (its record vouches for every file) or
//! without a record, and `runs --resume` finishes the job from the cache.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use radose::provenance::Provenance;
use radose::store::Store;
use radose::store::{RunKind, RunStatus};

#[test]
fn kill_during_preprocess_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let db = dir.path().join("runs.db");
    let status = Command::new(common::binary())
        .args(["--db", db.to_str().unwrap(), "-c", &format!("simulate --out {d}/sim --n-a 24 --n-b 6")])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = Command::new(common::binary())
        .args([
            "--db",
            db.to_str().unwrap(),
            "-c",
            &format!("load A {d}/sim/A; preprocess A --n4 --jobs 1 --to {d}/pre"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a few patients are done, then kill -9 mid-way.
    let started = Instant::now();
    loop {
        let done = std::fs::read_dir(dir.path().join("pre"))
            .map(|r| r.filter_map(|e| e.ok()).filter(|e| e.path().join("record.json").exists()).count())
            .unwrap_or(0);
        if done >= 3 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(&db, Provenance::gather()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs = store.list_runs(50).unwrap();
    let pre =
        runs.iter().find(|r| r.kind == RunKind::Preprocess).expect("the preprocess run was recorded before its work");
    assert_eq!(pre.status, RunStatus::Interrupted, "a killed run shows as interrupted");
    // Every patient folder is complete or has no record.
    let key_dirs: Vec<_> = std::fs::read_dir(dir.path().join("pre"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    let mut complete = 0;
    for p in &key_dirs {
        let rec = p.join("record.json");
        if rec.exists() {
            let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
            let key = r["key"].as_str().unwrap();
            assert!(
                radose::imaging::preprocess::cached(p, key).is_some(),
                "{} has a record but a torn file",
                p.display()
            );
            complete += 1;
        }
        for f in std::fs::read_dir(p).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().to_string();
            assert!(!name.starts_with('.') || name.contains(".tmp-"), "unexpected file {name}");
        }
    }
    assert!(complete >= 3 && complete < 24, "killed mid-way: {complete} of 24 patients complete");
    drop(store);

    // Resume: the finished patients come from the cache.
    let mut s = radose::open_session(&db).unwrap();
    s.width = 200;
    let (out, err, o) = common::run(&mut s, &format!("load A {d}/sim/A; runs --resume {}", pre.id), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("resuming run") && out.contains("interrupted"), "{out}");
    assert_eq!(out.matches("│ cached").count(), complete, "{out}");
    assert_eq!(out.matches("│ done").count(), 24 - complete, "{out}");
    let (_, err, _) = common::run(&mut s, "runs --resume 1", true);
    assert!(err.contains("only interrupted, cancelled or failed runs are resumed"), "{err}");
}
