//! The run store on both of its databases: a SQLite file, and PostgreSQL
//! when `RADOSE_TEST_PG` names a server (CI starts one; `RADOSE_REQUIRE_PG=1`
//! makes its absence a failure). Each test runs the same operations on
//! every store and checks that they read back the same.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};

use radose::provenance::Provenance;
use radose::store::query::{self, Field};
use radose::store::work::ItemStatus;
use radose::store::{NewRun, ParamValue, Prediction, RunKind, RunStatus, Store};

fn open(target: &Path) -> Store {
    Store::open(target, Provenance::gather()).unwrap_or_else(|e| panic!("open {}: {e}", target.display()))
}

/// Records a small history and reads everything back as lines of text
/// (ids, values, orders), which must be the same on every database.
fn exercise(store: &mut Store) -> Vec<String> {
    let mut seen = Vec::new();
    let mut run = |kind, command: &str, params: Vec<(&str, ParamValue)>, seed, experiment: Option<&str>| {
        let params = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let new =
            NewRun::new(kind, command.into(), params).with_seed(seed).in_experiment(experiment.map(str::to_string));
        store.begin_run(&new).unwrap()
    };
    let lrs = [0.1 + 0.2, 1e-3, 3e-4, 12.0];
    let mut ids = Vec::new();
    for (i, lr) in lrs.iter().enumerate() {
        let id = run(
            RunKind::Cv,
            &format!("cv M{i} on X"),
            vec![
                ("lr", ParamValue::Float(*lr)),
                ("epochs", ParamValue::Int(i64::MAX - i as i64)),
                ("model", ParamValue::Text(format!("M{i}"))),
                ("balanced", ParamValue::Bool(i % 2 == 0)),
            ],
            Some(i as u64 * 7),
            Some(if i < 2 { "paper" } else { "ablation" }),
        );
        ids.push(id);
    }
    let load = run(RunKind::Load, "load A a.csv", Vec::new(), None, None);
    let mut children = Vec::new();
    for fold in 1..=2 {
        children.push(
            store.begin_run(&NewRun::new(RunKind::Train, format!("fold {fold}"), Vec::new()).child_of(ids[0])).unwrap(),
        );
    }
    for (i, id) in ids.iter().enumerate() {
        store.log_metric(*id, "auc_pooled", 0.55 + 0.1 * i as f64, None, None).unwrap();
        store.log_metric(*id, "auc", 0.5 + 0.05 * i as f64, None, Some(1)).unwrap();
        for epoch in 1..=3 {
            store.log_metric(*id, "val_loss", 1.0 / f64::from(epoch), Some(i64::from(epoch)), Some(1)).unwrap();
        }
    }
    store.log_incidental_metric(ids[1], "seconds", 2.5).unwrap();
    store.log_param(ids[1], "lr", &ParamValue::Float(5e-4)).unwrap(); // replaced
    let d1 = store.record_dataset(load, "A", "a.csv", "abc", None).unwrap();
    let d2 = store.record_dataset(ids[0], "A", "a.csv", "abc", Some(40)).unwrap();
    assert_eq!(d1, d2, "one dataset record per content");
    store.link_dataset(ids[1], d1).unwrap();
    store.link_dataset(ids[1], d1).unwrap(); // twice is once
    store
        .log_predictions(
            ids[0],
            &[
                Prediction { fold: Some(1), patient: "P'1".into(), label: 1, probability: 0.25 + 1e-17 },
                Prediction { fold: None, patient: "P2".into(), label: 0, probability: 1.0 / 3.0 },
            ],
        )
        .unwrap();
    store.log_artifact(ids[0], "art/fold_1/w.bin", "h1").unwrap();
    store.log_artifact(ids[0], "art/fold%1/w.bin", "h2").unwrap();
    store.log_artifact(ids[0], "art/fold_1x/w.bin", "h3").unwrap();
    seen.push(format!("forgot {}", store.forget_artifacts_under(ids[0], "art/fold_1/").unwrap()));
    store.finish_run(ids[0], RunStatus::Finished, None).unwrap();
    store.finish_run(ids[1], RunStatus::Failed, Some("it's broken")).unwrap();
    store.finish_run(ids[1], RunStatus::Finished, None).unwrap(); // closed runs keep their status

    for id in ids.iter().chain([&load]).chain(children.iter()) {
        let d = store.run_detail(*id).unwrap();
        seen.push(format!(
            "run {} parent {:?} {:?} {:?} `{}` exp {:?} seed {:?} error {:?} children {:?}",
            d.summary.id,
            d.summary.parent,
            d.summary.kind,
            d.summary.status,
            d.summary.command,
            d.experiment,
            d.seed,
            d.error,
            d.children
        ));
        seen.push(format!("  params {:?}", d.params));
        for m in &d.metrics {
            seen.push(format!(
                "  metric {} {:?} step {:?} fold {:?} incidental {}",
                m.key, m.value, m.step, m.fold, m.incidental
            ));
        }
        for ds in &d.datasets {
            seen.push(format!("  dataset {} {} {} {} {:?}", ds.id, ds.name, ds.path, ds.sha256, ds.rows));
        }
        seen.push(format!("  predictions {} artifacts {:?}", d.predictions, d.artifacts));
    }
    seen.push(format!("predictions {:?}", store.predictions(ids[0]).unwrap()));
    seen.push(format!("overview {:?}", store.run_overview(&ids).unwrap()));
    seen.push(format!("experiments {:?}", store.experiment_counts().unwrap()));
    seen.push(format!("kinds {:?}", store.kind_counts().unwrap()));
    seen.push(format!("latest {:?}", store.latest_step(ids[2], "val_loss").unwrap()));
    seen.push(format!("children {:?}", store.children_of(ids[0]).unwrap().iter().map(|c| c.id).collect::<Vec<_>>()));
    seen.push(format!(
        "with dataset {:?}",
        store.runs_with_dataset(d1).unwrap().iter().map(|c| c.id).collect::<Vec<_>>()
    ));
    seen.push(format!(
        "count {} list {:?}",
        store.count_runs().unwrap(),
        store.list_runs(3).unwrap().iter().map(|r| r.id).collect::<Vec<_>>()
    ));
    seen.push(format!("integrity {}", store.integrity_check().unwrap()));

    // The filter language and sorting: numbers, texts, both in one list.
    let filters = [
        "lr < 0.01",
        "lr >= 0.3",
        "param.lr = 12",
        "model in (M1, M3)",
        "model not in (M1, 'M3')",
        "auc > 0.52 and kind = cv",
        "not seed in (0, 7)",
        "seed in (14, 'x')",
        "experiment = paper or status = failed",
        "epochs > 1000",
        "balanced = 1",
        "val_loss < 1",
        "command = 'cv M2 on X'",
        "id > 2 and parent = 1",
    ];
    for text in filters {
        let e = query::parse(text).unwrap();
        let hits = store.query_runs(Some(&e), None, false, 100).unwrap();
        seen.push(format!("where {text}: {:?}", hits.iter().map(|(r, _)| r.id).collect::<Vec<_>>()));
    }
    for (key, desc) in
        [("lr", false), ("lr", true), ("model", false), ("auc_pooled", true), ("seed", false), ("kind", false)]
    {
        let f: Field = query::parse_field(key).unwrap();
        let hits = store.query_runs(None, Some(&f), desc, 100).unwrap();
        let order: Vec<_> = hits.iter().map(|(r, v)| (r.id, v.as_ref().map(|v| normal_number(v)))).collect();
        seen.push(format!("sort {key} desc {desc}: {order:?}"));
    }
    seen
}

/// A sort value as a number when it is one (the two databases write a
/// number as text with different digits), else as it is.
fn normal_number(v: &str) -> String {
    v.parse::<f64>().map_or_else(|_| v.to_string(), |x| format!("{x:e}"))
}

#[test]
fn every_store_reads_back_what_it_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut transcripts = Vec::new();
    for target in common::store_targets(dir.path(), "readback") {
        let mut store = open(&target);
        let seen = exercise(&mut store);
        transcripts.push((target, seen));
    }
    let (_, first) = &transcripts[0];
    let text = first.join("\n");
    // What SQLite gives is right in itself…
    assert!(text.contains("forgot 1"), "{text}");
    assert!(text.contains("Float(0.30000000000000004)"), "{text}");
    assert!(text.contains("Int(9223372036854775807)"), "{text}");
    assert!(text.contains("(\"lr\", Float(0.0005))"), "the replaced parameter: {text}");
    assert!(text.contains("error Some(\"it's broken\")"), "{text}");
    assert!(text.contains("where lr < 0.01: [2, 3]"), "{text}");
    assert!(text.contains("where model in (M1, M3): [2, 4]"), "{text}");
    assert!(text.contains("where not seed in (0, 7): [3, 4]"), "{text}");
    assert!(text.contains("sort lr desc false: [(3, Some(\"3e-4\")), (2, Some(\"5e-4\")), (1, Some(\"3.0000000000000004e-1\")), (4, Some(\"1.2e1\"))"), "{text}");
    // … and every other store gives the same.
    for (target, seen) in &transcripts[1..] {
        for (a, b) in first.iter().zip(seen) {
            assert_eq!(a, b, "{} differs from SQLite", target.display());
        }
        assert_eq!(first.len(), seen.len());
    }
}

#[test]
fn many_processes_opening_a_new_store_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "migrate_race") {
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (t, b) = (target.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    let mut s = open(&t);
                    s.begin_run(&NewRun::new(RunKind::Sleep, "x".into(), Vec::new())).unwrap();
                    s.schema_version().unwrap()
                })
            })
            .collect();
        let versions: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(versions.iter().all(|v| *v == versions[0] && *v >= 3), "{versions:?}");
        assert_eq!(open(&target).count_runs().unwrap(), 8);
    }
}

#[test]
fn a_read_only_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "read_only") {
        open(&target);
        let mut ro = Store::open_read_only(&target, Provenance::gather()).unwrap();
        assert_eq!(ro.count_runs().unwrap(), 0);
        let e = ro.begin_run(&NewRun::new(RunKind::Sleep, "x".into(), Vec::new())).unwrap_err();
        assert!(e.to_string().contains("read"), "{e}");
    }
}

#[test]
fn a_server_url_is_shown_without_its_password() {
    assert_eq!(
        radose::store::redact_url("postgres://ann:s3cret@db.example:5432/runs"),
        "postgres://ann:***@db.example:5432/runs"
    );
    assert_eq!(radose::store::redact_url("postgres://ann@db:5432/runs"), "postgres://ann@db:5432/runs");
    assert!(radose::store::is_server_url("postgresql://x/y") && !radose::store::is_server_url("runs.db"));
    // Run files: beside a SQLite file, or in a folder named after the database.
    let folder = |db: &str| radose::store::artifact_folder(Path::new(db));
    assert_eq!(folder("postgres://ann:pw@db:5432/study"), Path::new("artifacts/study"));
    assert_eq!(folder("postgresql://db/st?sslmode=disable"), Path::new("artifacts/st"));
    assert_eq!(folder("x/runs.db"), Path::new("x/artifacts"));
    assert_eq!(folder("runs.db"), Path::new("artifacts"));
    // A server that is not there: a clear error naming it, no password.
    let e = Store::open(Path::new("postgres://ann:pw@127.0.0.1:1/none"), Provenance::gather()).err().unwrap();
    let text = e.to_string();
    assert!(text.contains("postgres://ann:***@127.0.0.1:1/none") && !text.contains("pw@"), "{text}");
}

fn parent_run(store: &mut Store) -> i64 {
    store.begin_run(&NewRun::new(RunKind::Train, "train".into(), Vec::new())).unwrap()
}

#[test]
fn sixteen_workers_racing_over_forty_items_claim_each_once() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "race") {
        let mut store = open(&target);
        let parent = parent_run(&mut store);
        let specs: Vec<String> = (0..40).map(|i| format!("{{\"fold\":{i}}}")).collect();
        store.add_work_items(parent, &specs, 3, 60.0).unwrap();
        let barrier = Arc::new(Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|w| {
                let (t, b) = (target.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut s = open(&t);
                    b.wait();
                    let mut mine = Vec::new();
                    while let Some(claim) = s.claim_work_item(Some(parent), &format!("w{w}")).unwrap() {
                        let run = s
                            .begin_run(
                                &NewRun::new(RunKind::Train, format!("item {}", claim.position), Vec::new())
                                    .child_of(parent),
                            )
                            .unwrap();
                        assert!(s.set_work_item_run(&claim, run).unwrap());
                        assert!(s.renew_lease(&claim).unwrap());
                        let p = Prediction {
                            fold: Some(claim.position),
                            patient: format!("P{}", claim.position),
                            label: 1,
                            probability: 0.5,
                        };
                        assert!(
                            s.complete_work_item(&claim, run, &[p], &[("auc".into(), 0.5, None, Some(claim.position))])
                                .unwrap()
                        );
                        mine.push(claim.position);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, (0..40).collect::<Vec<_>>(), "{}: each item claimed exactly once", target.display());
        let items = store.work_items(parent).unwrap();
        assert!(items.iter().all(|i| i.status == ItemStatus::Done && i.attempts == 1 && i.run.is_some()));
        let counts = store.work_counts(parent).unwrap();
        assert_eq!((counts.done, counts.total()), (40, 40));
        assert!(counts.settled());
    }
}

#[test]
fn an_expired_lease_is_reclaimed_and_the_worker_that_lost_it_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "lease") {
        let mut store = open(&target);
        let parent = parent_run(&mut store);
        store.add_work_items(parent, &["a".to_string()], 3, 60.0).unwrap();
        let first = store.claim_work_item(Some(parent), "node1").unwrap().unwrap();
        assert_eq!(first.attempt, 1);
        assert!(store.claim_work_item(Some(parent), "node2").unwrap().is_none(), "held under its lease");
        store.expire_lease_now(first.item).unwrap();
        let second = store.claim_work_item(Some(parent), "node2").unwrap().unwrap();
        assert_eq!((second.item, second.attempt), (first.item, 2));
        // The first worker finds out at its next renewal, and cannot write.
        assert!(!store.renew_lease(&first).unwrap());
        let loser = store.begin_run(&NewRun::new(RunKind::Train, "lost".into(), Vec::new()).child_of(parent)).unwrap();
        let p = Prediction { fold: Some(0), patient: "P".into(), label: 0, probability: 0.1 };
        assert!(!store.complete_work_item(&first, loser, &[p.clone()], &[("auc".into(), 0.9, None, Some(0))]).unwrap());
        assert_eq!(store.run_detail(loser).unwrap().predictions, 0);
        assert!(store.run_detail(loser).unwrap().metrics.is_empty());
        assert!(!store.release_work_item(&first).unwrap());
        assert_eq!(store.fail_work_item(&first, "late").unwrap(), None);
        let winner = store.begin_run(&NewRun::new(RunKind::Train, "won".into(), Vec::new()).child_of(parent)).unwrap();
        assert!(store.complete_work_item(&second, winner, &[p], &[]).unwrap());
        let items = store.work_items(parent).unwrap();
        assert_eq!(
            (items[0].status, items[0].run, items[0].worker.as_deref()),
            (ItemStatus::Done, Some(winner), Some("node2"))
        );
    }
}

#[test]
fn a_released_item_is_taken_again_without_counting_the_attempt() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "release") {
        let mut store = open(&target);
        let parent = parent_run(&mut store);
        store.add_work_items(parent, &["a".to_string(), "b".to_string()], 3, 60.0).unwrap();
        let c = store.claim_work_item(Some(parent), "w").unwrap().unwrap();
        assert_eq!(c.position, 0);
        assert!(store.release_work_item(&c).unwrap());
        let again = store.claim_work_item(Some(parent), "w").unwrap().unwrap();
        assert_eq!((again.position, again.attempt), (0, 1));
        assert_ne!(again.token, c.token);
    }
}

#[test]
fn an_item_that_fails_its_last_attempt_is_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for target in common::store_targets(dir.path(), "fail") {
        let mut store = open(&target);
        let parent = parent_run(&mut store);
        store.add_work_items(parent, &["a".to_string(), "b".to_string()], 3, 60.0).unwrap();
        for attempt in 1..=3 {
            let c = store.claim_work_item(Some(parent), "w").unwrap().unwrap();
            assert_eq!((c.position, c.attempt), (0, attempt));
            let status = store.fail_work_item(&c, &format!("out of memory ({attempt})")).unwrap();
            let want = if attempt < 3 { ItemStatus::Pending } else { ItemStatus::Failed };
            assert_eq!(status, Some(want));
        }
        // Item b: its worker dies on every attempt (leases run out).
        for attempt in 1..=3 {
            let c = store.claim_work_item(Some(parent), "w").unwrap().unwrap();
            assert_eq!((c.position, c.attempt), (1, attempt));
            store.expire_lease_now(c.item).unwrap();
        }
        assert!(store.claim_work_item(Some(parent), "w").unwrap().is_none());
        let items = store.work_items(parent).unwrap();
        assert_eq!(items[0].status, ItemStatus::Failed);
        assert_eq!(items[0].error.as_deref(), Some("out of memory (3)"));
        assert_eq!(items[1].status, ItemStatus::Failed);
        assert!(items[1].error.as_deref().unwrap().contains("lease ran out on its last attempt (3 of 3)"), "{items:?}");
        let counts = store.work_counts(parent).unwrap();
        assert_eq!((counts.failed, counts.settled()), (2, true));
        assert_eq!(store.retry_failed_work_items(parent).unwrap(), 2);
        assert_eq!(store.claim_work_item(Some(parent), "w").unwrap().unwrap().attempt, 1);
    }
}
