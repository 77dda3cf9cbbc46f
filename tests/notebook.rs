//! Notebooks: a short session (load, describe, table1, a cross-validation
//! and its ROC figure, an error) saved as Markdown and HTML; the Markdown
//! against a golden file; both replayed identically; a changed input makes
//! the replay name the cells that differ.

mod common;

use std::path::Path;

fn copy_cohort(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["clinical.csv", "cohort.toml"] {
        std::fs::copy(common::root().join("tests/fixtures/cohort").join(f), to.join(f)).unwrap();
    }
    // Every feature present, so the cross-validation can use them all.
    let csv = to.join("clinical.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let filled: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("T011,") {
                l.split(',').map(|c| if c.is_empty() { "33.3" } else { c }).collect::<Vec<_>>().join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&csv, filled.join("\n") + "\n").unwrap();
}

/// Lines that legitimately vary (clock, commit, durations) masked.
fn stable(md: &str, dir: &Path) -> String {
    md.lines()
        .map(|l| {
            if l.starts_with("| written") || l.starts_with("| git commit") || l.starts_with("| program") {
                "| (varies) |".to_string()
            } else if l.starts_with('_') && l.ends_with('_') {
                "_(duration)_".to_string()
            } else {
                l.replace(&dir.display().to_string(), "TMP")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn save_replay_and_detect_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_cohort(&d.join("cohort"));
    let mut s = common::session();
    let script = format!(
        "load T {0}/cohort; describe T; table1 T --by sex; nosuchcommand; pipeline P = standardize | logistic; \
         cv P on T --folds 3 --seed 3; plot roc 4",
        d.display()
    );
    let (_, _, o) = common::run(&mut s, &script, true);
    assert_eq!(o.exit_code(), 1, "the error cell makes the script fail but the session goes on");
    let (out, err, o) =
        common::run(&mut s, &format!("notebook save {0}/nb.md; notebook save {0}/nb.html", d.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("saved 7 cells"), "{out}");
    let md = std::fs::read_to_string(d.join("nb.md")).unwrap();
    common::golden("notebook.md", &stable(&md, d));
    assert!(md.contains("![T — cross-validation ROC (run 4)](nb_files/cell7-1.svg)"));
    assert!(d.join("nb_files/cell7-1.svg").exists());
    let html = std::fs::read_to_string(d.join("nb.html")).unwrap();
    common::well_formed(&html).unwrap();
    assert!(html.contains("<table>") && html.contains("<svg") && html.contains("class=\"error\""));

    // Replays in a fresh session: identical, cell by cell.
    for f in ["nb.md", "nb.html"] {
        let mut fresh = common::session();
        let (out, err, o) = common::run(&mut fresh, &format!("notebook replay {}/{f}", d.display()), false);
        assert_eq!(o.exit_code(), 0, "{f}: {err}");
        assert_eq!(out.matches("identical").count(), 6, "{f}: {out}");
        assert!(out.contains("not replayed"), "the unknown command is shown, not rerun: {out}");
    }
    // Only the good cells.
    let (_, err, o) =
        common::run(&mut s, &format!("notebook save {}/ok.md --only-ok --from 2 --to 3", d.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let ok = std::fs::read_to_string(d.join("ok.md")).unwrap();
    assert!(ok.contains("## [2] `describe T`") && !ok.contains("nosuchcommand") && !ok.contains("## [1]"));

    // Change one patient's age: describe and table1 differ, and say where.
    let csv = d.join("cohort/clinical.csv");
    let text = std::fs::read_to_string(&csv).unwrap().replacen("T001,47,", "T001,87,", 1);
    std::fs::write(&csv, text).unwrap();
    let mut fresh = common::session();
    let (_, err, o) = common::run(&mut fresh, &format!("notebook replay {}/nb.md", d.display()), false);
    assert_eq!(o.exit_code(), 1);
    assert!(
        err.contains("differ") && err.contains("[2] `describe T`") && err.contains("[3] `table1 T --by sex`"),
        "{err}"
    );
    assert!(err.contains("then,") && err.contains("now"), "{err}");
}
