//! `extract --perturb`: the second extraction of a robustness (ICC) study,
//! from each mask eroded, dilated or shifted on its own grid. Shape features
//! move the expected way, first-order features stay close, the perturbed
//! run records its perturbation and never reads the original's cache, and
//! bad specifications are named.

mod common;

use radose::session::Session;
use radose::store::RunKind;
use radose::store::records::{ExtractParams, Params};

/// A scratch folder with a tiny simulated cohort, loaded as `A`.
fn cohort() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::session();
    let text = format!("simulate --out {0}/sim --n-a 6 --n-b 6; load A {0}/sim/A", dir.path().display());
    let (_, err, o) = common::run(&mut s, &text, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    (dir, s)
}

/// Runs `text`, which must succeed; returns what it printed.
fn ok(s: &mut Session, text: &str) -> String {
    let (out, err, o) = common::run(s, text, false);
    assert_eq!(o.exit_code(), 0, "`{text}` failed:\n{err}");
    out
}

/// Runs `text`, which must fail; returns its error output.
fn fails(s: &mut Session, text: &str) -> String {
    let (_, err, o) = common::run(s, text, true);
    assert_ne!(o.exit_code(), 0, "`{text}` should fail");
    err
}

/// The patients of a frame and their values of `feature`.
fn feature(s: &Session, frame: &str, feature: &str) -> Vec<(String, f64)> {
    let f = s.frames().get(frame).unwrap_or_else(|| panic!("no frame {frame}"));
    let ids = radose::data::frame::column(&f.df, "patient_id").unwrap().values.as_text();
    let values = radose::data::frame::column(&f.df, feature).unwrap().values.as_f64().unwrap();
    ids.into_iter().zip(values).map(|(id, v)| (id.unwrap(), v.unwrap())).collect()
}

/// The recorded parameters of the extract runs, oldest first.
fn extract_runs(s: &Session) -> Vec<ExtractParams> {
    let store = s.store();
    let mut runs = store.list_runs(100).unwrap();
    runs.retain(|r| r.kind == RunKind::Extract);
    runs.reverse();
    runs.iter().map(|r| ExtractParams::from_params(r.id, &store.params(r.id).unwrap()).unwrap()).collect()
}

#[test]
fn eroding_and_dilating_the_masks_move_shape_features_and_keep_first_order_close() {
    let (dir, mut s) = cohort();
    let feat = dir.path().join("feat");
    let extract = |extra: &str| format!("extract A --sequences T1 --roi rgtv --to {} {extra}", feat.display());
    ok(&mut s, &extract(""));
    let eroded = ok(&mut s, &extract("--perturb erode:2 --as Ae"));
    ok(&mut s, &extract("--perturb dilate:2 --as Ad"));

    // The same patients, in the same order, in every frame.
    let volume = |frame: &str| feature(&s, frame, "original_shape_MeshVolume");
    let (original, smaller, larger) = (volume("A.T1"), volume("Ae.T1"), volume("Ad.T1"));
    assert_eq!(original.len(), 6);
    for other in [&smaller, &larger] {
        let ids = |f: &[(String, f64)]| f.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&original), ids(other));
    }
    for ((id, v), ((_, e), (_, d))) in original.iter().zip(smaller.iter().zip(&larger)) {
        assert!(e < v && v < d, "{id}: MeshVolume eroded {e}, original {v}, dilated {d}");
    }
    // First-order statistics of the tumour's intensities stay close.
    for name in ["original_firstorder_Mean", "original_firstorder_Median"] {
        let (a, e, d) = (feature(&s, "A.T1", name), feature(&s, "Ae.T1", name), feature(&s, "Ad.T1", name));
        for ((id, v), ((_, ve), (_, vd))) in a.iter().zip(e.iter().zip(&d)) {
            for p in [ve, vd] {
                assert!((p - v).abs() <= 0.10 * v.abs(), "{id} {name}: original {v}, perturbed {p}");
            }
        }
    }

    // The table says what was applied and how the masks changed.
    assert!(eroded.contains("perturbed (erode:2): each rgtv mask eroded by 2 mm"), "{eroded}");
    assert!(eroded.contains("voxels gained and"), "{eroded}");
    assert!(eroded.contains("0.0 voxels gained"), "erosion gains nothing: {eroded}");

    // The runs record the perturbation, and it is part of the cache key.
    let runs = extract_runs(&s);
    let perturbs: Vec<Option<&str>> = runs.iter().map(|r| r.perturb.as_deref()).collect();
    assert_eq!(perturbs, [None, Some("erode:2"), Some("dilate:2")]);
    assert!(runs[0].key != runs[1].key && runs[1].key != runs[2].key);
}

#[test]
fn perturbed_and_original_extractions_never_share_cached_features() {
    let (dir, mut s) = cohort();
    let feat = dir.path().join("feat");
    // All three write their cache entries to the same files.
    let extract = |extra: &str| {
        format!("extract A --sequences T1 --roi rgtv --to {0} {extra} --out {0}/table.csv", feat.display())
    };
    let table = || std::fs::read_to_string(feat.join("table.csv")).unwrap();
    ok(&mut s, &extract(""));
    ok(&mut s, &extract("--perturb erode:2 --as Ae"));
    assert!(table().contains("T1,6,107,0,0,Ae.T1"), "nothing from the original's cache:\n{}", table());
    let first = feature(&s, "Ae.T1", "original_shape_MeshVolume");
    // Again: every image from the (perturbed) cache, with the same values
    // and the same account of the masks.
    let again = ok(&mut s, &extract("--perturb erode:2 --as Ae"));
    assert!(table().contains("T1,6,107,6,0,Ae.T1"), "{}", table());
    assert_eq!(feature(&s, "Ae.T1", "original_shape_MeshVolume"), first);
    assert!(again.contains("perturbed (erode:2)") && again.contains("lost of"), "{again}");
    // And the original is computed afresh, not read from the eroded entries.
    ok(&mut s, &extract(""));
    assert!(table().contains("T1,6,107,0,0,A.T1"), "{}", table());
    assert!(feature(&s, "A.T1", "original_shape_MeshVolume") != first);
}

#[test]
fn a_shift_moves_the_mask_by_whole_voxels_and_keeps_its_shape() {
    let (_dir, mut s) = cohort();
    ok(&mut s, "extract A --sequences T1 --roi rgtv");
    let shifted = ok(&mut s, "extract A --sequences T1 --roi rgtv --perturb shift:2,0,-1 --as As");
    assert!(shifted.contains("perturbed (shift:2,0,-1): each rgtv mask shifted by (2, 0, -1) mm (LPS)"), "{shifted}");
    assert!(shifted.contains("rounded per axis to whole voxels: ("), "{shifted}");
    // Moved, not reshaped: the same volume (no tumour reaches the grid's edge).
    let a = feature(&s, "A.T1", "original_shape_MeshVolume");
    let b = feature(&s, "As.T1", "original_shape_MeshVolume");
    for ((id, v), (_, w)) in a.iter().zip(&b) {
        assert!((v - w).abs() <= 1e-9 * v.abs(), "{id}: {v} → {w}");
    }
    let runs = extract_runs(&s);
    assert_eq!(runs.last().unwrap().perturb.as_deref(), Some("shift:2,0,-1"));
}

#[test]
fn bad_perturbations_are_errors_naming_the_token() {
    let (_dir, mut s) = cohort();
    let extract = |extra: &str| format!("extract A --sequences T1 --roi rgtv {extra}");
    for (extra, token, says) in [
        (
            "--perturb wobble:2 --as Ap",
            "wobble:2",
            "`wobble` is not a perturbation; use dilate:MM, erode:MM or shift:X,Y,Z",
        ),
        ("--perturb erode:abc --as Ap", "erode:abc", "`abc` is not a number of millimetres"),
        ("--perturb erode --as Ap", "erode", "expected a perturbation and its amount"),
        ("--perturb dilate:0 --as Ap", "dilate:0", "dilate takes 0 < MM ≤ 100"),
        ("--perturb shift:1,2 --as Ap", "shift:1,2", "shift takes three offsets X,Y,Z"),
        ("--perturb shift:0,0,0 --as Ap", "shift:0,0,0", "moves nothing"),
        ("--perturb erode:1", "erode:1", "needs --as NAME"),
        ("--perturb erode:1 --as A", "A", "a name of their own"),
        ("--perturb erode:1 --as 9p", "9p", "a frame name"),
        ("--perturb erode:50 --as Ap", "erode:50", "an erosion of 50 mm empties the mask"),
        // The simulated grid is 2 × 2 × 2.5 mm: 1 mm moves no voxel centre.
        ("--perturb erode:1 --as Ap", "erode:1", "erode:1 leaves the mask unchanged"),
    ] {
        let err = fails(&mut s, &extract(extra));
        assert!(err.contains(&format!("`{token}`")) && err.contains(says), "{extra}:\n{err}");
    }
    assert!(s.frames().keys().all(|name| !name.starts_with("Ap")), "{:?}", s.frames().keys());
}
