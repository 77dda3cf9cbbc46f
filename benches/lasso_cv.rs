//! LassoCV on a 97 × 321 matrix (one MR sequence's radiomics table in the
//! study), timed against scikit-learn (benches/lasso_cv_sklearn.py).
//! Run: cargo bench --bench lasso_cv

use std::time::Instant;

use radose::core::learn::lasso::lasso_cv;
use radose::core::learn::matrix::Matrix;
use radose::core::learn::steps::fit_standardize;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/learn_sklearn.json");
    let doc: serde_json::Value = match std::fs::read_to_string(path).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(d)) => d,
        _ => {
            eprintln!("cannot read {path}");
            std::process::exit(1);
        }
    };
    let s = &doc["synthetic_97x321"];
    let rows: Vec<Vec<f64>> = s["X"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r.as_array().into_iter().flatten().filter_map(|v| v.as_f64()).collect())
        .collect();
    let x = Matrix::from_rows(&rows);
    let x = fit_standardize(&x).transform(&x);
    let y: Vec<f64> = s["y"].as_array().into_iter().flatten().filter_map(|v| v.as_f64()).collect();
    for tol in [1e-4, 1e-6] {
        let mut times = Vec::new();
        let mut alpha = 0.0;
        for _ in 0..7 {
            let t = Instant::now();
            match lasso_cv(&x, &y, 5, tol) {
                Ok(fit) => alpha = fit.alpha,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "radose lasso_cv 97x321 tol={tol:e}: median {:.4} s (min {:.4}, max {:.4}) over 7 runs, alpha {alpha:.6}",
            times[3], times[0], times[6]
        );
    }
}
