//! Evaluation metrics against scikit-learn 1.9.1 and statsmodels 0.15.0
//! (tests/fixtures/evaluation_reference.json, made by
//! tests/fixtures/gen/evaluation_fixtures.py).

mod common;

use radose::core::learn::metrics::{at_threshold, brier, calibration, reliability, youden_threshold};

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{what}: {a} vs {b}");
}

#[test]
fn metrics_match_sklearn_and_statsmodels() {
    let text = std::fs::read_to_string(common::root().join("tests/fixtures/evaluation_reference.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for (i, c) in cases.iter().enumerate() {
        let y: Vec<u8> = c["y"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        let p: Vec<f64> = c["p"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let f = |k: &str| c[k].as_f64().unwrap();
        let m = at_threshold(&p, &y, 0.5);
        for (got, key) in [
            (m.accuracy, "accuracy"),
            (m.f1, "f1"),
            (m.sensitivity, "sensitivity"),
            (m.specificity, "specificity"),
            (m.ppv, "ppv"),
            (m.npv, "npv"),
        ] {
            close(got, f(key), 1e-12, &format!("case {i} {key}"));
        }
        close(brier(&p, &y), f("brier"), 1e-12, &format!("case {i} brier"));
        let cal = calibration(&p, &y).unwrap();
        close(cal.intercept, f("calibration_intercept"), 1e-7, &format!("case {i} intercept"));
        close(cal.slope, f("calibration_slope"), 1e-7, &format!("case {i} slope"));
        assert_eq!(youden_threshold(&p, &y), Some(f("youden_threshold")), "case {i} Youden");
        let bins = c["bins"].as_u64().unwrap() as usize;
        let r = reliability(&p, &y, bins);
        let want_t: Vec<f64> = c["reliability_true"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let want_p: Vec<f64> = c["reliability_pred"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(r.len(), want_t.len(), "case {i} bins");
        for (b, (t, q)) in r.iter().zip(want_t.iter().zip(&want_p)) {
            close(b.fraction_positive, *t, 1e-12, &format!("case {i} reliability"));
            close(b.mean_predicted, *q, 1e-12, &format!("case {i} reliability"));
        }
    }
}
