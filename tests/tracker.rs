//! The run tracker across processes: a script's runs and dataset hashes,
//! two writers on one database, a killed process, and Ctrl-C.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{binary, root};
use radose::provenance::{Provenance, sha256_file};
use radose::store::Store;
use radose::store::{RunKind, RunStatus};

fn open(db: &Path) -> Store {
    Store::open(db, Provenance::gather()).unwrap()
}

fn radose(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.arg("--db").arg(db).args(args).current_dir(root());
    c
}

/// Waits until the database holds a run with status `running`.
fn wait_for_running(db: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if db.exists() {
            let store = open(db);
            if store.list_runs(10).unwrap().iter().any(|r| r.status == RunStatus::Running) {
                return;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "radose exited before its run started");
        assert!(Instant::now() < deadline, "no running run appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn script_records_finished_runs_with_dataset_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let script = dir.path().join("s.radose");
    std::fs::write(&script, "load A tests/fixtures/cohort\nframes\nruns\ndescribe A\n").unwrap();
    let out = radose(&db, &["run", script.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("loaded A: 12 patients × 8 columns"), "{stdout}");

    let store = open(&db);
    let runs = store.list_runs(10).unwrap();
    assert_eq!(runs.len(), 2, "load and describe are runs; frames and runs are views");
    let load = runs.iter().find(|r| r.kind == RunKind::Load).unwrap();
    assert_eq!(load.status, RunStatus::Finished);
    let detail = store.run_detail(load.id).unwrap();
    let clinical = root().join("tests/fixtures/cohort/clinical.csv");
    let expected = sha256_file(&clinical).unwrap();
    assert!(detail.datasets.iter().any(|d| d.sha256 == expected && d.rows == Some(12)), "{:?}", detail.datasets);
    assert_eq!(detail.program_version, radose::provenance::VERSION);
    let describe = runs.iter().find(|r| r.kind == RunKind::Describe).unwrap();
    assert_eq!(store.run_detail(describe.id).unwrap().datasets, detail.datasets, "describe cites the load's inputs");
}

#[test]
fn failing_script_exits_1_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let script = dir.path().join("bad.radose");
    std::fs::write(
        &script,
        "frames\nload A tests/fixtures/bad/duplicate_id.csv --id patient_id --outcome nn\nframes\n",
    )
    .unwrap();
    let out = radose(&db, &["run", script.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("{}:2: error[E-DUPID]", script.display())), "{stderr}");
    let store = open(&db);
    assert_eq!(store.list_runs(10).unwrap()[0].status, RunStatus::Failed);

    let out = radose(&db, &["-c", "frames; nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = radose(&db, &["-c", "frames; runs"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn two_processes_write_to_one_database() {
    const PER_PROCESS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let script = dir.path().join("many.radose");
    let line = "load A tests/fixtures/cohort\n";
    std::fs::write(&script, line.repeat(PER_PROCESS)).unwrap();
    let children: Vec<Child> = (0..2)
        .map(|_| {
            radose(&db, &["run", script.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let store = open(&db);
    let runs = store.list_runs(10 * PER_PROCESS).unwrap();
    assert_eq!(runs.len(), 2 * PER_PROCESS);
    assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
    let mut ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 2 * PER_PROCESS);
}

#[test]
fn killed_process_leaves_an_interrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut child = radose(&db, &["-c", "sleep 60"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_running(&db, &mut child);
    // While it lives, opening the database does not touch its run.
    assert_eq!(open(&db).list_runs(1).unwrap()[0].status, RunStatus::Running);
    child.kill().unwrap();
    child.wait().unwrap();
    // The next start finds the dead process's run and marks it.
    let out = radose(&db, &["-c", "runs"]).output().unwrap();
    assert!(out.status.success());
    let store = open(&db);
    let run = &store.list_runs(1).unwrap()[0];
    assert_eq!(run.status, RunStatus::Interrupted);
    assert!(store.run_detail(run.id).unwrap().error.unwrap().contains("ended before it finished"));
}

#[test]
fn ctrl_c_cancels_the_running_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut child =
        radose(&db, &["-c", "sleep 60; frames"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_running(&db, &mut child);
    let started = Instant::now();
    // The shell's own `kill` builtin: no dependency on a kill binary.
    let status = Command::new("sh").args(["-c", &format!("kill -INT {}", child.id())]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "cancel took too long");
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[E-CANCEL]: cancelled"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no frames loaded"), "script stopped after cancel");
    let store = open(&db);
    assert_eq!(store.list_runs(1).unwrap()[0].status, RunStatus::Cancelled);
}

#[test]
fn interactive_shell_survives_errors_over_a_pipe() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut child =
        radose(&db, &[]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"load A tests/fixtures/cohort\nshow NOPE\nload B \\\n  tests/fixtures/cohort\nframes\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no frame named `NOPE`"), "{stderr}");
    assert!(stdout.contains("loaded B"), "continued line: {stdout}");
    assert!(stdout.contains(" B    │   12"), "frames after the error: {stdout}");
    assert!(dir.path().join(".radose_history").exists(), "history is kept beside the database");
}

/// A command that opens a run and two children, finishes the first child,
/// and fails in the middle of the second, as a `?` inside `train` does.
struct FailsMidway;

impl radose::session::Command for FailsMidway {
    fn signature(&self) -> radose::signature::Signature {
        radose::signature::Signature::new("fails-midway", "test", "Fail after opening child runs")
            .example("fails-midway", "fails")
    }

    fn run(
        &self,
        args: &radose::signature::Args,
        session: &mut radose::session::Session,
    ) -> radose::error::Result<radose::output::Output> {
        use radose::store::records::{SleepParams, TrainConfigParams};
        let parent = session.begin_run(args, RunKind::Train, &SleepParams { seconds: 0.0 }, Some(1))?;
        let config = TrainConfigParams { config: 0, lr: 0.1, batch: 4, epochs: 1, weight_decay: 0.0, lr_decay: None };
        let done = session.begin_child(parent, RunKind::TrainConfig, &config, Some(1))?;
        session.store().finish_run(done, RunStatus::Finished, None)?;
        let _open = session.begin_child(parent, RunKind::TrainConfig, &config, Some(1))?;
        Err(radose::error::Error::invalid("the second configuration failed", None))
    }
}

#[test]
fn a_failing_command_closes_its_child_runs_as_failed() {
    let store = Store::open_in_memory(Provenance::gather()).unwrap();
    let mut s = radose::session::Session::new(store, radose::session::Registry::new(vec![&FailsMidway]));
    let st = radose::syntax::parse("fails-midway", 1).unwrap().remove(0);
    let err = s.execute(&st).unwrap_err().to_string();
    assert!(err.contains("second configuration failed"), "{err}");
    let runs = s.store().list_runs(10).unwrap();
    assert_eq!(runs.len(), 3);
    let parent = runs.iter().find(|r| r.kind == RunKind::Train).unwrap();
    assert_eq!(parent.status, RunStatus::Failed);
    let children: Vec<_> = runs.iter().filter(|r| r.parent == Some(parent.id)).collect();
    assert_eq!(children.len(), 2);
    // The child the command finished keeps its status; the open one fails
    // with the parent, carrying the error.
    assert_eq!(children.iter().filter(|r| r.status == RunStatus::Finished).count(), 1);
    let failed = children.iter().find(|r| r.status == RunStatus::Failed).expect("the open child failed");
    let detail = s.store().run_detail(failed.id).unwrap();
    assert!(detail.error.as_deref().is_some_and(|e| e.contains("second configuration failed")));
    assert!(runs.iter().all(|r| r.status != RunStatus::Running), "no run is left running");
}

/// Counts what long work reports, as a test's own progress sink.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(u64, &'static str, u64)>>);

struct Counting<'a>(&'a Recorder, usize);

impl radose::progress::Progress for Counting<'static> {
    fn set_message(&self, _: String) {}
    fn inc(&self, steps: u64) {
        if let Ok(mut v) = self.0.0.lock() {
            v[self.1].2 += steps;
        }
    }
    fn finish(&self) {}
}

impl radose::progress::ProgressSink for &'static Recorder {
    fn start(&self, total: u64, unit: &'static str, _: String) -> Box<dyn radose::progress::Progress> {
        let mut v = self.0.lock().unwrap();
        v.push((total, unit, 0));
        Box::new(Counting(self, v.len() - 1))
    }
}

#[test]
fn long_work_reports_progress_through_the_sessions_sink() {
    let recorder: &'static Recorder = Box::leak(Box::default());
    let mut s = radose::open_session(Path::new(":memory:")).unwrap();
    s.set_progress_sink(std::sync::Arc::new(recorder));
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "simulate --out {0}/sim --n-a 24 --n-b 8; load A {0}/sim/A; \
         pipeline P = standardize | logistic; cv P on A --folds 3 --repeats 2",
        dir.path().display()
    );
    let st = radose::syntax::parse(&script, 1).unwrap();
    for statement in &st {
        s.execute(statement).unwrap();
    }
    let seen = recorder.0.lock().unwrap().clone();
    // `simulate` counts patients, `cv` folds; every step was counted.
    assert!(seen.contains(&(32, "patients", 32)), "{seen:?}");
    assert!(seen.contains(&(6, "folds", 6)), "{seen:?}");
}
