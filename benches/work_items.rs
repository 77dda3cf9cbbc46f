//! The work-item overhead of `train --backend slurm|queue`: what one item
//! costs beyond its training — writing it, claiming it, renewing its lease
//! (once per epoch), completing it under the claim with a fold's
//! predictions and metrics — on SQLite (a file) and on PostgreSQL when
//! `RADOSE_TEST_PG` names a server.
//!
//! `cargo bench --bench work_items` (with `RADOSE_TEST_PG=postgres://…` for
//! the server; `.ci/services.sh` starts one). Prints the median and 95th
//! percentile of each step in milliseconds.

use std::path::Path;
use std::time::Instant;

use radose::provenance::Provenance;
use radose::store::{NewRun, Prediction, RunKind, Store};

const ITEMS: usize = 200;

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

fn bench(label: &str, target: &Path) {
    let mut store = Store::open(target, Provenance::gather()).unwrap();
    let parent = store.begin_run(&NewRun::new(RunKind::Train, "bench".into(), Vec::new())).unwrap();
    let spec = "x".repeat(4000); // about a 5-fold item's specification (ids, settings)
    let specs: Vec<String> = (0..ITEMS).map(|_| spec.clone()).collect();
    let t = Instant::now();
    store.add_work_items(parent, &specs, 3, 300.0).unwrap();
    let write_ms = t.elapsed().as_secs_f64() * 1e3 / ITEMS as f64;
    let preds: Vec<Prediction> = (0..30)
        .map(|i| Prediction { fold: Some(0), patient: format!("P{i:03}"), label: (i % 2) as u8, probability: 0.5 })
        .collect();
    let metrics = vec![
        ("auc".to_string(), 0.5, None, Some(0)),
        ("acc".to_string(), 0.5, None, Some(0)),
        ("f1".to_string(), 0.5, None, Some(0)),
    ];
    let (mut claim, mut renew, mut complete) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ITEMS {
        let t = Instant::now();
        let c = store.claim_work_item(Some(parent), "bench").unwrap().unwrap();
        claim.push(t.elapsed().as_secs_f64() * 1e3);
        let run = store.begin_run(&NewRun::new(RunKind::TrainFold, "f".into(), Vec::new()).child_of(parent)).unwrap();
        let t = Instant::now();
        assert!(store.renew_lease(&c).unwrap());
        renew.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        assert!(store.complete_work_item(&c, run, &preds, &metrics).unwrap());
        complete.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    let counts = store.work_counts(parent).unwrap();
    let items = store.work_items(parent).unwrap();
    let survey_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!((counts.done, items.len()), (ITEMS as i64, ITEMS));
    println!("{label}: {ITEMS} items");
    println!("  write        {write_ms:8.3} ms per item (one transaction for all)");
    for (name, v) in [("claim", claim), ("renew lease", renew), ("complete", complete)] {
        let (p50, p95) = quantiles(v);
        println!("  {name:<12} {p50:8.3} ms median, {p95:8.3} ms p95");
    }
    println!("  items+counts {survey_ms:8.3} ms for the whole run (what `run show` and --wait read)");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    bench("SQLite (WAL, one file)", &dir.path().join("bench.db"));
    match std::env::var("RADOSE_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            admin.batch_execute("DROP DATABASE IF EXISTS radose_bench_items WITH (FORCE)").unwrap();
            admin.batch_execute("CREATE DATABASE radose_bench_items").unwrap();
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            bench("PostgreSQL (127.0.0.1)", Path::new(&format!("{base}/radose_bench_items")));
        }
        _ => println!("PostgreSQL: skipped (RADOSE_TEST_PG is not set)"),
    }
}
