//! `train --backend slurm|queue` and `radose worker`: the same numbers as a
//! local `train`, a killed worker's item reclaimed, a scancelled worker's
//! item given back, an item that keeps failing failing its run.
//!
//! The queue tests run everywhere (workers are processes on one SQLite
//! file). The Slurm tests need a Slurm cluster and a PostgreSQL server:
//! `.ci/services.sh` starts both and sets `RADOSE_TEST_SLURM=1` and
//! `RADOSE_TEST_PG`; `RADOSE_REQUIRE_SLURM=1` (CI) makes their absence a
//! failure instead of a skip.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use radose::provenance::Provenance;
use radose::store::records::{Params, TrainFoldParams};
use radose::store::work::ItemStatus;
use radose::store::{RunId, RunKind, RunStatus, Store};

/// The statements that load a small preprocessed cohort, extract T1 and
/// declare a T1+Dose model with a 17³ dose input.
const SETUP: &str = "load A pre/A; extract A --sequences T1 --roi ptv --to feat/A; \
                     model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance oversample";

/// The grid of the issue: 2 learning rates × 2 folds, 2 epochs.
const GRID: &str = "--folds 2 --grid lr=1e-3,3e-4 epochs=2 batch=8 --seed 3";

fn radose(dir: &Path, db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(common::binary());
    c.current_dir(dir).arg("--db").arg(db).args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "radose failed: {text}");
    text
}

/// A simulated, preprocessed cohort of 30 in `dir/pre/A`, its runs in `db`.
fn cohort(dir: &Path, db: &str) {
    ok(&radose(
        dir,
        db,
        &[
            "-c",
            "simulate --out sim --n-a 24 --n-b 12; load A0 sim/A; preprocess A0 --to pre/A; load B0 sim/B; preprocess B0 --to pre/B",
        ],
        &[],
    ));
}

/// Test cohort B loaded and extracted as A is.
const SETUP_B: &str = "load B pre/B; extract B --sequences T1 --roi ptv --to feat/B";

/// The newest `test` run.
fn last_test(store: &Store) -> RunId {
    store.list_runs(1000).unwrap().iter().find(|r| r.kind == RunKind::Test).unwrap().id
}

/// A test run's predictions (bits) and non-incidental metrics.
fn tested(store: &Store, run: RunId) -> Vec<String> {
    let mut v: Vec<String> = store
        .predictions(run)
        .unwrap()
        .iter()
        .map(|p| format!("pred {} {} {:016x}", p.patient, p.label, p.probability.to_bits()))
        .collect();
    v.extend(
        store
            .metrics(run)
            .unwrap()
            .iter()
            .filter(|m| !m.incidental)
            .map(|m| format!("metric {} {:016x} {:?}", m.key, m.value.to_bits(), m.step)),
    );
    v
}

fn open(db: &str) -> Store {
    Store::open(Path::new(db), Provenance::gather()).unwrap()
}

/// The newest `train` run.
fn last_train(store: &Store) -> RunId {
    store.list_runs(1000).unwrap().iter().find(|r| r.kind == RunKind::Train && r.parent.is_none()).unwrap().id
}

/// What a `train` run stored, keyed by place rather than run id: the run's
/// own predictions and metrics, each configuration's, and each finished
/// fold's (predictions as exact bits, metrics with their step and fold).
fn stored(store: &Store, train: RunId) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let describe = |run: RunId| {
        let mut lines: Vec<String> = store
            .predictions(run)
            .unwrap()
            .iter()
            .map(|p| format!("pred {:?} {} {} {:016x}", p.fold, p.patient, p.label, p.probability.to_bits()))
            .collect();
        lines.extend(
            store
                .metrics(run)
                .unwrap()
                .iter()
                .filter(|m| !m.incidental)
                .map(|m| format!("metric {} {:016x} {:?} {:?}", m.key, m.value.to_bits(), m.step, m.fold)),
        );
        lines
    };
    out.insert("train".to_string(), describe(train));
    for (c, config) in store.children_of(train).unwrap().iter().filter(|r| r.kind == RunKind::TrainConfig).enumerate() {
        out.insert(format!("config {c}"), describe(config.id));
        for fold in store.children_of(config.id).unwrap() {
            if fold.status != RunStatus::Finished {
                continue;
            }
            let p = TrainFoldParams::from_params(fold.id, &store.params(fold.id).unwrap()).unwrap();
            let key = format!("config {} fold {}", p.config, p.fold);
            assert!(out.insert(key.clone(), describe(fold.id)).is_none(), "two finished runs of {key}");
        }
    }
    out
}

fn assert_same(local: &BTreeMap<String, Vec<String>>, other: &BTreeMap<String, Vec<String>>, what: &str) {
    assert_eq!(local.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>(), "{what}: the runs differ");
    for (k, v) in local {
        assert!(!v.is_empty(), "{k} stored nothing");
        assert_eq!(v, &other[k], "{what}: {k} differs from the local run");
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether Slurm and PostgreSQL are here; `false` skips (unless required).
fn cluster_available() -> bool {
    let have = std::env::var("RADOSE_TEST_SLURM").as_deref() == Ok("1")
        && std::env::var("RADOSE_TEST_PG").is_ok_and(|v| !v.is_empty());
    if !have {
        assert!(
            std::env::var("RADOSE_REQUIRE_SLURM").as_deref() != Ok("1"),
            "RADOSE_REQUIRE_SLURM=1, but RADOSE_TEST_SLURM / RADOSE_TEST_PG name no cluster (.ci/services.sh)"
        );
        eprintln!("skipping: no Slurm cluster and PostgreSQL server (.ci/services.sh starts both)");
    }
    have
}

#[test]
fn queue_workers_store_exactly_what_local_training_stores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("runs.db").display().to_string();
    cohort(d, &db);
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {GRID}")], &[]));
    let local = last_train(&open(&db));
    let text = ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {GRID} --backend queue")], &[]));
    assert!(text.contains("4 work items (2 configurations × 2 folds)"), "{text}");
    let queued = last_train(&open(&db));
    assert_ne!(local, queued);
    // Two workers at once, then the collector.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(common::binary())
                .current_dir(d)
                .args(["--db", &db, "worker", "--parent", &queued.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in workers {
        ok(&w.wait_with_output().unwrap());
    }
    let text = ok(&radose(d, &db, &["worker", "--collect", &queued.to_string()], &[]));
    assert!(text.contains("through work items") && text.contains("pooled out-of-fold AUC"), "{text}");
    let store = open(&db);
    assert_eq!(store.run_detail(queued).unwrap().summary.status, RunStatus::Finished);
    let items = store.work_items(queued).unwrap();
    assert!(items.iter().all(|i| i.status == ItemStatus::Done && i.attempts == 1), "{items:?}");
    assert_same(&stored(&store, local), &stored(&store, queued), "--backend queue");
    // `run show` lists the items.
    let text = ok(&radose(d, &db, &["-c", &format!("run show {queued}")], &[]));
    assert!(text.contains("work items: 0 pending, 0 running, 4 done, 0 failed (of 4)"), "{text}");
    // The retraining of `test` as a work item: the same test run as locally.
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; {SETUP_B}; test Q on B --run {local} --threshold youden")], &[]));
    let local_test = last_test(&open(&db));
    let text = ok(&radose(
        d,
        &db,
        &["-c", &format!("{SETUP}; {SETUP_B}; test Q on B --run {local} --threshold youden --backend queue")],
        &[],
    ));
    assert!(text.contains("the retraining is a work item"), "{text}");
    let queued_test = last_test(&open(&db));
    ok(&radose(d, &db, &["worker", "--parent", &queued_test.to_string()], &[]));
    let store = open(&db);
    assert_eq!(store.run_detail(queued_test).unwrap().summary.status, RunStatus::Finished);
    let (a, b) = (tested(&store, local_test), tested(&store, queued_test));
    assert!(a.iter().any(|l| l.starts_with("metric auc ")), "{a:?}");
    assert_eq!(a, b, "test through a work item differs from the local test");
}

#[test]
fn a_worker_killed_mid_fold_has_its_item_reclaimed_and_the_run_ends_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("runs.db").display().to_string();
    cohort(d, &db);
    let grid = "--folds 2 --grid epochs=4 batch=8 --seed 5";
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {grid}")], &[]));
    let local = last_train(&open(&db));
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {grid} --backend queue --lease 5")], &[]));
    let queued = last_train(&open(&db));
    // This worker dies by SIGKILL after its first epoch, holding the item.
    let marker = d.join("killed").display().to_string();
    let killed = radose(d, &db, &["worker", "--parent", &queued.to_string()], &[("RADOSE_TEST_KILL_ONCE", &marker)]);
    assert!(!killed.status.success() && Path::new(&marker).exists(), "the worker was not killed");
    let store = open(&db);
    let held = store.work_items(queued).unwrap();
    assert_eq!(held[0].status, ItemStatus::Claimed, "{held:?}");
    // The collector trains the other item, waits out the lease, takes the
    // dead worker's item and ends the run.
    ok(&radose(d, &db, &["worker", "--collect", &queued.to_string(), "--poll", "0.5"], &[]));
    let store = open(&db);
    let items = store.work_items(queued).unwrap();
    assert!(items.iter().all(|i| i.status == ItemStatus::Done), "{items:?}");
    assert_eq!(items[0].attempts, 2, "the dead worker's item was claimed again: {items:?}");
    // The dead worker's fold run is not left `running`.
    let folds: Vec<_> = store
        .children_of(store.children_of(queued).unwrap()[0].id)
        .unwrap()
        .into_iter()
        .filter(|r| r.status == RunStatus::Interrupted)
        .collect();
    assert_eq!(folds.len(), 1, "the killed attempt's fold run is interrupted");
    assert_same(&stored(&store, local), &stored(&store, queued), "a reclaimed item");
}

#[test]
fn an_item_that_fails_every_attempt_fails_its_run_and_resume_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("runs.db").display().to_string();
    cohort(d, &db);
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {GRID} --backend queue --attempts 3")], &[]));
    let queued = last_train(&open(&db));
    // The frozen inputs change under the workers: every attempt refuses them.
    let inputs = inputs_file(d, queued);
    let original = std::fs::read(&inputs).unwrap();
    let mut changed = original.clone();
    changed.push(0);
    std::fs::write(&inputs, &changed).unwrap();
    let out = radose(d, &db, &["worker", "--collect", &queued.to_string()], &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("failed after 3 attempts") && text.contains("SHA-256"), "{text}");
    let store = open(&db);
    let d_run = store.run_detail(queued).unwrap();
    assert_eq!(d_run.summary.status, RunStatus::Failed);
    assert!(d_run.error.as_deref().unwrap().contains("work item 1 (configuration 1, fold 1) failed after 3 attempts"));
    assert!(store.work_items(queued).unwrap().iter().all(|i| i.status == ItemStatus::Failed && i.attempts == 3));
    // Fixed, then resumed: only what is missing runs, and the run finishes.
    std::fs::write(&inputs, &original).unwrap();
    let text = ok(&radose(d, &db, &["-c", &format!("runs --resume {queued}")], &[]));
    assert!(text.contains("4 failed items given their attempts back"), "{text}");
    ok(&radose(d, &db, &["worker", "--collect", &queued.to_string()], &[]));
    assert_eq!(open(&db).run_detail(queued).unwrap().summary.status, RunStatus::Finished);
}

/// The frozen inputs file of run `train`.
fn inputs_file(dir: &Path, train: RunId) -> PathBuf {
    let p = dir.join("artifacts").join(format!("run-{train}")).join("inputs.bin");
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

#[test]
fn the_slurm_backend_on_postgresql_stores_exactly_what_local_training_stores() {
    if !cluster_available() {
        return;
    }
    let Some(db) = common::pg_database("slurm_equal") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cohort(d, &db);
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {GRID}")], &[]));
    let local = last_train(&open(&db));
    let text = ok(&radose(
        d,
        &db,
        &["-c", &format!("{SETUP}; train Q on A {GRID} --backend slurm --max-parallel 2 --wait")],
        &[],
    ));
    assert!(text.contains("job array") && text.contains("finished"), "{text}");
    let store = open(&db);
    let slurm = last_train(&store);
    assert_eq!(store.run_detail(slurm).unwrap().summary.status, RunStatus::Finished);
    assert_same(&stored(&store, local), &stored(&store, slurm), "--backend slurm");
    // Each fold run names the Slurm job and task that trained it.
    let config = store.children_of(slurm).unwrap()[0].id;
    let fold = store.children_of(config).unwrap()[0].id;
    let params = store.params(fold).unwrap();
    assert!(params.iter().any(|(k, _)| k == "slurm_array_task_id"), "{params:?}");
    assert!(params.iter().any(|(k, _)| k == "slurm_job_id"), "{params:?}");
    // `test … --backend slurm`: the retraining as one Slurm job.
    ok(&radose(d, &db, &["-c", &format!("{SETUP}; {SETUP_B}; test Q on B --run {local}")], &[]));
    let local_test = last_test(&open(&db));
    let text = ok(&radose(
        d,
        &db,
        &["-c", &format!("{SETUP}; {SETUP_B}; test Q on B --run {local} --backend slurm --wait")],
        &[],
    ));
    assert!(text.contains("submitted: job") && text.contains("finished: test AUC"), "{text}");
    let store = open(&db);
    let slurm_test = last_test(&store);
    assert_eq!(tested(&store, local_test), tested(&store, slurm_test));
}

#[test]
fn a_scancelled_worker_gives_its_item_back_and_the_collector_finishes_the_run() {
    if !cluster_available() {
        return;
    }
    let Some(db) = common::pg_database("slurm_scancel") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cohort(d, &db);
    let grid = "--folds 2 --grid epochs=40 batch=8 --seed 3";
    let text =
        ok(&radose(d, &db, &["-c", &format!("{SETUP}; train Q on A {grid} --backend slurm --max-parallel 1")], &[]));
    assert!(text.contains("submitted: job array"), "{text}");
    let store = open(&db);
    let train = last_train(&store);
    let array = store
        .params(train)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == "slurm_array_job")
        .map(|(_, v)| v.display())
        .unwrap();
    // Once a worker has trained an epoch of its item, cancel the whole array.
    wait_until("a worker to start training", Duration::from_secs(120), || {
        store
            .work_items(train)
            .unwrap()
            .iter()
            .any(|i| i.run.is_some_and(|r| store.latest_step(r, "train_loss").unwrap().is_some()))
    });
    let status = Command::new("scancel").arg(&array).status().unwrap();
    assert!(status.success());
    // The collect job (afterany) trains what is left and ends the run.
    wait_until("the collector to end the run", Duration::from_secs(240), || {
        store.run_detail(train).unwrap().summary.status != RunStatus::Running
    });
    assert_eq!(store.run_detail(train).unwrap().summary.status, RunStatus::Finished);
    let items = store.work_items(train).unwrap();
    assert!(items.iter().all(|i| i.status == ItemStatus::Done), "{items:?}");
    let config = store.children_of(train).unwrap()[0].id;
    let cancelled: Vec<_> =
        store.children_of(config).unwrap().into_iter().filter(|r| r.status == RunStatus::Cancelled).collect();
    assert_eq!(cancelled.len(), 1, "the scancelled attempt's fold run is cancelled");
}

#[test]
fn waiting_on_a_run_whose_collect_job_was_cancelled_ends_with_what_to_do() {
    if !cluster_available() {
        return;
    }
    let Some(db) = common::pg_database("slurm_collect_gone") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cohort(d, &db);
    let grid = "--folds 2 --grid epochs=30 batch=8 --seed 3";
    let waiting = Command::new(common::binary())
        .current_dir(d)
        .args(["--db", &db, "-c", &format!("{SETUP}; train Q on A {grid} --backend slurm --max-parallel 1 --wait")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = open(&db);
    let mut jobs = Vec::new();
    wait_until("the run to be submitted", Duration::from_secs(120), || {
        let Some(train) = store.list_runs(100).unwrap().iter().find(|r| r.kind == RunKind::Train).map(|r| r.id) else {
            return false;
        };
        let params = store.params(train).unwrap();
        jobs = ["slurm_array_job", "slurm_collect_job"]
            .iter()
            .filter_map(|k| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.display()))
            .collect();
        jobs.len() == 2
    });
    assert!(Command::new("scancel").args(&jobs).status().unwrap().success());
    let out = waiting.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("has ended but the run is still open") && text.contains("worker --collect"), "{text}");
    // What the message says to do finishes the run.
    let train = last_train(&store);
    ok(&radose(d, &db, &["worker", "--collect", &train.to_string(), "--poll", "0.5"], &[]));
    assert_eq!(store.run_detail(train).unwrap().summary.status, RunStatus::Finished);
}
