//! The leakage audit's LEAKY arm: the common published protocol in which a
//! prefix of the pipeline (screening, LASSO, PCA, SMOTE, …) is fitted on
//! every patient first and only the rest is cross-validated. It exists for
//! `audit leakage` alone — no other command calls it — and everything it
//! produces is labelled LEAKY.
//!
//! Steps are counted in pipeline order: the per-input steps, then the steps
//! after `then`. `outside = s` fits the first `s` of them on all rows. With
//! SMOTE outside, the synthetic rows join the data that is then split into
//! folds (so they reach held-out folds), exactly the flaw being measured.

use crate::core::learn::cv::{RepeatSeeds, stratified_kfold};
use crate::core::learn::matrix::Matrix;
use crate::core::learn::pipeline::{
    FoldResult, Pipeline, combined_seed, cross_validate, fit_step, input_names, join, per_input_seed,
};
use crate::error::Result;

/// Number of steps a pipeline has (per-input, then combined).
pub fn step_count(p: &Pipeline) -> usize {
    p.per_input.len() + p.combined.len()
}

/// The name of step `s` (0-based) for tables.
pub fn step_name(p: &Pipeline, s: usize) -> String {
    let step = if s < p.per_input.len() { &p.per_input[s] } else { &p.combined[s - p.per_input.len()] };
    step.name().to_string()
}

/// LEAKY cross-validation: the first `outside` steps fitted on all rows,
/// the rest (and the classifier) per fold over `k` stratified folds.
pub fn leaky_cross_validate(
    pipeline: &Pipeline,
    inputs: &[(String, Matrix, Vec<String>)],
    y: &[u8],
    outside: usize,
    k: usize,
    seeds: RepeatSeeds,
    cancelled: &dyn Fn() -> bool,
) -> Result<(Vec<FoldResult>, Vec<u8>)> {
    let p_in = pipeline.per_input.len();
    let multi = inputs.len() > 1;
    let n_in = outside.min(p_in);
    // Per-input prefix on all rows.
    let mut blocks: Vec<(String, Matrix, Vec<String>)> = Vec::new();
    let mut y_cur = y.to_vec();
    for (i, (label, x, names)) in inputs.iter().enumerate() {
        let names = input_names(label, names, multi && outside > p_in);
        let (mut cur, mut cy, mut cn) = (x.clone(), y.to_vec(), names);
        for (s, step) in pipeline.per_input[..n_in].iter().enumerate() {
            let (_, out, oy, on) = fit_step(step, cur, cy, cn, per_input_seed(seeds.fit, i, s))?;
            cur = out;
            cy = oy;
            cn = on;
        }
        y_cur = cy;
        blocks.push((label.clone(), cur, cn));
    }
    let rest = if outside <= p_in {
        Pipeline {
            per_input: pipeline.per_input[n_in..].to_vec(),
            combined: pipeline.combined.clone(),
            classifier: pipeline.classifier.clone(),
            text: format!("LEAKY remainder of {}", pipeline.text),
        }
    } else {
        // Every per-input step ran; concatenate and run the combined prefix on all rows.
        let mut x = join(&blocks.iter().map(|b| b.1.clone()).collect::<Vec<_>>());
        let mut names: Vec<String> = blocks.iter().flat_map(|b| b.2.iter().cloned()).collect();
        let n_comb = (outside - p_in).min(pipeline.combined.len());
        for (s, step) in pipeline.combined[..n_comb].iter().enumerate() {
            let (_, out, oy, on) = fit_step(step, x, y_cur, names, combined_seed(seeds.fit, s))?;
            x = out;
            y_cur = oy;
            names = on;
        }
        blocks = vec![("all".to_string(), x, names)];
        Pipeline {
            per_input: Vec::new(),
            combined: pipeline.combined[n_comb..].to_vec(),
            classifier: pipeline.classifier.clone(),
            text: format!("LEAKY remainder of {}", pipeline.text),
        }
    };
    // The split a fold-safe run with these seeds makes (the same folds when
    // no step outside the folds added rows).
    let folds = stratified_kfold(&y_cur, k, Some(seeds.split))?;
    let results = cross_validate(&rest, &blocks, &y_cur, &folds, seeds.fit, cancelled, &mut |_| Ok(()))?;
    Ok((results, y_cur))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::learn::cv::repeated_splits;
    use crate::core::rng::Rng;

    #[test]
    fn selecting_on_all_patients_inflates_noise_auc() {
        let mut rng = Rng::new(11);
        let (n, p) = (60, 400);
        let y: Vec<u8> = (0..n).map(|i| u8::from(i % 2 == 0)).collect();
        let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..p).map(|_| rng.normal()).collect()).collect();
        let x = Matrix::from_rows(&rows);
        let pipe = Pipeline::parse("standardize | mannwhitney k=10 | logistic").unwrap();
        let inputs = vec![("noise".to_string(), x, (0..p).map(|j| format!("f{j}")).collect())];
        let split = repeated_splits(&y, 5, 1, 3).unwrap().remove(0);
        let safe =
            cross_validate(&pipe, &inputs, &y, &split.folds, split.seeds.fit, &|| false, &mut |_| Ok(())).unwrap();
        let (leaky, _) =
            leaky_cross_validate(&pipe, &inputs, &y, step_count(&pipe), 5, split.seeds, &|| false).unwrap();
        let mean = |r: &[FoldResult]| r.iter().map(|f| f.auc).sum::<f64>() / r.len() as f64;
        assert!(mean(&safe) < 0.65, "fold-safe {}", mean(&safe));
        assert!(mean(&leaky) > 0.8, "leaky {}", mean(&leaky));
        assert_eq!(step_name(&pipe, 1), "mannwhitney");
    }
}
