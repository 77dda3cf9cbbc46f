//! The leakage regression test: on pure noise, selection fitted inside each
//! training fold gives a CV AUC near 0.5, while selecting on all patients
//! first (done here on purpose) inflates it. And SMOTE never reaches the
//! held-out rows.

use radose::core::learn::cv::{Fold, stratified_kfold};
use radose::core::learn::matrix::Matrix;
use radose::core::learn::metrics::auc;
use radose::core::learn::pipeline::{Pipeline, cross_validate};
use radose::core::learn::steps::{mann_whitney_scores, top_k};
use radose::core::rng::Rng;

fn noise(rows: usize, cols: usize, seed: u64) -> (Matrix, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let data: Vec<Vec<f64>> = (0..rows).map(|_| (0..cols).map(|_| rng.normal()).collect()).collect();
    let mut y: Vec<u8> = (0..rows).map(|i| u8::from(i < rows / 3)).collect();
    rng.shuffle(&mut y);
    (Matrix::from_rows(&data), y)
}

fn pooled_auc(pipeline: &Pipeline, x: &Matrix, names: &[String], y: &[u8], seed: u64) -> f64 {
    let folds = stratified_kfold(y, 5, Some(seed)).unwrap();
    let inputs = vec![("X".to_string(), x.clone(), names.to_vec())];
    let results = cross_validate(pipeline, &inputs, y, &folds, seed, &|| false, &mut |_| Ok(())).unwrap();
    let mut oof = vec![f64::NAN; y.len()];
    for r in &results {
        for (i, p) in r.test.iter().zip(&r.probability) {
            oof[*i] = *p;
        }
    }
    auc(&oof, y)
}

#[test]
fn selection_inside_folds_does_not_leak() {
    let (x, y) = noise(100, 5000, 11);
    let names: Vec<String> = (0..x.cols).map(|c| format!("f{c}")).collect();
    let honest = Pipeline::parse("mannwhitney k=20 | standardize | logistic C=1").unwrap();
    let honest_auc = pooled_auc(&honest, &x, &names, &y, 3);
    assert!((0.35..=0.65).contains(&honest_auc), "fold-safe AUC on noise {honest_auc}");

    // The common published mistake: select on every patient, then cross-validate.
    let scores = mann_whitney_scores(&x, &y).unwrap();
    let keep = top_k(&scores, 20);
    let leaky_x = x.select_cols(&keep);
    let leaky_names: Vec<String> = keep.iter().map(|&c| names[c].clone()).collect();
    let rest = Pipeline::parse("standardize | logistic C=1").unwrap();
    let leaky_auc = pooled_auc(&rest, &leaky_x, &leaky_names, &y, 3);
    assert!(leaky_auc > 0.75 && leaky_auc > honest_auc + 0.2, "leaky {leaky_auc} vs honest {honest_auc}");
}

/// Poisoned held-out rows change nothing that is fitted. Each fold is run on
/// the data with a clean copy of its held-out rows appended as extra held-out
/// rows; then again with the original held-out rows poisoned (features
/// scaled and shifted far away, labels flipped). If every step — scaling,
/// selection, PCA, SMOTE, the classifier — is fitted on the training rows
/// only, the clean copies get bit-identical probabilities both times.
#[test]
fn smote_and_every_fitted_step_see_training_rows_only() {
    let (x, y) = noise(60, 40, 5);
    let names: Vec<String> = (0..x.cols).map(|c| format!("f{c}")).collect();
    let p = Pipeline::parse("standardize | mannwhitney k=10 | pca n=3 | smote k=5 ratio=1 | logistic").unwrap();
    let folds = stratified_kfold(&y, 5, Some(1)).unwrap();
    for (f, fold) in folds.iter().enumerate() {
        // Rows 0..n are the patients, n.. clean copies of this fold's held-out rows.
        let n = x.rows;
        let mut rows: Vec<Vec<f64>> = (0..n).map(|r| x.row(r).to_vec()).collect();
        rows.extend(fold.test.iter().map(|&r| x.row(r).to_vec()));
        let mut labels = y.clone();
        labels.extend(fold.test.iter().map(|&r| y[r]));
        let copies: Vec<usize> = (n..n + fold.test.len()).collect();
        let extended = Fold { train: fold.train.clone(), test: fold.test.iter().copied().chain(copies).collect() };
        let clean = (Matrix::from_rows(&rows), labels.clone());
        for &r in &fold.test {
            rows[r] = rows[r].iter().map(|v| 1e3 * v + 1e4).collect();
            labels[r] = 1 - labels[r];
        }
        let poisoned = (Matrix::from_rows(&rows), labels);
        let copy_probabilities = |(m, l): &(Matrix, Vec<u8>)| {
            let inputs = vec![("X".to_string(), m.clone(), names.clone())];
            let r =
                cross_validate(&p, &inputs, l, std::slice::from_ref(&extended), 1, &|| false, &mut |_| Ok(())).unwrap();
            r[0].probability[fold.test.len()..].to_vec()
        };
        assert_eq!(
            copy_probabilities(&clean),
            copy_probabilities(&poisoned),
            "fold {f}: a fitted step saw held-out rows"
        );

        // The poison is strong enough to show: fitting on every row (the
        // leaky protocol) moves the clean copies' probabilities.
        let leaky = |(m, l): &(Matrix, Vec<u8>)| {
            let all: Vec<usize> = (0..n).collect();
            let fitted = p.fit(&[("X".to_string(), m.select_rows(&all), names.clone())], &l[..n], 1).unwrap();
            fitted.predict(&[m.select_rows(&extended.test[fold.test.len()..])]).unwrap()
        };
        assert_ne!(leaky(&clean), leaky(&poisoned), "fold {f}: the poison does not reach a leaky fit");
    }
}

/// Each patient is held out exactly once, with one prediction and no
/// synthetic rows among the held-out ones; the same seed gives the same
/// predictions.
#[test]
fn each_patient_is_held_out_once() {
    let (x, y) = noise(60, 40, 5);
    let names: Vec<String> = (0..x.cols).map(|c| format!("f{c}")).collect();
    let p = Pipeline::parse("standardize | mannwhitney k=10 | pca n=3 | smote k=5 ratio=1 | logistic").unwrap();
    let folds = stratified_kfold(&y, 5, Some(1)).unwrap();
    let inputs = vec![("X".to_string(), x.clone(), names)];
    let results = cross_validate(&p, &inputs, &y, &folds, 1, &|| false, &mut |_| Ok(())).unwrap();
    let mut seen = vec![0; y.len()];
    for (r, fold) in results.iter().zip(&folds) {
        assert_eq!(r.test, fold.test);
        assert_eq!(r.probability.len(), fold.test.len());
        for &i in &r.test {
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&s| s == 1));
    let again = cross_validate(&p, &inputs, &y, &folds, 1, &|| false, &mut |_| Ok(())).unwrap();
    assert_eq!(again[2].probability, results[2].probability);
}
