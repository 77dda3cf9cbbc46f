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
