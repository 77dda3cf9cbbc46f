//! The exploration commands end to end on a small simulated cohort: `corr`
//! agrees with the correlation core and keeps what it proposes, `icc` agrees
//! with `core::icc` on the patients both extractions share, reattached
//! feature frames equal the extracted ones, and plots write their files as
//! artifacts of their runs.

mod common;

use radose::core::icc::{IccForm, icc};
use radose::core::learn::correlation::{correlated_pairs, pearson, redundancy_keep};
use radose::data::frame;
use radose::output::{Cell, Output};
use radose::session::Session;
use radose::syntax::{Token, parse};
use radose::workflow::features::feature_input;

fn run_ok(s: &mut Session, text: &str) -> String {
    let (out, err, outcome) = common::run(s, text, false);
    assert_eq!(outcome.exit_code(), 0, "`{text}` failed:\n{err}");
    out
}

fn output_of(s: &mut Session, text: &str) -> Output {
    let st = parse(text, 1).unwrap().remove(0);
    s.execute(&st).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

fn first_table(out: &Output) -> radose::output::Table {
    out.table().cloned().expect("a table")
}

fn token(text: &str) -> Token {
    parse(&format!("x {text}"), 1).unwrap().remove(0).tokens.remove(1)
}

fn extracted(dir: &std::path::Path) -> Session {
    let d = dir.display();
    let mut s = common::session();
    run_ok(&mut s, &format!("simulate --out {d}/sim --n-a 12 --n-b 6"));
    run_ok(&mut s, &format!("load A {d}/sim/A; extract A --sequences T1 --roi rgtv --to {d}/feat"));
    run_ok(&mut s, &format!("extract A --sequences T1 --roi rgtv --perturb dilate:2 --as Ad --to {d}/featd"));
    s
}

#[test]
fn corr_icc_and_reattached_features() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut s = extracted(dir.path());

    // corr: the pairs and the keep-set of the correlation core, and --into keeps them.
    let out = output_of(&mut s, "corr A.T1 --threshold 0.95 --into T1k");
    let table = first_table(&out);
    let input = feature_input(&s, &token("A.T1")).unwrap();
    let r = pearson(&input.x).unwrap().r;
    let pairs = correlated_pairs(&r, 0.95);
    assert!(!pairs.is_empty(), "radiomics features have redundant pairs");
    assert_eq!(table.rows.len(), pairs.len());
    for (row, (i, j, v)) in table.rows.iter().zip(&pairs) {
        assert_eq!(row[0], Cell::from(input.names[*i].as_str()));
        assert_eq!(row[1], Cell::from(input.names[*j].as_str()));
        assert_eq!(row[2], Cell::Float(*v));
    }
    let keep: Vec<String> = redundancy_keep(&r, 0.95).into_iter().map(|k| input.names[k].clone()).collect();
    let kept = frame::column_names(&s.frames()["T1k"].df);
    assert_eq!(kept[2..].to_vec(), keep);
    assert!(keep.len() < input.names.len());
    assert_eq!(s.lineage("T1k").unwrap().parents, vec!["A.T1".to_string()]);

    // icc: each row is core::icc of the two extractions, patient by patient.
    let out = output_of(&mut s, "icc A.T1 Ad.T1 --model 3,1");
    let table = first_table(&out);
    let a = feature_input(&s, &token("A.T1")).unwrap();
    let b = feature_input(&s, &token("Ad.T1")).unwrap();
    assert_eq!(a.ids, b.ids);
    let volume = a.names.iter().position(|n| n == "original_shape_MeshVolume").unwrap();
    let mean = a.names.iter().position(|n| n == "original_firstorder_Mean").unwrap();
    for c in [volume, mean] {
        let name = &a.names[c];
        let ratings: Vec<Vec<f64>> = (0..a.ids.len()).map(|p| vec![a.x.get(p, c), b.x.get(p, c)]).collect();
        let want = icc(&ratings, IccForm::Icc3, 0.95).unwrap();
        let row = table.rows.iter().find(|r| r[0] == Cell::from(name.as_str())).unwrap();
        assert_eq!(row[1..4], [Cell::Float(want.icc), Cell::Float(want.ci_low), Cell::Float(want.ci_high)], "{name}");
    }
    assert!(table.title.as_deref().unwrap_or_default().contains("ICC(3,1) of A.T1 vs Ad.T1 — 12 patients"));

    // Reattaching the extracted frames gives the same frame, with the cohort's roles.
    let mut fresh = common::session();
    run_ok(&mut fresh, &format!("load A {d}/sim/A --features {d}/feat"));
    let again = &fresh.frames()["A.T1"];
    let before = &s.frames()["A.T1"];
    assert_eq!(frame::columns(&again.df), frame::columns(&before.df));
    assert_eq!(again.roles, before.roles);
    assert!(again.origin.as_ref().unwrap().manifest.is_some(), "a reattached frame keeps the cohort's images");
    // One frame by its file, next to its loaded cohort.
    run_ok(&mut fresh, &format!("load A.T1 {d}/feat/A.T1.parquet"));
    assert_eq!(frame::columns(&fresh.frames()["A.T1"].df), frame::columns(&before.df));
    assert_eq!(fresh.frames()["A.T1"].roles, before.roles);
    let mut alone = common::session();
    let (_, err, o) = common::run(&mut alone, &format!("load A.T1 {d}/feat/A.T1.parquet"), false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("load the cohort A first"), "{err}");
    let (_, err, o) = common::run(&mut fresh, &format!("load Z --features {d}/feat"), false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("needs the cohort Z loaded first"), "{err}");
    let (_, err, o) = common::run(&mut fresh, &format!("load B {d}/sim/B --features {d}/feat"), false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("no feature frames B.*.parquet"), "{err}");
}

#[test]
fn plots_write_their_files_as_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut s = extracted(dir.path());
    for (cmd, file) in [
        ("plot hist A age --by nn --bins 5", "hist.svg"),
        ("plot box A tumor_ml --by nn", "box.svg"),
        ("plot violin A tumor_ml --by sex", "violin.png"),
        ("plot scatter A age eqd2_gy --by nn", "scatter.svg"),
        ("plot corr A.T1 --cluster --method spearman", "corr.png"),
    ] {
        let out = run_ok(&mut s, &format!("{cmd} --out {d}/{file}"));
        assert!(out.contains(&format!("wrote {d}/{file}")), "{out}");
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert!(bytes.len() > 1000, "{file}");
    }
    // A report embeds the exploration figures written as SVG.
    let out =
        run_ok(&mut s, &format!("pipeline P = standardize | logistic; cv P on A.T1 --folds 3; report R --out {d}/rep"));
    assert!(out.contains("report"), "{out}");
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    for cmd in ["plot hist A age --by nn --bins 5", "plot box A tumor_ml --by nn", "plot scatter A age eqd2_gy --by nn"]
    {
        assert!(html.contains(cmd), "the report embeds `{cmd}`");
    }
    assert!(!html.contains("plot corr A.T1"), "a PNG-only plot has no SVG to embed");
    let out = run_ok(&mut s, "runs --where \"kind = plot\"");
    assert_eq!(out.matches("│ plot │ finished").count(), 5, "{out}");
    for (text, expect) in [
        ("plot hist A sex", "a numeric column"),
        ("plot hist A agee", "agee"),
        ("plot box A age --by patient_id", "at most 10 groups"),
        ("plot hist A age --out x.txt", ".svg or .png"),
        ("corr A.T1 --threshold 1.5", "between 0 and 1"),
        ("icc A.T1 Ad.T1 --model 4,1", "not an ICC form"),
        ("plot features 2", "reads the selections of a cv or train run"),
        ("describe A --by nope", "nope"),
    ] {
        let (_, err, o) = common::run(&mut s, text, false);
        assert_ne!(o.exit_code(), 0, "{text}");
        assert!(err.contains(expect), "`{text}`: {err}");
    }
}

/// A published selection pinned by name: `features names=FILE` in a
/// pipeline (and a model's `--select`) keeps exactly those features in
/// every fold, and the run records the names, not the file.
#[test]
fn a_pinned_feature_list_is_kept_in_every_fold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut s = extracted(dir.path());
    let list = dir.path().join("published.txt");
    std::fs::write(
        &list,
        "# the paper's T1 features\noriginal_firstorder_Mean\noriginal_shape_Sphericity, original_glcm_Contrast\n",
    )
    .unwrap();
    let out = run_ok(&mut s, &format!("pipeline P = features names={d}/published.txt | standardize | logistic"));
    assert!(
        out.contains("features keep=original_firstorder_Mean,original_shape_Sphericity,original_glcm_Contrast"),
        "{out}"
    );
    std::fs::remove_file(&list).unwrap();
    run_ok(&mut s, "cv P on A.T1 --folds 3");
    let cv = s.store().query_runs(None, None, false, 100).unwrap();
    let folds: Vec<i64> =
        cv.iter().filter(|(r, _)| r.kind == radose::store::RunKind::CvFold).map(|(r, _)| r.id).collect();
    assert_eq!(folds.len(), 3);
    for f in folds {
        let d = s.store().run_detail(f).unwrap();
        let selected = d.params.iter().find(|(k, _)| k == "selected").unwrap().1.display();
        assert_eq!(
            selected, r#"["original_firstorder_Mean","original_shape_Sphericity","original_glcm_Contrast"]"#,
            "fold {f}"
        );
    }
    // A name the frame does not have is an error naming it.
    let (_, err, o) =
        common::run(&mut s, "pipeline Q = features keep=nosuch | logistic; cv Q on A.T1 --folds 3", false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("no feature `nosuch`"), "{err}");
    let (_, err, o) = common::run(&mut s, &format!("pipeline R = features names={d}/missing.txt | logistic"), false);
    assert_ne!(o.exit_code(), 0);
    assert!(err.contains("missing.txt"), "{err}");
}
