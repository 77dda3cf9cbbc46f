//! Classification metrics used inside cross-validation: AUC (ties count
//! half, as scikit-learn's `roc_auc_score`), accuracy and F1 at a threshold.

/// Area under the ROC curve; NaN when only one class is present.
pub fn auc(prob: &[f64], truth: &[u8]) -> f64 {
    let mut idx: Vec<usize> = (0..prob.len()).collect();
    idx.sort_by(|&a, &b| prob[a].total_cmp(&prob[b]));
    // Mann-Whitney U from average ranks.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && prob[idx[j]] == prob[idx[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        rank_sum_pos += idx[i..j].iter().filter(|&&k| truth[k] == 1).count() as f64 * rank;
        i = j;
    }
    let pos = truth.iter().filter(|&&t| t == 1).count() as f64;
    let neg = truth.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Counts of true/false positives/negatives at `threshold` (≥ is positive).
pub fn confusion(prob: &[f64], truth: &[u8], threshold: f64) -> [usize; 4] {
    let mut c = [0usize; 4]; // tp, fp, tn, fn
    for (p, t) in prob.iter().zip(truth) {
        match (*p >= threshold, *t == 1) {
            (true, true) => c[0] += 1,
            (true, false) => c[1] += 1,
            (false, false) => c[2] += 1,
            (false, true) => c[3] += 1,
        }
    }
    c
}

pub fn accuracy(prob: &[f64], truth: &[u8], threshold: f64) -> f64 {
    let [tp, _, tn, _] = confusion(prob, truth, threshold);
    (tp + tn) as f64 / truth.len().max(1) as f64
}

/// F1 = 2TP / (2TP + FP + FN); 0 when there are no positives at all.
pub fn f1(prob: &[f64], truth: &[u8], threshold: f64) -> f64 {
    let [tp, fp, _, fn_] = confusion(prob, truth, threshold);
    let denom = 2 * tp + fp + fn_;
    if denom == 0 { 0.0 } else { 2.0 * tp as f64 / denom as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_with_ties_matches_sklearn() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), 0.75);
        // roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == 0.875
        assert_eq!(auc(&[0.5, 0.5, 0.2, 0.9], &[0, 1, 0, 1]), 0.875);
        assert!(auc(&[0.1, 0.2], &[1, 1]).is_nan());
    }

    #[test]
    fn threshold_metrics() {
        let p = [0.9, 0.6, 0.4, 0.2];
        let t = [1, 0, 1, 0];
        assert_eq!(accuracy(&p, &t, 0.5), 0.5);
        assert_eq!(f1(&p, &t, 0.5), 0.5);
    }
}

/// A ROC curve as scikit-learn's `roc_curve(y, score)` returns it
/// (`drop_intermediate=True`): points at each distinct score from the
/// highest down, collinear points dropped, starting at (0, 0) with an
/// infinite threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// The ROC curve of `score` for 0/1 `truth`; `None` when a class is absent.
pub fn roc_curve(score: &[f64], truth: &[u8]) -> Option<Roc> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    // Descending by score; among ties, the later index first (as numpy's
    // stable ascending mergesort reversed).
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    order.reverse();
    let (mut tps, mut fps, mut thresholds) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        if truth[i] == 1 {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_value = order.get(pos + 1).is_none_or(|&next| score[next] != score[i]);
        if last_of_value {
            tps.push(tp);
            fps.push(fp);
            thresholds.push(score[i]);
        }
    }
    let (p, n) = (tp, fp);
    if p == 0.0 || n == 0.0 {
        return None;
    }
    // Drop points where both the FP and TP sequences are locally linear.
    let keep: Vec<usize> = (0..tps.len())
        .filter(|&k| {
            k == 0 || k + 1 == tps.len() || {
                let d2 = |v: &[f64]| v[k + 1] - 2.0 * v[k] + v[k - 1];
                d2(&fps) != 0.0 || d2(&tps) != 0.0
            }
        })
        .collect();
    let mut roc = Roc { fpr: vec![0.0], tpr: vec![0.0], thresholds: vec![f64::INFINITY] };
    for k in keep {
        roc.fpr.push(fps[k] / n);
        roc.tpr.push(tps[k] / p);
        roc.thresholds.push(thresholds[k]);
    }
    Some(roc)
}

/// DeLong's structural components for one score: per positive and per
/// negative patient, the share of the other class it outranks (ties half).
fn placements(score: &[f64], truth: &[u8]) -> Option<(Vec<f64>, Vec<f64>)> {
    let pos: Vec<f64> = score.iter().zip(truth).filter(|(_, t)| **t == 1).map(|(s, _)| *s).collect();
    let neg: Vec<f64> = score.iter().zip(truth).filter(|(_, t)| **t != 1).map(|(s, _)| *s).collect();
    if pos.len() < 2 || neg.len() < 2 {
        return None;
    }
    let psi = |x: f64, y: f64| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
    let v10 = pos.iter().map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / neg.len() as f64).collect();
    let v01 = neg.iter().map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / pos.len() as f64).collect();
    Some((v10, v01))
}

fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum::<f64>() / (n - 1.0)
}

/// AUC with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeLong {
    pub auc: f64,
    pub variance: f64,
}

impl DeLong {
    /// The normal-theory confidence interval at `level` (e.g. 0.95),
    /// clipped to [0, 1].
    pub fn ci(&self, level: f64) -> (f64, f64) {
        use statrs::distribution::{ContinuousCDF, Normal};
        let z = Normal::standard().inverse_cdf(0.5 + level / 2.0);
        let half = z * self.variance.max(0.0).sqrt();
        ((self.auc - half).max(0.0), (self.auc + half).min(1.0))
    }
}

/// DeLong's AUC and variance; `None` with fewer than two of either class.
pub fn delong(score: &[f64], truth: &[u8]) -> Option<DeLong> {
    let (v10, v01) = placements(score, truth)?;
    let auc = v10.iter().sum::<f64>() / v10.len() as f64;
    let variance = covariance(&v10, &v10) / v10.len() as f64 + covariance(&v01, &v01) / v01.len() as f64;
    Some(DeLong { auc, variance })
}

/// The paired DeLong test of two scores on the same patients: the z
/// statistic of AUC_a − AUC_b, its two-sided p-value and the variance of the
/// difference.
pub fn delong_paired(a: &[f64], b: &[f64], truth: &[u8]) -> Option<(f64, f64, f64)> {
    use statrs::distribution::{ContinuousCDF, Normal};
    let (a10, a01) = placements(a, truth)?;
    let (b10, b01) = placements(b, truth)?;
    let (m, n) = (a10.len() as f64, a01.len() as f64);
    let auc_a = a10.iter().sum::<f64>() / m;
    let auc_b = b10.iter().sum::<f64>() / m;
    let var = (covariance(&a10, &a10) + covariance(&b10, &b10) - 2.0 * covariance(&a10, &b10)) / m
        + (covariance(&a01, &a01) + covariance(&b01, &b01) - 2.0 * covariance(&a01, &b01)) / n;
    if var <= 0.0 {
        // Identical rankings: no difference to test.
        return Some((0.0, 1.0, var.max(0.0)));
    }
    let z = (auc_a - auc_b) / var.sqrt();
    let p = (2.0 * Normal::standard().sf(z.abs())).min(1.0);
    Some((z, p, var))
}
