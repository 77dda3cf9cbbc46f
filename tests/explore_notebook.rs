//! A statistician's exploration of the simulated cohort — frame verbs,
//! `describe --by`, histograms and box plots, feature correlation, a
//! perturbed-mask extraction and its ICC, SQL — saved as a notebook and
//! replayed identically in a fresh session; the derived frames' lineage is
//! recorded as runs.

mod common;

#[test]
fn an_exploration_notebook_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (_, err, o) = common::run(&mut common::session(), &format!("simulate --out {d}/sim --n-a 16 --n-b 6"), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let mut s = common::session();
    let cells = [
        format!("load A {d}/sim/A"),
        "filter old = A where age > 50 and stage in (III, IV)".to_string(),
        "mutate A log_tumor = ln(tumor_ml)".to_string(),
        "describe A --by nn".to_string(),
        "plot hist A age --by nn --bins 6".to_string(),
        "plot box A log_tumor --by nn".to_string(),
        format!("extract A --sequences T1 --roi rgtv --to {d}/feat"),
        format!("extract A --sequences T1 --roi rgtv --perturb erode:2 --as Ap --to {d}/featp"),
        "corr A.T1 --threshold 0.9".to_string(),
        "plot corr A.T1 --cluster".to_string(),
        "icc A.T1 Ap.T1 --model 2,1".to_string(),
        "sql by_stage = SELECT stage, count(*) AS n, avg(nn) AS rate FROM A GROUP BY stage ORDER BY stage".to_string(),
    ];
    let (_, err, o) = common::run(&mut s, &cells.join("\n"), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let (out, err, o) = common::run(&mut s, &format!("notebook save {d}/explore.md"), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains(&format!("saved {} cells", cells.len())), "{out}");
    let md = std::fs::read_to_string(dir.path().join("explore.md")).unwrap();
    for title in ["A — age by nn", "A — log_tumor by nn", "A.T1 —"] {
        assert!(md.contains(title), "the notebook embeds the figure `{title}`");
    }
    assert!(md.contains("ICC(2,1) of A.T1 vs Ap.T1"), "the ICC table is in the notebook");

    // The lineage of the derived frames is in the run database.
    let (out, err, o) = common::run(&mut s, "runs --where \"kind = derive\"", false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("filter old") && out.contains("mutate A"), "{out}");
    let (out, _, _) = common::run(&mut s, "frames", false);
    assert!(out.contains("filter of A"), "{out}");

    let mut fresh = common::session();
    let (out, err, o) = common::run(&mut fresh, &format!("notebook replay {d}/explore.md"), false);
    assert_eq!(o.exit_code(), 0, "{out}\n{err}");
    assert_eq!(out.matches("identical").count(), cells.len(), "{out}");
}
