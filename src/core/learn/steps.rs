//! Fitted preprocessing and selection steps with one shape: `fit` on a
//! training fold returns a [`Fitted`] that transforms any rows the same way.
//! Semantics follow scikit-learn / imbalanced-learn (named on each function).
//!
//! Written here rather than taken from smartcore/linfa: neither has SMOTE or
//! a chi-square screen; smartcore's PCA does not follow scikit-learn's sign
//! rule and linfa's needs ndarray 0.16 beside the ndarray 0.17 of the rest of
//! the tree, and both would add a matrix conversion at every step.

use crate::core::learn::correlation::{mean_abs_correlation, pearson, redundancy_keep};
use crate::core::learn::matrix::{Matrix, symmetric_eigen};
use crate::core::rng::Rng;
use crate::core::stats::{MwuMethod, mann_whitney};
use crate::error::{Error, Result};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// A fitted step, applied to new rows by [`Fitted::transform`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Fitted {
    /// (x − shift) / scale per column.
    Affine { shift: Vec<f64>, scale: Vec<f64> },
    /// Ordinal bin codes from inner bin edges per column.
    Bins { edges: Vec<Vec<f64>> },
    /// A subset of columns, with the score of every input column (for
    /// `decorrelate`, each column's mean absolute correlation).
    Select { keep: Vec<usize>, scores: Vec<f64> },
    /// Projection onto principal axes (rows of `components`).
    Project { mean: Vec<f64>, components: Matrix, explained_variance: Vec<f64>, explained_ratio: Vec<f64> },
}

impl Fitted {
    pub fn transform(&self, x: &Matrix) -> Matrix {
        match self {
            Fitted::Affine { shift, scale } => {
                let mut out = x.clone();
                for r in 0..x.rows {
                    for c in 0..x.cols {
                        out.set(r, c, (x.get(r, c) - shift[c]) / scale[c]);
                    }
                }
                out
            }
            Fitted::Bins { edges } => {
                let mut out = x.clone();
                for r in 0..x.rows {
                    for (c, e) in edges.iter().enumerate() {
                        // np.searchsorted(inner_edges, v, side='right')
                        out.set(r, c, e.partition_point(|edge| *edge <= x.get(r, c)) as f64);
                    }
                }
                out
            }
            Fitted::Select { keep, .. } => x.select_cols(keep),
            Fitted::Project { mean, components, .. } => {
                let mut centred = x.clone();
                for r in 0..x.rows {
                    for c in 0..x.cols {
                        centred.set(r, c, x.get(r, c) - mean[c]);
                    }
                }
                centred.matmul(&components.transpose())
            }
        }
    }
}

/// `StandardScaler`: centre and divide by the population SD (1 where it is 0).
pub fn fit_standardize(x: &Matrix) -> Fitted {
    let scale = x.col_stds(0).into_iter().map(|s| if s == 0.0 { 1.0 } else { s }).collect();
    Fitted::Affine { shift: x.col_means(), scale }
}

/// `MinMaxScaler`: map the training range to [0, 1] (range 0 → scale 1).
pub fn fit_minmax(x: &Matrix) -> Fitted {
    let (mut lo, mut hi) = (vec![f64::INFINITY; x.cols], vec![f64::NEG_INFINITY; x.cols]);
    for r in 0..x.rows {
        for c in 0..x.cols {
            lo[c] = lo[c].min(x.get(r, c));
            hi[c] = hi[c].max(x.get(r, c));
        }
    }
    let scale = lo.iter().zip(&hi).map(|(l, h)| if h > l { h - l } else { 1.0 }).collect();
    Fitted::Affine { shift: lo, scale }
}

/// How `discretize` places bin edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BinStrategy {
    Uniform,
    Quantile,
}

/// `KBinsDiscretizer(n_bins, encode='ordinal', strategy=…)`: codes 0…bins−1.
/// Quantile edges use linear interpolation; repeated edges are merged.
pub fn fit_discretize(x: &Matrix, bins: usize, strategy: BinStrategy) -> Result<Fitted> {
    if bins < 2 {
        return Err(Error::invalid(format!("discretising needs at least 2 bins, not {bins}"), None));
    }
    let mut edges = Vec::with_capacity(x.cols);
    for c in 0..x.cols {
        let mut v = x.column(c);
        v.sort_by(f64::total_cmp);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        let mut inner: Vec<f64> = (1..bins)
            .map(|b| {
                let q = b as f64 / bins as f64;
                match strategy {
                    BinStrategy::Uniform => lo + (hi - lo) * q,
                    BinStrategy::Quantile => crate::core::describe::quantile_sorted(&v, q),
                }
            })
            .collect();
        inner.dedup_by(|a, b| (*a - *b).abs() < 1e-8);
        edges.push(inner);
    }
    Ok(Fitted::Bins { edges })
}

/// scikit-learn's `chi2(X, y)` scores and p-values for non-negative X.
pub fn chi2_scores(x: &Matrix, y: &[u8], names: &[String]) -> Result<(Vec<f64>, Vec<f64>)> {
    for c in 0..x.cols {
        if let Some(r) = (0..x.rows).find(|&r| x.get(r, c) < 0.0) {
            return Err(Error::invalid(
                format!(
                    "the chi-square screen needs non-negative values, but `{}` is {} in row {}",
                    names[c],
                    x.get(r, c),
                    r + 1
                ),
                Some("discretise first (`discretize bins=10` before `chi2`), or give the step `bins=10`"),
            ));
        }
    }
    let classes: [u8; 2] = [0, 1];
    let n = x.rows as f64;
    let class_prob: Vec<f64> = classes.iter().map(|k| y.iter().filter(|v| *v == k).count() as f64 / n).collect();
    let mut scores = Vec::with_capacity(x.cols);
    let mut pvalues = Vec::with_capacity(x.cols);
    let dist = ChiSquared::new((classes.len() - 1) as f64).map_err(|e| Error::invalid(e.to_string(), None))?;
    for c in 0..x.cols {
        let total: f64 = (0..x.rows).map(|r| x.get(r, c)).sum();
        let mut stat = 0.0;
        for (k, class) in classes.iter().enumerate() {
            let observed: f64 = (0..x.rows).filter(|&r| y[r] == *class).map(|r| x.get(r, c)).sum();
            let expected = class_prob[k] * total;
            stat += (observed - expected).powi(2) / expected;
        }
        scores.push(stat);
        pvalues.push(if stat.is_nan() { f64::NAN } else { dist.sf(stat) });
    }
    Ok((scores, pvalues))
}

/// Indices of the `k` highest scores as `SelectKBest` picks them (a stable
/// ascending sort, the last k; NaN scores rank lowest), in column order.
pub fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let key = |i: usize| if scores[i].is_nan() { f64::NEG_INFINITY } else { scores[i] };
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    let mut keep: Vec<usize> = order[order.len().saturating_sub(k)..].to_vec();
    keep.sort_unstable();
    keep
}

/// Redundancy removal: the columns [`redundancy_keep`] keeps so that no
/// two correlate above `threshold` (|Pearson r|, caret's `findCorrelation`
/// rule), and every column's mean absolute correlation as its score.
pub fn decorrelate_selection(x: &Matrix, threshold: f64) -> Result<(Vec<usize>, Vec<f64>)> {
    let r = pearson(x)?.r;
    Ok((redundancy_keep(&r, threshold), mean_abs_correlation(&r)))
}

/// A Mann-Whitney screen: per column, the two-sided p-value between classes
/// (scores are 1 − p, so higher is better).
pub fn mann_whitney_scores(x: &Matrix, y: &[u8]) -> Result<Vec<f64>> {
    (0..x.cols)
        .map(|c| {
            let col = x.column(c);
            let a: Vec<f64> = col.iter().zip(y).filter(|(_, t)| **t == 1).map(|(v, _)| *v).collect();
            let b: Vec<f64> = col.iter().zip(y).filter(|(_, t)| **t == 0).map(|(v, _)| *v).collect();
            Ok(1.0 - mann_whitney(&a, &b, MwuMethod::Auto)?.p_value)
        })
        .collect()
}

/// `PCA(n_components)` by eigendecomposition of the covariance (or of the
/// Gram matrix when there are more columns than rows), with scikit-learn's
/// sign rule: the largest-magnitude loading of every component is positive.
pub fn fit_pca(x: &Matrix, n_components: usize) -> Result<Fitted> {
    let limit = x.rows.min(x.cols);
    if n_components == 0 || n_components > limit {
        return Err(Error::invalid(
            format!(
                "PCA can keep 1 to {limit} components here ({} rows × {} columns), not {n_components}",
                x.rows, x.cols
            ),
            None,
        ));
    }
    let mean = x.col_means();
    let mut centred = x.clone();
    for r in 0..x.rows {
        for c in 0..x.cols {
            centred.set(r, c, x.get(r, c) - mean[c]);
        }
    }
    let denom = (x.rows - 1).max(1) as f64;
    let (values, vectors) = if x.cols <= x.rows {
        let mut cov = centred.transpose().matmul(&centred);
        cov.data.iter_mut().for_each(|v| *v /= denom);
        symmetric_eigen(&cov)
    } else {
        // Eigenvectors of XXᵀ map to those of XᵀX: v = Xᵀu / ‖Xᵀu‖.
        let mut gram = centred.matmul(&centred.transpose());
        gram.data.iter_mut().for_each(|v| *v /= denom);
        let (values, u) = symmetric_eigen(&gram);
        let v = centred.transpose().matmul(&u);
        let mut out = Matrix::zeros(x.cols, u.cols);
        for c in 0..u.cols {
            let norm = v.column(c).iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
            for r in 0..x.cols {
                out.set(r, c, v.get(r, c) / norm);
            }
        }
        (values, out)
    };
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let mut components = Matrix::zeros(n_components, x.cols);
    for k in 0..n_components {
        let col = vectors.column(k);
        let biggest = col.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        let sign = if biggest < 0.0 { -1.0 } else { 1.0 };
        for (c, v) in col.iter().enumerate() {
            components.set(k, c, sign * v);
        }
    }
    let explained_variance: Vec<f64> = values.iter().take(n_components).map(|v| v.max(0.0)).collect();
    let explained_ratio = explained_variance.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
    Ok(Fitted::Project { mean, components, explained_variance, explained_ratio })
}

/// One synthetic SMOTE sample: `row + gap × (neighbour − row)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoteDraw {
    pub row: usize,
    pub neighbour: usize,
    pub gap: f64,
}

/// SMOTE's draws (imbalanced-learn's `SMOTE(k_neighbors=k)`): each synthetic
/// minority sample lies on the segment between a random minority row and one
/// of its `k` nearest minority neighbours (Euclidean in `x`), until the
/// minority count is `ratio` × the majority count. Returns the draws and the
/// minority label, so other data of the same patients (e.g. a dose volume)
/// can be interpolated with the same factors.
pub fn smote_draws(x: &Matrix, y: &[u8], k: usize, ratio: f64, seed: u64) -> Result<(Vec<SmoteDraw>, u8)> {
    let count = |c: u8| y.iter().filter(|v| **v == c).count();
    let (minority, majority) = if count(1) <= count(0) { (1u8, 0u8) } else { (0, 1) };
    let (n_min, n_maj) = (count(minority), count(majority));
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(Error::invalid(format!("SMOTE's ratio must be in (0, 1], not {ratio}"), None));
    }
    let target = (ratio * n_maj as f64).floor() as usize;
    let n_new = target.saturating_sub(n_min);
    if n_new == 0 {
        return Ok((Vec::new(), minority));
    }
    if n_min < k + 1 {
        return Err(Error::invalid(
            format!("SMOTE with k = {k} needs at least {} minority rows; the training data has {n_min}", k + 1),
            Some("lower k (e.g. `smote k=3`) or use more data"),
        ));
    }
    let members: Vec<usize> = (0..x.rows).filter(|&r| y[r] == minority).collect();
    let dist = |a: usize, b: usize| x.row(a).iter().zip(x.row(b)).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
    let neighbours: Vec<Vec<usize>> = members
        .iter()
        .map(|&a| {
            let mut others: Vec<usize> = members.iter().copied().filter(|&b| b != a).collect();
            others.sort_by(|&p, &q| dist(a, p).total_cmp(&dist(a, q)).then(p.cmp(&q)));
            others.truncate(k);
            others
        })
        .collect();
    let mut rng = Rng::derive(seed, &["smote"]);
    let draws = (0..n_new)
        .map(|_| {
            let pick = rng.below(members.len() * k);
            let (row, neighbour) = (members[pick / k], neighbours[pick / k][pick % k]);
            SmoteDraw { row, neighbour, gap: rng.uniform() }
        })
        .collect();
    Ok((draws, minority))
}

/// SMOTE on `x` alone (see [`smote_draws`]). Returns the added rows and labels.
pub fn smote(x: &Matrix, y: &[u8], k: usize, ratio: f64, seed: u64) -> Result<(Matrix, Vec<u8>)> {
    let (draws, minority) = smote_draws(x, y, k, ratio, seed)?;
    let mut out = Matrix::zeros(draws.len(), x.cols);
    for (s, d) in draws.iter().enumerate() {
        for c in 0..x.cols {
            out.set(s, c, x.get(d.row, c) + d.gap * (x.get(d.neighbour, c) - x.get(d.row, c)));
        }
    }
    Ok((out, vec![minority; draws.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardize_and_minmax() {
        let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0]]);
        let s = fit_standardize(&x).transform(&x);
        assert_eq!(s.data, vec![-1.0, 0.0, 1.0, 0.0]);
        let m = fit_minmax(&x).transform(&x);
        assert_eq!(m.data, vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn top_k_is_selectkbest() {
        assert_eq!(top_k(&[3.0, f64::NAN, 5.0, 3.0], 2), vec![2, 3]);
    }

    #[test]
    fn chi2_refuses_negative_input() {
        let x = Matrix::from_rows(&[vec![-1.0], vec![2.0]]);
        let e = chi2_scores(&x, &[0, 1], &["f".into()]).unwrap_err().to_string();
        assert!(e.contains("`f` is -1 in row 1"), "{e}");
    }
}
