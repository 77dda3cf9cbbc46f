//! Results do not depend on the thread count: the same small study —
//! simulation, preprocessing, radiomics, a `cv` of a pipeline and a `train`
//! of a +Dose model — run in a rayon pool of 1 and of 2 threads (the pool
//! `--threads` sets for the whole process) stores bit-identical predictions.
//! (Own test binary: each run installs its own pool.) And `--threads` itself.

mod common;

use std::path::Path;

/// Every stored prediction of every run, as (run kind, fold, patient, bits).
fn predictions_with(threads: usize, dir: &Path) -> Vec<(radose::store::RunKind, Option<i64>, String, u64)> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        assert_eq!(radose::threads::count(), threads);
        let d = dir.display();
        std::fs::create_dir_all(dir).unwrap();
        let mut s = radose::open_session(&dir.join("runs.db")).unwrap();
        let script = format!(
            "simulate --out {d}/sim --n-a 30 --n-b 12 --seed 7\n\
             load A0 {d}/sim/A\npreprocess A0 --n4 --to {d}/pre/A\nload A {d}/pre/A\n\
             extract A --sequences T1 --roi ptv --to {d}/feat/A\n\
             pipeline P = standardize | mannwhitney k=10 | smote k=3 ratio=1 | logistic\n\
             cv P on A.T1 --folds 3 --seed 5\n\
             model Q = T1+Dose --select mannwhitney:k=6 --input 17x17x17 --balance weight\n\
             train Q on A --folds 2 --grid epochs=2 batch=4 --seed 3\n"
        );
        let (_, err, outcome) = common::run(&mut s, &script, false);
        assert_eq!(outcome.exit_code(), 0, "{threads} thread(s): {err}");
        let mut all = Vec::new();
        for (run, _) in s.store().query_runs(None, None, true, 1000).unwrap() {
            for p in s.store().predictions(run.id).unwrap() {
                all.push((run.kind, p.fold, p.patient, p.probability.to_bits()));
            }
        }
        all.sort();
        all
    })
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let a = predictions_with(1, &one);
    let b = predictions_with(2, &two);
    for kind in [radose::store::RunKind::Cv, radose::store::RunKind::TrainFold] {
        assert!(a.iter().any(|(k, ..)| *k == kind), "no {kind} predictions stored: {:?}", &a[..a.len().min(3)]);
    }
    assert_eq!(a.len(), b.len());
    let differ: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(5).collect();
    assert!(differ.is_empty(), "predictions differ between 1 and 2 threads: {differ:?}");
}

/// `--threads N` sets the process's thread count; 0 is refused by name.
#[test]
fn the_threads_flag_is_checked() {
    let run = |args: &[&str]| std::process::Command::new(common::binary()).args(args).output().unwrap();
    let ok = run(&["--db", ":memory:", "--threads", "1", "-c", "sleep 0"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let zero = run(&["--db", ":memory:", "--threads", "0", "-c", "sleep 0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--threads must be at least 1"));
}
