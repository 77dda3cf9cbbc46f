//! Every command's help examples run, each in a fresh session that has
//! cohorts A and B loaded from `data/sim/{A,B}` in a scratch directory.
//! (Own test binary: it changes the working directory.)

mod common;

use std::path::Path;

use radose::commands::all;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn every_example_runs() {
    let fixture = common::root().join("tests/fixtures/cohort");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture, &dir.path().join("data/sim/A"));
    copy_dir(&fixture, &dir.path().join("data/sim/B"));
    std::env::set_current_dir(dir.path()).unwrap();
    let mut count = 0;
    for cmd in all() {
        for example in cmd.signature().examples {
            let mut s = common::session();
            let (_, err, outcome) = common::run(&mut s, "load A data/sim/A; load B data/sim/B", false);
            assert_eq!(outcome.exit_code(), 0, "{err}");
            let (_, err, outcome) = common::run(&mut s, example.command, false);
            assert_eq!(outcome.exit_code(), 0, "example `{}` failed:\n{err}", example.command);
            count += 1;
        }
    }
    assert!(count >= all().len());
}
