//! Feature redundancy: Pearson and Spearman correlation matrices of a
//! feature matrix (columns are features), the strongly correlated pairs, a
//! keep-set that removes redundant features, and the average-linkage
//! clustering order a correlation heatmap is drawn in.
//!
//! Conventions follow numpy (`corrcoef`), scipy (`spearmanr`,
//! `cluster.hierarchy`) and caret (`findCorrelation`), named on each
//! function. A constant column has no correlation: its row and column are
//! NaN (as numpy gives) and it is listed in [`Correlation::constant`].

use crate::core::learn::matrix::Matrix;
use crate::core::stats::rank_average;
use crate::error::{Error, Result};

/// A correlation matrix (features × features) and the features it is
/// undefined for.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// Symmetric, 1 on the diagonal; NaN in the rows and columns of
    /// constant features.
    pub r: Matrix,
    /// Columns with one value in every row (their correlations are NaN).
    pub constant: Vec<usize>,
}

/// Pearson correlations between the columns of `x`, as
/// `numpy.corrcoef(x, rowvar=False)` (clipped to [−1, 1]).
pub fn pearson(x: &Matrix) -> Result<Correlation> {
    check(x)?;
    let constant: Vec<usize> = (0..x.cols).filter(|&c| is_constant(x, c)).collect();
    let means = x.col_means();
    let centred: Vec<Vec<f64>> = (0..x.cols).map(|c| x.column(c).iter().map(|v| v - means[c]).collect()).collect();
    let norms: Vec<f64> = centred.iter().map(|v| v.iter().map(|a| a * a).sum::<f64>().sqrt()).collect();
    let mut r = Matrix::zeros(x.cols, x.cols);
    for i in 0..x.cols {
        for j in i..x.cols {
            let value = if constant.contains(&i) || constant.contains(&j) {
                f64::NAN
            } else if i == j {
                1.0
            } else {
                let cross: f64 = centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum();
                (cross / (norms[i] * norms[j])).clamp(-1.0, 1.0)
            };
            r.set(i, j, value);
            r.set(j, i, value);
        }
    }
    Ok(Correlation { r, constant })
}

/// Spearman rank correlations between the columns of `x`, as
/// `scipy.stats.spearmanr(x)`: Pearson correlations of the columns' ranks,
/// tied values sharing their average rank.
pub fn spearman(x: &Matrix) -> Result<Correlation> {
    check(x)?;
    let mut ranks = Matrix::zeros(x.rows, x.cols);
    for c in 0..x.cols {
        let (column_ranks, _) = rank_average(&x.column(c));
        for (r, rank) in column_ranks.into_iter().enumerate() {
            ranks.set(r, c, rank);
        }
    }
    pearson(&ranks)
}

fn check(x: &Matrix) -> Result<()> {
    if x.rows < 2 {
        return Err(Error::invalid(format!("a correlation needs at least 2 rows; this matrix has {}", x.rows), None));
    }
    if let Some(i) = x.data.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            format!(
                "row {}, column {} is {}: correlations need finite values",
                i / x.cols + 1,
                i % x.cols + 1,
                x.data[i]
            ),
            Some("impute or drop missing values first"),
        ));
    }
    Ok(())
}

/// Exactly one value in every row (tested exactly: centring by a mean that
/// is off in the last bit would turn a constant into noise).
fn is_constant(x: &Matrix, c: usize) -> bool {
    let first = x.get(0, c);
    (1..x.rows).all(|r| x.get(r, c) == first)
}

/// The pairs `(i, j, r)` with `i < j` and |r| > `threshold`, the strongest
/// first (equal |r| in (i, j) order). NaN correlations are never listed.
pub fn correlated_pairs(r: &Matrix, threshold: f64) -> Vec<(usize, usize, f64)> {
    let mut pairs: Vec<(usize, usize, f64)> = (0..r.rows)
        .flat_map(|i| (i + 1..r.cols).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, r.get(i, j)))
        .filter(|(_, _, v)| v.abs() > threshold)
        .collect();
    // Stable, so equal |r| keep their (i, j) order.
    pairs.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
    pairs
}

/// Each feature's mean absolute correlation with every other feature,
/// leaving out NaN (constant) partners; NaN for a constant feature.
pub fn mean_abs_correlation(r: &Matrix) -> Vec<f64> {
    (0..r.rows)
        .map(|i| {
            let partners: Vec<f64> =
                (0..r.cols).filter(|&j| j != i).map(|j| r.get(i, j).abs()).filter(|v| !v.is_nan()).collect();
            if partners.is_empty() { f64::NAN } else { partners.iter().sum::<f64>() / partners.len() as f64 }
        })
        .collect()
}

/// The features to keep so that no two kept ones correlate above
/// `threshold` (in absolute value), in original column order.
///
/// The rule caret's `findCorrelation` documents: take the pair with the
/// largest |r| above the threshold among the features still kept, and drop
/// the member with the larger mean absolute correlation to all other
/// features ([`mean_abs_correlation`], computed once on the whole matrix as
/// caret's `exact = FALSE` computes it); on equal means the later column
/// goes. Repeat until no pair is above the threshold. Unlike caret's code
/// (which visits pairs in matrix order), pairs are visited strongest first,
/// so the most redundant pair is always resolved first. Constant features
/// have no correlations, are never in a pair and are kept.
pub fn redundancy_keep(r: &Matrix, threshold: f64) -> Vec<usize> {
    let means = mean_abs_correlation(r);
    let mut dropped = vec![false; r.cols];
    // Visiting the pairs strongest first and skipping those already broken
    // is the same as repeatedly taking the strongest pair left.
    for (i, j, _) in correlated_pairs(r, threshold) {
        if dropped[i] || dropped[j] {
            continue;
        }
        let drop = if means[i] > means[j] { i } else { j };
        dropped[drop] = true;
    }
    (0..r.cols).filter(|&c| !dropped[c]).collect()
}

/// The leaf order of average-linkage clustering on the distance 1 − |r|:
/// the order `scipy.cluster.hierarchy.leaves_list(linkage(squareform(1 -
/// abs(r), checks=False), method='average'))` gives, for drawing a heatmap
/// with correlated features side by side. A NaN correlation (a constant
/// feature) counts as distance 1.
pub fn cluster_order(r: &Matrix) -> Vec<usize> {
    let n = r.rows;
    if n < 2 {
        return (0..n).collect();
    }
    let mut distance = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d = 1.0 - r.get(i, j).abs();
            let d = if d.is_nan() { 1.0 } else { d };
            distance[i * n + j] = d;
            distance[j * n + i] = d;
        }
    }
    let merges = average_linkage(distance, n);
    leaves(&label_merges(merges, n), n)
}

/// One merge of two slots at a distance (slot = the original index of one
/// of the cluster's points, where the cluster's distances are kept).
#[derive(Debug, Clone, Copy)]
struct SlotMerge {
    kept: usize,
    dropped: usize,
    distance: f64,
}

/// Average linkage by the nearest-neighbour chain, as scipy's `nn_chain`
/// runs it: grow a chain of nearest neighbours (preferring the previous
/// link on a tie) until two clusters are each other's nearest, merge them
/// into the higher slot, update distances by the size-weighted mean
/// (Lance–Williams). `distance` is the full n × n matrix, row-major.
fn average_linkage(mut distance: Vec<f64>, n: usize) -> Vec<SlotMerge> {
    let mut size = vec![1usize; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        if chain.is_empty() {
            chain.push((0..n).find(|&i| size[i] > 0).unwrap_or(0));
        }
        let (x, y, nearest) = loop {
            let x = chain[chain.len() - 1];
            let previous = chain.len().checked_sub(2).map(|p| chain[p]);
            let (mut y, mut nearest) = match previous {
                Some(p) => (p, distance[x * n + p]),
                None => (x, f64::INFINITY),
            };
            for i in (0..n).filter(|&i| size[i] > 0 && i != x) {
                if distance[x * n + i] < nearest {
                    nearest = distance[x * n + i];
                    y = i;
                }
            }
            if previous == Some(y) {
                break (x, y, nearest);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (dropped, kept) = (x.min(y), x.max(y));
        let (n_dropped, n_kept) = (size[dropped] as f64, size[kept] as f64);
        size[kept] += size[dropped];
        size[dropped] = 0;
        for i in (0..n).filter(|&i| size[i] > 0 && i != kept) {
            let d = (n_dropped * distance[i * n + dropped] + n_kept * distance[i * n + kept]) / (n_dropped + n_kept);
            distance[i * n + kept] = d;
            distance[kept * n + i] = d;
        }
        merges.push(SlotMerge { kept, dropped, distance: nearest });
    }
    merges
}

/// scipy's linkage matrix from slot merges: merges sorted by distance
/// (stably), cluster ids n, n + 1, … in that order, the smaller id of each
/// merge on the left. Returns each new cluster's (left, right) children.
fn label_merges(mut merges: Vec<SlotMerge>, n: usize) -> Vec<(usize, usize)> {
    merges.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    // Union-find over points and new clusters: parent[c] is c's enclosing cluster.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let root = |parent: &[usize], mut c: usize| {
        while parent[c] != c {
            c = parent[c];
        }
        c
    };
    merges
        .iter()
        .enumerate()
        .map(|(step, m)| {
            let (a, b) = (root(&parent, m.dropped), root(&parent, m.kept));
            let id = n + step;
            parent[a] = id;
            parent[b] = id;
            (a.min(b), a.max(b))
        })
        .collect()
}

/// The leaves of the tree in pre-order, left child first
/// (`scipy.cluster.hierarchy.leaves_list`).
fn leaves(children: &[(usize, usize)], n: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![n + children.len() - 1];
    while let Some(node) = stack.pop() {
        if node < n {
            order.push(node);
        } else {
            let (left, right) = children[node - n];
            stack.push(right);
            stack.push(left);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symmetric(values: &[&[f64]]) -> Matrix {
        Matrix::from_rows(&values.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    }

    #[test]
    fn a_constant_column_is_reported_not_a_panic() {
        let x = Matrix::from_rows(&[vec![1.0, 0.3, 2.0], vec![2.0, 0.3, 4.5], vec![3.0, 0.3, 5.0]]);
        for c in [pearson(&x).unwrap(), spearman(&x).unwrap()] {
            assert_eq!(c.constant, vec![1]);
            assert!((0..3).all(|k| c.r.get(1, k).is_nan() && c.r.get(k, 1).is_nan()));
            assert_eq!(c.r.get(0, 0), 1.0);
            assert!(c.r.get(0, 2) > 0.9);
            assert_eq!(correlated_pairs(&c.r, 0.5), vec![(0, 2, c.r.get(0, 2))]);
            // f0 and f2 have the same mean |r| (each other's, f1 is left
            // out): the later goes; the constant column stays.
            assert_eq!(redundancy_keep(&c.r, 0.5), vec![0, 1]);
            assert_eq!(cluster_order(&c.r).len(), 3);
        }
        assert!(mean_abs_correlation(&pearson(&x).unwrap().r)[1].is_nan());
    }

    #[test]
    fn too_few_rows_or_missing_values_are_explained() {
        let e = pearson(&Matrix::from_rows(&[vec![1.0, 2.0]])).unwrap_err().to_string();
        assert!(e.contains("at least 2 rows"), "{e}");
        let e = spearman(&Matrix::from_rows(&[vec![1.0, 2.0], vec![f64::NAN, 3.0]])).unwrap_err().to_string();
        assert!(e.contains("row 2, column 1 is NaN"), "{e}");
    }

    #[test]
    fn spearman_is_one_for_a_monotone_pair_with_ties() {
        let x = Matrix::from_rows(&[vec![1.0, 1.0], vec![2.0, 4.0], vec![2.0, 4.0], vec![5.0, 100.0]]);
        assert!((spearman(&x).unwrap().r.get(0, 1) - 1.0).abs() < 1e-15);
        assert!(pearson(&x).unwrap().r.get(0, 1) < 0.99);
    }

    #[test]
    fn pairs_are_sorted_by_strength() {
        let r = symmetric(&[
            &[1.0, 0.95, -0.97, 0.1],
            &[0.95, 1.0, 0.5, 0.2],
            &[-0.97, 0.5, 1.0, 0.91],
            &[0.1, 0.2, 0.91, 1.0],
        ]);
        assert_eq!(correlated_pairs(&r, 0.9), vec![(0, 2, -0.97), (0, 1, 0.95), (2, 3, 0.91)]);
        assert!(correlated_pairs(&r, 0.99).is_empty());
    }

    #[test]
    fn the_keep_rule_drops_the_more_redundant_member() {
        // Mean |r| to the others: f0 0.673, f1 0.55, f2 0.793, f3 0.403.
        let r = symmetric(&[
            &[1.0, 0.95, -0.97, 0.1],
            &[0.95, 1.0, 0.5, 0.2],
            &[-0.97, 0.5, 1.0, 0.91],
            &[0.1, 0.2, 0.91, 1.0],
        ]);
        // (0, 2) is the strongest pair: f2 has the larger mean and goes. That
        // breaks (2, 3); (0, 1) remains: f0 (0.673 > 0.55) goes.
        assert_eq!(redundancy_keep(&r, 0.9), vec![1, 3]);
        // Nothing above the threshold: everything stays.
        assert_eq!(redundancy_keep(&r, 0.98), vec![0, 1, 2, 3]);
    }

    #[test]
    fn equal_means_drop_the_later_column() {
        let r = symmetric(&[&[1.0, 0.99], &[0.99, 1.0]]);
        assert_eq!(redundancy_keep(&r, 0.9), vec![0]);
    }

    #[test]
    fn clustering_puts_correlated_features_together() {
        // Blocks {0, 3} and {1, 2}, the second tighter.
        let r =
            symmetric(&[&[1.0, 0.1, 0.2, 0.8], &[0.1, 1.0, 0.95, 0.0], &[0.2, 0.95, 1.0, 0.1], &[0.8, 0.0, 0.1, 1.0]]);
        // Merges: (1, 2) → 4 at 0.05, (0, 3) → 5 at 0.2, (4, 5) → 6; root's
        // left child is the smaller id, 4.
        assert_eq!(cluster_order(&r), vec![1, 2, 0, 3]);
        assert_eq!(cluster_order(&Matrix::zeros(1, 1)), vec![0]);
    }
}
