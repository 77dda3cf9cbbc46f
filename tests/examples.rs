//! Every command's help examples run, each in a fresh session that has the
//! simulated cohorts A and B loaded from `data/sim/{A,B}` in a scratch
//! directory, the pipeline P1 declared and cross-validated once on A. (Own test binary: it changes the
//! working directory.)

mod common;

use radose::commands::all;

#[test]
fn every_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let (_, err, outcome) = common::run(&mut common::session(), "simulate --out data/sim --n-a 40 --n-b 12", false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let mut count = 0;
    for cmd in all() {
        for example in cmd.signature().examples {
            let mut s = common::session();
            let setup =
                "load A data/sim/A; load B data/sim/B; pipeline P1 = standardize | logistic; cv P1 on A --folds 3";
            let (_, err, outcome) = common::run(&mut s, setup, false);
            assert_eq!(outcome.exit_code(), 0, "{err}");
            let (_, err, outcome) = common::run(&mut s, example.command, false);
            assert_eq!(outcome.exit_code(), 0, "example `{}` failed:\n{err}", example.command);
            count += 1;
        }
    }
    assert!(count >= all().len());
}
