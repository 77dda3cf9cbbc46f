//! Crash safety: `kill -9` in the middle of `preprocess` (or `train`) leaves runs.db
//! sound (PRAGMA integrity_check), the killed run `interrupted`, every
//! patient folder either complete (its record vouches for every file) or
//! without a record, and `runs --resume` finishes the job from the cache —
//! for `train` in a new process, which rebuilds the model and frames from
//! the run's record, refuses a changed input, and ends with the predictions
//! of an uninterrupted run. Every child process runs in its test's own
//! temporary folder.

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

/// Runs `radose --db DB -c CMD` to the end in DB's folder; returns (stdout, stderr, success).
fn radose(db: &std::path::Path, cmd: &str) -> (String, String, bool) {
    let out = Command::new(common::binary())
        .current_dir(db.parent().unwrap())
        .args(["--db", db.to_str().unwrap(), "-c", cmd])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        out.status.success(),
    )
}

/// A simulated cohort of 24 preprocessed in `dir` (its runs in `dir/runs.db`);
/// returns the database and the statements that load it, extract T1 and
/// declare the model Q — what a `train Q on A …` needs.
fn study(dir: &std::path::Path) -> (std::path::PathBuf, &'static str) {
    let db = dir.join("runs.db");
    let (_, err, ok) = radose(&db, "simulate --out sim --n-a 24 --n-b 6; load A0 sim/A; preprocess A0 --to pre/A");
    assert!(ok, "{err}");
    let setup = "load A pre/A; extract A --sequences T1 --roi ptv --to feat/A; \
                 model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance oversample";
    (db, setup)
}

/// `radose --db DB -c SCRIPT` started in DB's folder, its output discarded.
fn spawn(db: &std::path::Path, script: &str, stderr: Stdio) -> std::process::Child {
    Command::new(common::binary())
        .current_dir(db.parent().unwrap())
        .args(["--db", db.to_str().unwrap(), "-c", script])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn finished_folds(db: &std::path::Path) -> usize {
    let Ok(store) = Store::open(db, Provenance::gather()) else { return 0 };
    store
        .list_runs(200)
        .map(|runs| runs.iter().filter(|r| r.kind == RunKind::TrainFold && r.status == RunStatus::Finished).count())
        .unwrap_or(0)
}

/// The highest epoch any `kind` run has checkpointed.
fn checkpoint_epoch(db: &std::path::Path, kind: RunKind) -> i64 {
    let Ok(store) = Store::open(db, Provenance::gather()) else { return 0 };
    let Ok(runs) = store.list_runs(200) else { return 0 };
    runs.iter()
        .filter(|r| r.kind == kind)
        .filter_map(|r| store.metrics(r.id).ok())
        .flatten()
        .filter(|m| m.key == "checkpoint_epoch")
        .map(|m| m.value as i64)
        .max()
        .unwrap_or(0)
}

/// Runs SCRIPT in a child process and kills it (SIGKILL) as soon as
/// `reached(db)` holds (or after 300 s).
fn kill_when(db: &std::path::Path, script: &str, reached: impl Fn(&std::path::Path) -> bool) {
    let mut child = spawn(db, script, Stdio::null());
    let started = Instant::now();
    while !reached(db) && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_during_train_then_resume_in_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let train = "train Q on A --folds 3 --grid epochs=30 batch=8 --seed 3";
    let script = format!("{setup}; {train}");
    kill_when(&db, &script, |db| finished_folds(db) >= 1);
    let done = finished_folds(&db);
    assert!((1..3).contains(&done), "killed after {done} of 3 folds");
    let store = Store::open(&db, Provenance::gather()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let killed = store.list_runs(200).unwrap().into_iter().find(|r| r.kind == RunKind::Train).unwrap();
    assert_eq!(killed.status, RunStatus::Interrupted);
    drop(store);

    // A changed input stops the resume and names the file.
    let parquet = dir.path().join("feat/A/A.T1.parquet");
    let saved = std::fs::read(&parquet).unwrap();
    std::fs::write(&parquet, b"not the features the run read").unwrap();
    let (_, err, ok) = radose(&db, &format!("runs --resume {}", killed.id));
    assert!(!ok && err.contains("feat/A/A.T1.parquet") && err.contains("changed"), "{err}");
    std::fs::write(&parquet, saved).unwrap();

    // (b) Rerunning the same script in a new process continues the killed run.
    let (out, err, ok) = radose(&db, &script);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("continued the unfinished run {}: {done} of 3 folds reused", killed.id)), "{out}");

    // (a) A new process resumes from the record alone: no model, no frames in it.
    let (out, err, ok) = radose(&db, &format!("runs --resume {}", killed.id));
    assert!(ok, "{out}{err}");
    assert!(out.contains("rebuilt: model Q"), "{out}");
    assert!(out.contains("`load A pre/A`") && out.contains("`extract A --sequences T1"), "{out}");
    assert!(out.contains(&format!("resumed run {}: {done} of 3 folds reused", killed.id)), "{out}");

    // Both equal an uninterrupted training (`--fresh`: every fold trained).
    let (out, err, ok) = radose(&db, &format!("{script} --fresh"));
    assert!(ok, "{err}");
    assert!(!out.contains("folds reused"), "{out}");
    let store = Store::open(&db, Provenance::gather()).unwrap();
    let trains: Vec<_> = store
        .list_runs(500)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RunKind::Train && r.status == RunStatus::Finished)
        .collect();
    assert_eq!(trains.len(), 3, "continued, resumed and uninterrupted");
    let preds = |id| {
        let mut p = store.predictions(id).unwrap();
        p.sort_by(|a, b| a.patient.cmp(&b.patient));
        p
    };
    let fresh = preds(trains[0].id);
    assert_eq!(fresh.len(), 24);
    for t in &trains[1..] {
        assert_eq!(preds(t.id), fresh, "run {} equals the uninterrupted run", t.id);
    }
}

#[test]
fn sigterm_cancels_a_train_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let child =
        spawn(&db, &format!("{setup}; train Q on A --folds 3 --grid epochs=400 batch=8 --seed 3"), Stdio::piped());
    // Wait until the first fold has logged an epoch, then send SIGTERM (a
    // batch scheduler's time limit).
    let started = Instant::now();
    let epochs = || {
        Store::open(&db, Provenance::gather())
            .ok()
            .and_then(|s| s.list_runs(100).ok())
            .map(|runs| runs.iter().any(|r| r.kind == RunKind::TrainFold))
            .unwrap_or(false)
    };
    while !epochs() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The shell's own `kill` (no procps needed).
    let status = Command::new("sh").args(["-c", &format!("kill -TERM {}", child.id())]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cancelling"), "{err}");
    let store = Store::open(&db, Provenance::gather()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs = store.list_runs(200).unwrap();
    let train = runs.iter().find(|r| r.kind == RunKind::Train).unwrap();
    assert_eq!(train.status, RunStatus::Cancelled, "SIGTERM stops at the next batch and records the run");
    assert!(runs.iter().any(|r| r.kind == RunKind::TrainFold && r.status == RunStatus::Cancelled), "the fold too");
}

#[test]
fn a_killed_fold_continues_from_its_checkpoint_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let train = "train Q on A --folds 2 --grid epochs=60 batch=8 --seed 4 --checkpoint-minutes 0";
    let script = format!("{setup}; {train}");
    kill_when(&db, &script, |db| checkpoint_epoch(db, RunKind::TrainFold) >= 5);
    let (epoch, finished) = (checkpoint_epoch(&db, RunKind::TrainFold), finished_folds(&db));
    assert!(epoch >= 5 && epoch < 60 && finished == 0, "killed in fold 1 after its epoch-{epoch} checkpoint");
    let killed = {
        let store = Store::open(&db, Provenance::gather()).unwrap();
        store.list_runs(200).unwrap().into_iter().find(|r| r.kind == RunKind::Train).unwrap().id
    };

    let (out, err, ok) = radose(&db, &format!("runs --resume {killed}"));
    assert!(ok, "{out}{err}");
    let (_, err, ok) = radose(&db, &format!("{} --fresh", script.replace(" --checkpoint-minutes 0", "")));
    assert!(ok, "{err}");

    let store = Store::open(&db, Provenance::gather()).unwrap();
    let runs = store.list_runs(500).unwrap();
    let trains: Vec<_> = runs.iter().filter(|r| r.kind == RunKind::Train && r.status == RunStatus::Finished).collect();
    assert_eq!(trains.len(), 2);
    let preds = |id| {
        let mut p = store.predictions(id).unwrap();
        p.sort_by(|a, b| a.patient.cmp(&b.patient));
        p
    };
    assert_eq!(preds(trains[0].id), preds(trains[1].id), "the continued fold ends as an uninterrupted one");
    // The continued fold says where it started, has every epoch's metrics,
    // and its checkpoints were pruned.
    let resumed = store.run_detail(trains[1].id).unwrap();
    let config = store.run_detail(resumed.children[0]).unwrap();
    let fold1 = store.run_detail(config.children[0]).unwrap();
    let param = |k: &str| fold1.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.display());
    let at: i64 = param("resumed_at_epoch").expect("continued from a checkpoint").parse().unwrap();
    assert!(at >= epoch - 1 && at <= epoch, "continued at epoch {at}, checkpointed {epoch}");
    let losses = fold1.metrics.iter().filter(|m| m.key == "train_loss").count();
    assert_eq!(losses, 60, "every epoch's loss, the earlier ones copied");
    assert!(fold1.artifacts.iter().all(|(p, _)| !p.contains("checkpoint")), "{:?}", fold1.artifacts);
    assert!(fold1.artifacts.iter().all(|(p, _)| std::path::Path::new(p).is_file()));
}

/// Makes `run` look killed: it (and the child runs given) read
/// `interrupted`, and the predictions of `drop_fold` are gone from it, as
/// when the process died before that fold finished.
fn as_if_killed(db: &std::path::Path, run: i64, children: &[i64], drop_fold: Option<i64>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    for id in std::iter::once(&run).chain(children) {
        conn.execute("UPDATE runs SET status = 'interrupted', ended_at = NULL WHERE id = ?1", [id]).unwrap();
    }
    if let Some(f) = drop_fold {
        conn.execute("DELETE FROM predictions WHERE run_id = ?1 AND fold = ?2", [run, f]).unwrap();
    }
}

/// A run's results: its predictions and its metrics other than timings.
fn results(store: &Store, id: i64) -> (Vec<(String, Option<i64>, u64)>, Vec<(String, Option<i64>, u64)>) {
    let mut p: Vec<_> =
        store.predictions(id).unwrap().into_iter().map(|p| (p.patient, p.fold, p.probability.to_bits())).collect();
    p.sort();
    let mut m: Vec<_> = store
        .metrics(id)
        .unwrap()
        .into_iter()
        .filter(|m| !m.key.contains("seconds") && !m.key.contains("cached"))
        .map(|m| (m.key, m.step, m.value.to_bits()))
        .collect();
    m.sort();
    (p, m)
}

#[test]
fn every_resumable_command_resumes_in_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let (_, err, ok) = radose(&db, "load B0 sim/B; preprocess B0 --to pre/B");
    assert!(ok, "{err}");
    let commands = [
        (RunKind::Extract, "extract B --sequences T1 --roi ptv --to feat/B"),
        (RunKind::Cv, "cv P on A.T1 --folds 4 --seed 5"),
        (RunKind::Holdout, "holdout P on A.T1 --test B.T1"),
        (RunKind::AuditLeakage, "audit leakage P on A.T1 --folds 3 --seed 2"),
        (RunKind::Train, "train Q on A --folds 2 --grid epochs=2 batch=8 --seed 3"),
        (RunKind::Test, "test Q on B"),
    ];
    let script = format!(
        "{setup}; load B pre/B; pipeline P = standardize | mannwhitney k=5 | logistic; {}",
        commands.iter().map(|(_, c)| *c).collect::<Vec<_>>().join("; ")
    );
    let (_, err, ok) = radose(&db, &script);
    assert!(ok, "{err}");
    let store = Store::open(&db, Provenance::gather()).unwrap();
    let runs = store.list_runs(500).unwrap();
    let first = |kind: RunKind, command: &str| {
        runs.iter().rev().find(|r| r.kind == kind && r.command == command && r.parent.is_none()).unwrap().id
    };
    let originals: Vec<(RunKind, &str, i64)> = commands.iter().map(|&(k, c)| (k, c, first(k, c))).collect();
    let expected: Vec<_> = originals.iter().map(|o| results(&store, o.2)).collect();
    drop(store);

    for ((kind, command, id), expected) in originals.iter().zip(&expected) {
        // The cv run dies before its last fold; the others at their end.
        let store = Store::open(&db, Provenance::gather()).unwrap();
        let children = store.run_detail(*id).unwrap().children;
        drop(store);
        let (killed_children, drop_fold) = match kind {
            RunKind::Cv => (vec![*children.last().unwrap()], Some(3)),
            _ => (vec![], None),
        };
        as_if_killed(&db, *id, &killed_children, drop_fold);
        let (out, err, ok) = radose(&db, &format!("runs --resume {id}"));
        assert!(ok, "{command}: {out}{err}");
        assert!(out.contains("rebuilt: `load "), "{command} rebuilt its frames: {out}");
        match kind {
            RunKind::Cv => {
                assert!(out.contains("rebuilt: pipeline P"), "{out}");
                assert!(out.contains(&format!("resumed run {id}: 3 of 4 folds reused")), "{out}");
            }
            RunKind::Holdout | RunKind::AuditLeakage => assert!(out.contains("rebuilt: pipeline P"), "{out}"),
            RunKind::Train | RunKind::Test => assert!(out.contains("rebuilt: model Q"), "{out}"),
            _ => {}
        }
        let store = Store::open(&db, Provenance::gather()).unwrap();
        let again = first(*kind, command);
        let resumed = store
            .list_runs(500)
            .unwrap()
            .into_iter()
            .find(|r| r.kind == *kind && r.command == *command && r.parent.is_none() && r.id > again)
            .unwrap_or_else(|| panic!("{command}: no new run after {again}"));
        assert_eq!(resumed.status, RunStatus::Finished, "{command}");
        assert_eq!(&results(&store, resumed.id), expected, "{command}: the resumed run equals the original");
    }

    // Rerunning the statement continues an unfinished cv run by itself.
    let store = Store::open(&db, Provenance::gather()).unwrap();
    let cv = store
        .list_runs(500)
        .unwrap()
        .into_iter()
        .find(|r| r.kind == RunKind::Cv && r.status == RunStatus::Finished)
        .unwrap();
    let last = *store.run_detail(cv.id).unwrap().children.last().unwrap();
    drop(store);
    as_if_killed(&db, cv.id, &[last], Some(3));
    let rerun =
        format!("{setup}; pipeline P = standardize | mannwhitney k=5 | logistic; cv P on A.T1 --folds 4 --seed 5");
    let (out, err, ok) = radose(&db, &rerun);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("continued the unfinished run {}: 3 of 4 folds reused", cv.id)), "{out}");
    let (out, err, ok) = radose(&db, &format!("{rerun} --fresh"));
    assert!(ok, "{err}");
    assert!(!out.contains("folds reused"), "{out}");
}

#[test]
fn a_killed_test_retraining_continues_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let setup = format!(
        "{setup}; load B0 sim/B; preprocess B0 --to pre/B; load B pre/B; extract B --sequences T1 --roi ptv --to feat/B"
    );
    let (_, err, ok) = radose(&db, &format!("{setup}; train Q on A --folds 2 --grid epochs=50 batch=8 --seed 6"));
    assert!(ok, "{err}");
    let test = "test Q on B --checkpoint-minutes 0";
    let script = format!("{setup}; {test}");
    kill_when(&db, &script, |db| checkpoint_epoch(db, RunKind::Test) >= 5);
    let epoch = checkpoint_epoch(&db, RunKind::Test);
    assert!((5..50).contains(&epoch), "killed after the epoch-{epoch} checkpoint of 50");
    let killed = {
        let store = Store::open(&db, Provenance::gather()).unwrap();
        let run = store.list_runs(200).unwrap().into_iter().find(|r| r.kind == RunKind::Test).unwrap();
        assert_eq!(run.status, RunStatus::Interrupted);
        run.id
    };

    // Rerunning the script in a new process continues from the checkpoint.
    let (out, err, ok) = radose(&db, &script);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("continued the unfinished run {killed} from its checkpoint after epoch")), "{out}");
    let (out, err, ok) = radose(&db, &format!("{script} --fresh"));
    assert!(ok, "{err}");
    assert!(!out.contains("continued the unfinished"), "{out}");

    let store = Store::open(&db, Provenance::gather()).unwrap();
    let tests: Vec<_> = store
        .list_runs(500)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RunKind::Test && r.status == RunStatus::Finished)
        .collect();
    assert_eq!(tests.len(), 2, "continued and uninterrupted");
    let (fresh, continued) = (tests[0].id, tests[1].id);
    let preds = |id| {
        let mut p = store.predictions(id).unwrap();
        p.sort_by(|a, b| a.patient.cmp(&b.patient));
        p
    };
    assert_eq!(preds(continued), preds(fresh), "the continued retraining ends as an uninterrupted one");
    let d = store.run_detail(continued).unwrap();
    let at: i64 = d.params.iter().find(|(k, _)| k == "resumed_at_epoch").unwrap().1.display().parse().unwrap();
    assert!(at >= epoch - 1 && at <= epoch, "continued at {at}, checkpointed {epoch}");
    assert_eq!(d.metrics.iter().filter(|m| m.key == "train_loss").count(), 50, "every epoch's loss");
    assert!(d.artifacts.iter().all(|(p, _)| !p.contains("checkpoint")), "checkpoints pruned: {:?}", d.artifacts);
}

/// Runs `radose --db DB -c SCRIPT` in `cwd` with a tmpfs of `size`
/// mounted at `mount` in a mount namespace of its own (nothing outside it
/// sees the mount): `before` runs after the mount (a shell command, e.g. to
/// copy the database onto it), `after` once radose has exited (to copy what
/// is on the tmpfs out). `None` when this machine cannot make a mount
/// namespace (neither root nor unprivileged user namespaces).
fn radose_on_a_full_disk(
    cwd: &std::path::Path,
    db: &std::path::Path,
    (mount, size): (&std::path::Path, &str),
    before: &str,
    script: &str,
    after: &str,
) -> Option<(String, String, bool)> {
    let inner = format!(
        "mount -t tmpfs -o size={size} tmpfs \"$1\" || exit 97; {before}; \"$0\" --db \"$2\" -c \"$3\"; rc=$?; {after}; exit $rc"
    );
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let flags: &[&str] = if root { &["-m"] } else { &["-r", "-m"] };
    let out = Command::new("unshare")
        .current_dir(cwd)
        .args(flags)
        .args(["sh", "-c", &inner])
        .arg(common::binary())
        .arg(mount)
        .arg(db)
        .arg(script)
        .output()
        .ok()?;
    // 97: the mount failed; `unshare: …`: no mount namespace at all.
    if out.status.code() == Some(97) || (out.stdout.is_empty() && out.stderr.starts_with(b"unshare")) {
        return None;
    }
    Some((
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        out.status.success(),
    ))
}

#[test]
fn a_full_disk_fails_the_run_and_leaves_the_database_sound() {
    let dir = tempfile::tempdir().unwrap();
    let (db, setup) = study(dir.path());
    let artifacts = dir.path().join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let train = "train Q on A --folds 2 --grid epochs=3 batch=8 --seed 3 --checkpoint-minutes 0";
    let full =
        radose_on_a_full_disk(dir.path(), &db, (&artifacts, "16k"), "true", &format!("{setup}; {train}"), "true");
    let Some((out, err, ok)) = full else {
        // Root with CAP_SYS_ADMIN (this project's CI) can; elsewhere it needs
        // unprivileged user namespaces.
        eprintln!("SKIPPED: no mount namespace here (run as root, or allow unprivileged user namespaces)");
        return;
    };
    // The artifacts folder is full: the first checkpoint cannot be written.
    assert!(!ok, "{out}");
    assert!(err.contains("No space left on device") && err.contains("artifacts/run-"), "names the file: {err}");
    let store = Store::open(&db, Provenance::gather()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs = store.list_runs(200).unwrap();
    let train = runs.iter().find(|r| r.kind == RunKind::Train).unwrap();
    assert_eq!(train.status, RunStatus::Failed, "the run is recorded failed");
    let error = store.run_detail(train.id).unwrap().error.unwrap_or_default();
    assert!(error.contains("No space left on device"), "its error says why: {error}");
    // What was recorded before is all there.
    for kind in [RunKind::Simulate, RunKind::Load, RunKind::Preprocess, RunKind::Extract] {
        assert!(runs.iter().any(|r| r.kind == kind && r.status == RunStatus::Finished), "{kind:?} kept");
    }
    let fold = runs.iter().filter(|r| r.kind == RunKind::TrainFold).min_by_key(|r| r.id).unwrap();
    assert_eq!(fold.status, RunStatus::Failed);
    assert!(store.metrics(fold.id).unwrap().iter().any(|m| m.key == "train_loss"), "its first epoch is kept");
    drop(store);

    // The database itself on a disk that fills up while a long train logs:
    // the command fails with the database's error, and the database left
    // on that disk is sound, the run `failed` or (when not even that could
    // be written) `interrupted` once opened again.
    let small = dir.path().join("small");
    let kept = dir.path().join("kept");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::create_dir_all(&kept).unwrap();
    let (_, err, ok) = radose(&db, "runs --limit 1");
    assert!(ok, "{err}");
    let on_disk: u64 = ["runs.db", "runs.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    // Room for the shared-memory index and a few hundred log entries.
    let size = format!("{}k", on_disk / 1024 + 512);
    let trains_before = Store::open(&db, Provenance::gather())
        .unwrap()
        .list_runs(500)
        .unwrap()
        .iter()
        .filter(|r| r.kind == RunKind::Train)
        .count();
    let copy = small.join("runs.db");
    let before = format!("cp \"{}\"* \"{}\"", db.display(), small.display());
    let after = format!("cp \"{}\"* \"{}\"", copy.display(), kept.display());
    let long = format!("{setup}; train Q on A --folds 3 --grid epochs=200 batch=8 --seed 3 --checkpoint-minutes off");
    let full = radose_on_a_full_disk(dir.path(), &copy, (&small, &size), &before, &long, &after);
    let (out, err, ok) = full.expect("a mount namespace was made above");
    assert!(!ok, "{out}");
    assert!(err.contains("full") || err.contains("No space left"), "says the disk is full: {err}");
    let store = Store::open(&kept.join("runs.db"), Provenance::gather()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs = store.list_runs(500).unwrap();
    let trains: Vec<_> = runs.iter().filter(|r| r.kind == RunKind::Train).collect();
    assert_eq!(trains.len(), trains_before + 1, "the disk filled during the train: {err}");
    assert!(matches!(trains[0].status, RunStatus::Failed | RunStatus::Interrupted), "{:?}", trains[0].status);
    let logged = runs.iter().filter(|r| r.kind == RunKind::TrainFold && r.id > trains[0].id).count();
    assert!(logged >= 1, "it had started its folds");
    assert!(runs.iter().any(|r| r.kind == RunKind::Extract && r.status == RunStatus::Finished), "earlier runs kept");
}
