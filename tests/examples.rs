//! Every command's help examples run, each in a fresh session that has the
//! simulated cohorts A and B loaded from `data/sim/{A,B}` in a scratch
//! directory, the pipeline P1 declared and cross-validated once on A (deep-learning
//! commands: the preprocessed cohorts with T1/T1C/T2 radiomics frames;
//! exploration commands and examples that name A.T1: the preprocessed cohort A,
//! its T1 frame, a perturbed-mask extraction Ap.T1 and cv run 4 with feature selection). (Own test binary: it changes the
//! working directory.)

mod common;

use radose::commands::registry;

#[test]
fn every_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let (_, err, outcome) = common::run(
        &mut common::session(),
        "simulate --out data/sim --n-a 40 --n-b 12; simulate --out data/simd --n-a 8 --n-b 6 --dicom",
        false,
    );
    assert_eq!(outcome.exit_code(), 0, "{err}");
    // The deep-learning examples need the PTV, the dose on the MR grid and radiomics frames
    // (`load --features` reattaches the T1 frame extracted here).
    let prepare = "load A0 data/sim/A; load B0 data/sim/B; preprocess A0 --to data/pre/A; preprocess B0 --to data/pre/B; \
                   load A data/pre/A; extract A --sequences T1 --roi ptv --to data/feat/A";
    let (_, err, outcome) = common::run(&mut common::session(), prepare, false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    // `dvh` reads an RT Dose and an RT Structure Set from the DICOM fixtures.
    std::fs::create_dir_all("dicom").unwrap();
    for f in ["rtdose_ct.dcm", "rtstruct_ct.dcm"] {
        std::fs::copy(
            common::root().join("tests/fixtures/dicom_series").join(f),
            std::path::Path::new("dicom").join(f),
        )
        .unwrap();
    }
    // `audit published` compares with the paper's values, kept in the repository.
    std::fs::create_dir_all("experiments").unwrap();
    std::fs::copy(common::root().join("experiments/published.csv"), "experiments/published.csv").unwrap();
    let without: Vec<&str> =
        registry().all().iter().filter(|c| c.signature().examples.is_empty()).map(|c| c.signature().name).collect();
    assert!(without.is_empty(), "commands without an example in their help: {without:?}");
    for cmd in registry().all() {
        for example in cmd.signature().examples {
            // The dashboard reads a database file.
            let mut s = if cmd.signature().name == "ui" {
                radose::open_session(std::path::Path::new("ui-example.db")).unwrap()
            } else {
                common::session()
            };
            let setup = if cmd.signature().category == "deep learning" || example.command.starts_with("model ") {
                "load A data/pre/A; load B data/pre/B; extract A --sequences T1,T1C,T2 --roi ptv --to data/feat/A; \
                 extract B --sequences T1,T1C,T2 --roi ptv --to data/feat/B"
            } else if cmd.signature().category == "exploration" || example.command.contains("A.T1") {
                // Runs 1–4: the cohort, its T1 radiomics, a perturbed-mask extraction, a cv run with selection.
                "load A data/pre/A; extract A --sequences T1 --roi ptv --to data/feat/A; \
                 extract A --sequences T1 --roi ptv --perturb erode:2 --as Ap --to data/feat/Ap; \
                 pipeline P2 = standardize | mannwhitney k=3 | logistic; cv P2 on A.T1 --folds 3"
            } else {
                "load A data/sim/A; load B data/sim/B; pipeline P1 = standardize | logistic; cv P1 on A --folds 3"
            };
            let (_, err, outcome) = common::run(&mut s, setup, false);
            assert_eq!(outcome.exit_code(), 0, "{err}");
            let (_, err, outcome) = common::run(&mut s, example.command, false);
            assert_eq!(outcome.exit_code(), 0, "example `{}` failed:\n{err}", example.command);
        }
    }
}
