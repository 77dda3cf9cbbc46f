//! Cross-validation splits at patient level: stratified K-fold (scikit-learn's
//! per-class allocation, shuffled with radose's seeded generator), repeated
//! stratified K-fold, plain K-fold, and nested splits.

use crate::core::rng::Rng;
use crate::error::{Error, Result};

/// One split: row indices of the training and the held-out part.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

fn folds_from_assignment(assign: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|f| Fold {
            train: (0..assign.len()).filter(|&i| assign[i] != f).collect(),
            test: (0..assign.len()).filter(|&i| assign[i] == f).collect(),
        })
        .collect()
}

/// Stratified K-fold as scikit-learn's `StratifiedKFold`: each class is
/// dealt round-robin so every fold holds its share of each class (the same
/// per-fold class counts as scikit-learn); with a seed, which patients go to
/// which fold is shuffled within each class.
pub fn stratified_kfold(y: &[u8], k: usize, seed: Option<u64>) -> Result<Vec<Fold>> {
    if k < 2 {
        return Err(Error::invalid(format!("cross-validation needs at least 2 folds, not {k}"), None));
    }
    // Classes in order of first appearance, as scikit-learn encodes them.
    let mut classes: Vec<u8> = Vec::new();
    for &v in y {
        if !classes.contains(&v) {
            classes.push(v);
        }
    }
    let counts: Vec<usize> = classes.iter().map(|c| y.iter().filter(|v| *v == c).count()).collect();
    if counts.iter().all(|&c| c < k) || y.len() < k {
        return Err(Error::invalid(
            format!("{k} folds need at least {k} patients of a class; the classes have {counts:?}"),
            Some("use fewer folds"),
        ));
    }
    if let Some(min) = counts.iter().min().filter(|&&m| m < k) {
        return Err(Error::invalid(
            format!("the rarest class has {min} patients, fewer than the {k} folds"),
            Some("use fewer folds, so every fold can hold both outcomes"),
        ));
    }
    // Allocation: round robin over the sorted class codes.
    let mut sorted: Vec<usize> = y.iter().map(|v| classes.iter().position(|c| c == v).unwrap_or(0)).collect();
    sorted.sort_unstable();
    let mut allocation = vec![vec![0usize; classes.len()]; k];
    for (i, &c) in sorted.iter().enumerate() {
        allocation[i % k][c] += 1;
    }
    let mut rng = seed.map(|s| Rng::derive(s, &["stratified_kfold"]));
    let mut assign = vec![0usize; y.len()];
    for (ci, class) in classes.iter().enumerate() {
        let mut folds_for_class: Vec<usize> = (0..k).flat_map(|f| std::iter::repeat_n(f, allocation[f][ci])).collect();
        if let Some(r) = rng.as_mut() {
            r.shuffle(&mut folds_for_class);
        }
        let members = (0..y.len()).filter(|&i| y[i] == *class);
        for (i, f) in members.zip(folds_for_class) {
            assign[i] = f;
        }
    }
    Ok(folds_from_assignment(&assign, k))
}

/// The seeds of one repeat of a cross-validation run with a seed: one
/// shuffles the split, one seeds the fitted steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatSeeds {
    pub split: u64,
    pub fit: u64,
}

impl RepeatSeeds {
    pub fn of(seed: u64, repeat: usize) -> RepeatSeeds {
        let r = repeat.to_string();
        RepeatSeeds { split: Rng::sub_seed(seed, &["cv", &r]), fit: Rng::sub_seed(seed, &["cv", &r, "fit"]) }
    }
}

/// One repeat's folds and seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub folds: Vec<Fold>,
    pub seeds: RepeatSeeds,
}

/// `repeats` independent stratified K-fold splits for a seed. `cv` and the
/// fold-safe arm of `audit leakage` both split here, so one seed gives them
/// the same folds.
pub fn repeated_splits(y: &[u8], k: usize, repeats: usize, seed: u64) -> Result<Vec<Repeat>> {
    (0..repeats)
        .map(|r| {
            let seeds = RepeatSeeds::of(seed, r);
            Ok(Repeat { folds: stratified_kfold(y, k, Some(seeds.split))?, seeds })
        })
        .collect()
}

/// Unshuffled K-fold in contiguous blocks (scikit-learn's `KFold()` default,
/// used by `LassoCV(cv=5)`): the first n % k folds get one extra row.
pub fn kfold(n: usize, k: usize) -> Result<Vec<Fold>> {
    if k < 2 || n < k {
        return Err(Error::invalid(format!("{k}-fold splitting needs at least {k} rows (have {n})"), None));
    }
    let mut assign = Vec::with_capacity(n);
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        assign.extend(std::iter::repeat_n(f, size));
    }
    Ok(folds_from_assignment(&assign, k))
}

/// Maps inner folds computed on a subset (`subset[i]` is the original row of
/// subset row i) back to original row indices.
pub fn lift(folds: Vec<Fold>, subset: &[usize]) -> Vec<Fold> {
    folds
        .into_iter()
        .map(|f| Fold {
            train: f.train.into_iter().map(|i| subset[i]).collect(),
            test: f.test.into_iter().map(|i| subset[i]).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_the_rows_and_keep_class_shares() {
        let y: Vec<u8> = (0..97).map(|i| u8::from(i % 3 == 0)).collect();
        let folds = stratified_kfold(&y, 5, Some(7)).unwrap();
        let mut seen = vec![0; 97];
        for f in &folds {
            for &i in &f.test {
                seen[i] += 1;
            }
            assert_eq!(f.train.len() + f.test.len(), 97);
            let pos = f.test.iter().filter(|&&i| y[i] == 1).count();
            assert!((6..=7).contains(&pos), "{pos}");
        }
        assert!(seen.iter().all(|&s| s == 1));
        assert_eq!(stratified_kfold(&y, 5, Some(7)).unwrap(), folds);
        assert_ne!(stratified_kfold(&y, 5, Some(8)).unwrap(), folds);
    }

    #[test]
    fn too_many_folds_is_an_error() {
        assert!(stratified_kfold(&[0, 0, 0, 1], 2, None).is_err());
        assert!(stratified_kfold(&[0, 1], 1, None).is_err());
    }

    #[test]
    fn kfold_blocks() {
        let f = kfold(7, 3).unwrap();
        assert_eq!(f[0].test, vec![0, 1, 2]);
        assert_eq!(f[2].test, vec![5, 6]);
    }
}

/// Nested cross-validation splits: for each outer stratified fold, inner
/// stratified folds over its training rows only (as original row indices),
/// for tuning inside the outer training data.
pub fn nested_stratified_kfold(y: &[u8], outer: usize, inner: usize, seed: u64) -> Result<Vec<(Fold, Vec<Fold>)>> {
    stratified_kfold(y, outer, Some(seed))?
        .into_iter()
        .enumerate()
        .map(|(i, fold)| {
            let y_train: Vec<u8> = fold.train.iter().map(|&r| y[r]).collect();
            let inner_folds = stratified_kfold(&y_train, inner, Some(Rng::sub_seed(seed, &["inner", &i.to_string()])))?;
            let lifted = lift(inner_folds, &fold.train);
            Ok((fold, lifted))
        })
        .collect()
}

#[cfg(test)]
mod nested_tests {
    use super::*;

    #[test]
    fn inner_folds_never_touch_the_outer_test_rows() {
        let y: Vec<u8> = (0..50).map(|i| u8::from(i % 3 == 0)).collect();
        for (outer, inner) in nested_stratified_kfold(&y, 5, 3, 9).unwrap() {
            assert_eq!(inner.len(), 3);
            for f in &inner {
                assert!(f.train.iter().chain(&f.test).all(|r| outer.train.contains(r) && !outer.test.contains(r)));
                assert_eq!(f.train.len() + f.test.len(), outer.train.len());
            }
        }
    }
}
