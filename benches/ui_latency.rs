//! `radose ui` at scale: page latency (p50/p95 over sequential requests)
//! and the server's memory on a database of 10 000 runs and about 1 000 000
//! metric rows, written through the same `Store` calls `train` makes.
//!
//!   cargo bench --bench ui_latency                 # release build
//!   cargo bench --profile dev --bench ui_latency   # the dev profile (faster to build)
//!
//! The database: 1 250 `train` runs of a grid search, each with one
//! `train-config`, five `train-fold` children (53 epochs × training loss,
//! held-out loss and AUC; fold AUC/ACC/F1) and one `test` run, with 97
//! out-of-fold predictions per `train` run and 40 per `test` run; 50 of them filed under
//! experiment `paper`, the rest under `grid`. The server is the `radose`
//! binary in its own process (`radose --db FILE ui --port 0` is not
//! possible to read back, so a fixed free port is found first), so its
//! memory (VmHWM, VmRSS) is its own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use radose::store::records::{FoldMetrics, TrainConfigParams, TrainFoldParams, TrainParams, curve};
use radose::store::{NewRun, Params, Prediction, RunKind, RunStatus, Store};

const GROUPS: usize = 1250;
const FOLDS: usize = 5;
const EPOCHS: i64 = 53;
const PATIENTS: usize = 97;

fn build(db: &std::path::Path) -> (i64, i64, usize) {
    let mut store = Store::open(db, radose::provenance::Provenance::gather()).unwrap();
    let mut rng = radose::core::rng::Rng::new(5);
    let (mut first_train, mut first_fold, mut metrics) = (0, 0, 0);
    for g in 0..GROUPS {
        let experiment = if g < 50 { "paper" } else { "grid" };
        let params = TrainParams {
            label: format!("M{}", g % 8 + 1),
            model: format!("M{}", g % 8 + 1),
            preset: "T1+Dose".into(),
            model_json: "{}".into(),
            simulated: true,
            cohort: "A".into(),
            inputs: "A.T1".into(),
            folds: FOLDS,
            grid: format!("lr={}", 1e-3 * (1.0 + g as f64 / 100.0)),
            configs: 1,
            device: "cpu".into(),
            balance: "smote".into(),
            patients: PATIENTS,
            resumed_from: None,
            best_config: Some(0),
            best_train_json: None,
            best: Some("lr=0.001".into()),
            nested_folds: None,
        };
        let run = NewRun::new(RunKind::Train, format!("train M{} on A --seed {g}", g % 8 + 1), params.to_params())
            .in_experiment(Some(experiment.into()));
        let train = store.begin_run(&run).unwrap();
        let cfg = TrainConfigParams {
            config: 0,
            lr: 1e-3,
            batch: 16,
            epochs: EPOCHS as usize,
            weight_decay: 1e-5,
            lr_decay: None,
        };
        let mut c = NewRun::new(RunKind::TrainConfig, String::new(), cfg.to_params());
        c.parent = Some(train);
        let config = store.begin_run(&c).unwrap();
        for f in 0..FOLDS {
            let fp = TrainFoldParams {
                config: 0,
                fold: f,
                train: 78,
                test: 19,
                reused_from: None,
                selected: None,
                synthetic: Some(40),
                resumed_at_epoch: None,
            };
            let mut fr = NewRun::new(RunKind::TrainFold, String::new(), fp.to_params());
            fr.parent = Some(config);
            let fold = store.begin_run(&fr).unwrap();
            for e in 1..=EPOCHS {
                let t = e as f64 / EPOCHS as f64;
                store
                    .log_metric(fold, curve::TRAIN_LOSS, 0.7 - 0.3 * t + 0.01 * rng.normal(), Some(e), Some(f as i64))
                    .unwrap();
                store
                    .log_metric(fold, curve::VAL_LOSS, 0.7 - 0.1 * t + 0.03 * rng.normal(), Some(e), Some(f as i64))
                    .unwrap();
                store
                    .log_metric(fold, curve::VAL_AUC, 0.5 + 0.2 * t + 0.05 * rng.normal(), Some(e), Some(f as i64))
                    .unwrap();
                metrics += 3;
            }
            store.log_metrics(fold, Some(f as i64), &FoldMetrics { auc: 0.7, acc: 0.7, f1: 0.5 }).unwrap();
            metrics += 3;
            store.finish_run(fold, RunStatus::Finished, None).unwrap();
            if first_fold == 0 {
                first_fold = fold;
            }
        }
        let preds: Vec<Prediction> = (0..PATIENTS)
            .map(|p| {
                let label = u8::from(p % 3 == 0);
                Prediction {
                    fold: Some((p % FOLDS) as i64),
                    patient: format!("P{p:03}"),
                    label,
                    probability: (0.3 + 0.3 * f64::from(label) + 0.2 * rng.normal()).clamp(0.0, 1.0),
                }
            })
            .collect();
        store.log_predictions(config, &preds).unwrap();
        store.log_predictions(train, &preds).unwrap();
        for (key, value) in [("auc_mean", 0.7), ("auc_sd", 0.05), ("auc_pooled", 0.69), ("acc_pooled", 0.7)] {
            store.log_metric(train, key, value + 0.01 * rng.normal(), None, None).unwrap();
            metrics += 1;
        }
        store.finish_run(config, RunStatus::Finished, None).unwrap();
        store.finish_run(train, RunStatus::Finished, None).unwrap();
        let mut test = NewRun::new(RunKind::Test, format!("test M{} on B", g % 8 + 1), Vec::new());
        test.experiment = Some(experiment.into());
        let t = store.begin_run(&test).unwrap();
        store.log_metric(t, "auc", 0.65, None, None).unwrap();
        let test_preds: Vec<Prediction> = preds[..40].iter().map(|p| Prediction { fold: None, ..p.clone() }).collect();
        store.log_predictions(t, &test_preds).unwrap();
        metrics += 1;
        store.finish_run(t, RunStatus::Finished, None).unwrap();
        if first_train == 0 {
            first_train = train;
        }
    }
    (first_train, first_fold, metrics)
}

fn get(port: u16, target: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let status = String::from_utf8_lossy(&buf[..12.min(buf.len())]).split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.unwrap_or(0), buf.len())
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let started = Instant::now();
    let (train, fold, metrics) = build(&db);
    let runs = GROUPS * (3 + FOLDS);
    println!("database: {runs} runs, {metrics} metric rows, written in {:.1} s", started.elapsed().as_secs_f64());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_radose"))
        .args(["--db", &db.to_string_lossy(), "ui", "--port", &port.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle_kb = status_kb(child.id(), "VmRSS:");
    let pages = [
        ("runs (top level, 200 rows)", "/".to_string()),
        ("runs filtered", "/?where=kind+%3D+train+and+auc_pooled+%3E+0.69&sort=auc_pooled&desc=1".to_string()),
        ("runs JSON, 1000 rows", "/api/runs?limit=1000".to_string()),
        ("run page (train)", format!("/run/{train}")),
        ("learning curves SVG", format!("/run/{train}/figure/curves.svg")),
        ("ROC SVG", format!("/run/{train}/figure/roc.svg")),
        ("run page (fold)", format!("/run/{fold}")),
        ("compare two runs", format!("/compare?runs={train},{}", train + 8)),
        ("experiment (50 models)", "/experiment/paper".to_string()),
    ];
    println!("\n| page | p50 ms | p95 ms | bytes |\n|---|---|---|---|");
    for (name, target) in &pages {
        let _ = get(port, target);
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let (status, n) = get(port, target);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{target}");
            bytes = n;
        }
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!("| {name} | {:.1} | {:.1} | {bytes} |", q(0.5), q(0.95));
    }
    let (hwm, rss) = (status_kb(child.id(), "VmHWM:"), status_kb(child.id(), "VmRSS:"));
    println!(
        "\nserver memory: {:.1} MB at start, {:.1} MB after, peak {:.1} MB",
        idle_kb as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
}
