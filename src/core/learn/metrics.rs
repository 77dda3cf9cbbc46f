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

/// Everything a confusion matrix at one threshold gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AtThreshold {
    pub threshold: f64,
    pub accuracy: f64,
    pub f1: f64,
    /// TP / (TP + FN) (recall, true-positive rate).
    pub sensitivity: f64,
    /// TN / (TN + FP).
    pub specificity: f64,
    /// TP / (TP + FP) (precision); NaN when nothing is called positive.
    pub ppv: f64,
    /// TN / (TN + FN); NaN when nothing is called negative.
    pub npv: f64,
    pub counts: [usize; 4],
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

/// Metrics at `threshold` (probability ≥ threshold is positive).
pub fn at_threshold(prob: &[f64], truth: &[u8], threshold: f64) -> AtThreshold {
    let c = confusion(prob, truth, threshold);
    let [tp, fp, tn, fn_] = c;
    AtThreshold {
        threshold,
        accuracy: accuracy(prob, truth, threshold),
        f1: f1(prob, truth, threshold),
        sensitivity: ratio(tp, tp + fn_),
        specificity: ratio(tn, tn + fp),
        ppv: ratio(tp, tp + fp),
        npv: ratio(tn, tn + fn_),
        counts: c,
    }
}

/// The threshold maximising Youden's J = TPR − FPR over the ROC curve's
/// finite thresholds (the highest such threshold on ties). Choose it on
/// training data only, then apply it to held-out data.
pub fn youden_threshold(prob: &[f64], truth: &[u8]) -> Option<f64> {
    let roc = roc_curve(prob, truth)?;
    let mut best: Option<(f64, f64)> = None;
    for ((f, t), thr) in roc.fpr.iter().zip(&roc.tpr).zip(&roc.thresholds) {
        if !thr.is_finite() {
            continue;
        }
        let j = t - f;
        if best.is_none_or(|(bj, _)| j > bj) {
            best = Some((j, *thr));
        }
    }
    best.map(|(_, t)| t)
}

/// Brier score: mean squared difference between probability and outcome.
pub fn brier(prob: &[f64], truth: &[u8]) -> f64 {
    prob.iter().zip(truth).map(|(p, t)| (p - f64::from(*t)).powi(2)).sum::<f64>() / prob.len().max(1) as f64
}

/// Logistic recalibration: the slope b of logit P(y) = a + b·logit(p), and
/// the calibration intercept (calibration-in-the-large) a of
/// logit P(y) = a + logit(p) with the slope fixed at 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub intercept: f64,
    pub slope: f64,
}

/// logit(p) with p clipped to [1e-15, 1 − 1e-15].
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).ln()
}

/// Calibration intercept and slope by Newton–Raphson maximum likelihood
/// (the same fits as statsmodels' binomial GLM); `None` with one class.
pub fn calibration(prob: &[f64], truth: &[u8]) -> Option<Calibration> {
    let pos = truth.iter().filter(|&&t| t == 1).count();
    if pos == 0 || pos == truth.len() {
        return None;
    }
    let lp: Vec<f64> = prob.iter().map(|&p| logit(p)).collect();
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    // Intercept with offset logit(p).
    let mut a = 0.0;
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (l, t) in lp.iter().zip(truth) {
            let m = sigmoid(a + l);
            g += f64::from(*t) - m;
            h += m * (1.0 - m);
        }
        let step = g / h;
        a += step;
        if step.abs() < 1e-12 {
            break;
        }
    }
    // Intercept and slope.
    let (mut b0, mut b1) = (0.0, 1.0);
    for _ in 0..100 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (l, t) in lp.iter().zip(truth) {
            let m = sigmoid(b0 + b1 * l);
            let r = f64::from(*t) - m;
            let w = m * (1.0 - m);
            g0 += r;
            g1 += r * l;
            h00 += w;
            h01 += w * l;
            h11 += w * l * l;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 {
            return None;
        }
        let d0 = (h11 * g0 - h01 * g1) / det;
        let d1 = (h00 * g1 - h01 * g0) / det;
        b0 += d0;
        b1 += d1;
        if d0.abs().max(d1.abs()) < 1e-12 {
            break;
        }
    }
    (a.is_finite() && b1.is_finite()).then_some(Calibration { intercept: a, slope: b1 })
}

/// One bin of a reliability curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    pub mean_predicted: f64,
    pub fraction_positive: f64,
    pub count: usize,
}

/// scikit-learn's `calibration_curve(y, p, n_bins, strategy='uniform')`:
/// equal-width bins on [0, 1] (a probability on an inner edge belongs to
/// the lower bin), empty bins left out.
pub fn reliability(prob: &[f64], truth: &[u8], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let inner: Vec<f64> = (1..bins).map(|i| i as f64 / bins as f64).collect();
    let (mut sum_p, mut sum_t, mut n) = (vec![0.0; bins], vec![0.0; bins], vec![0usize; bins]);
    for (p, t) in prob.iter().zip(truth) {
        let b = inner.partition_point(|&e| e < *p);
        sum_p[b] += p;
        sum_t[b] += f64::from(*t);
        n[b] += 1;
    }
    (0..bins)
        .filter(|&b| n[b] > 0)
        .map(|b| ReliabilityBin {
            mean_predicted: sum_p[b] / n[b] as f64,
            fraction_positive: sum_t[b] / n[b] as f64,
            count: n[b],
        })
        .collect()
}

/// Stratified bootstrap percentile interval of the AUC: events and
/// non-events resampled separately with replacement, `reps` times, seeded.
pub fn bootstrap_auc(prob: &[f64], truth: &[u8], reps: usize, level: f64, seed: u64) -> Option<(f64, f64)> {
    let pos: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] == 1).collect();
    let neg: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] == 0).collect();
    if pos.is_empty() || neg.is_empty() || reps < 2 {
        return None;
    }
    let mut rng = crate::core::rng::Rng::new(seed);
    let mut aucs = Vec::with_capacity(reps);
    let (mut p, mut t) = (Vec::with_capacity(truth.len()), Vec::with_capacity(truth.len()));
    for _ in 0..reps {
        p.clear();
        t.clear();
        for (group, label) in [(&pos, 1u8), (&neg, 0u8)] {
            for _ in 0..group.len() {
                p.push(prob[group[rng.below(group.len())]]);
                t.push(label);
            }
        }
        aucs.push(auc(&p, &t));
    }
    aucs.sort_by(f64::total_cmp);
    let q = |f: f64| {
        let pos = f * (aucs.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        aucs[lo] + (aucs[hi] - aucs[lo]) * (pos - lo as f64)
    };
    let alpha = (1.0 - level) / 2.0;
    Some((q(alpha), q(1.0 - alpha)))
}

/// The mean ROC curve over folds, as in the paper's Figure 4: each fold's
/// TPR interpolated on a fixed FPR grid (0 … 1 in `points` steps, TPR(0) = 0,
/// TPR(1) = 1), then the mean and SD (n − 1) across folds at each point.
pub fn mean_roc(folds: &[Roc], points: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let grid: Vec<f64> = (0..points).map(|i| i as f64 / (points - 1) as f64).collect();
    let curves: Vec<Vec<f64>> = folds
        .iter()
        .map(|r| {
            let mut c: Vec<f64> = grid.iter().map(|&x| interp(x, &r.fpr, &r.tpr)).collect();
            c[0] = 0.0;
            c
        })
        .collect();
    let n = curves.len() as f64;
    let mut mean: Vec<f64> = (0..points).map(|i| curves.iter().map(|c| c[i]).sum::<f64>() / n).collect();
    if let Some(last) = mean.last_mut() {
        *last = 1.0;
    }
    let sd: Vec<f64> = (0..points)
        .map(|i| {
            if curves.len() < 2 {
                return 0.0;
            }
            let m = curves.iter().map(|c| c[i]).sum::<f64>() / n;
            (curves.iter().map(|c| (c[i] - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        })
        .collect();
    (grid, mean, sd)
}

/// numpy.interp: piecewise linear through (xp, fp), xp ascending; repeated
/// xp take the last point's value going right.
fn interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    if x <= xp[0] {
        return fp[0];
    }
    if x >= xp[xp.len() - 1] {
        return fp[fp.len() - 1];
    }
    let j = xp.partition_point(|&v| v <= x);
    let (x0, x1, y0, y1) = (xp[j - 1], xp[j], fp[j - 1], fp[j]);
    if x1 == x0 { y1 } else { y0 + (y1 - y0) * (x - x0) / (x1 - x0) }
}

/// Trapezoidal area under (x, y).
pub fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2).zip(y.windows(2)).map(|(a, b)| (a[1] - a[0]) * (b[0] + b[1]) / 2.0).sum()
}

#[cfg(test)]
mod evaluation_tests {
    use super::*;

    #[test]
    fn threshold_metrics_and_youden() {
        let p = [0.9, 0.8, 0.7, 0.55, 0.4, 0.3, 0.2, 0.1];
        let t = [1, 1, 0, 1, 0, 1, 0, 0];
        let m = at_threshold(&p, &t, 0.5);
        assert_eq!(m.counts, [3, 1, 3, 1]);
        assert_eq!((m.sensitivity, m.specificity, m.ppv, m.npv), (0.75, 0.75, 0.75, 0.75));
        // J is 0.5 at 0.8 (TPR .5, FPR 0), 0.5 at 0.55 (.75, .25), 0.5 at 0.3 (1, .5): the highest wins.
        assert_eq!(youden_threshold(&p, &t), Some(0.8));
        assert!((brier(&[1.0, 0.0, 0.5], &[1, 0, 1]) - 0.25 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn mean_roc_of_identical_folds_is_that_roc() {
        let r = roc_curve(&[0.9, 0.8, 0.3, 0.2], &[1, 0, 1, 0]).unwrap();
        let (grid, mean, sd) = mean_roc(&[r.clone(), r], 11);
        assert_eq!(grid.len(), 11);
        assert!(sd.iter().all(|&s| s == 0.0));
        assert!((trapezoid(&grid, &mean) - 0.75).abs() < 0.06);
    }

    #[test]
    fn bootstrap_interval_brackets_the_auc() {
        let mut rng = crate::core::rng::Rng::new(5);
        let t: Vec<u8> = (0..120).map(|i| u8::from(i % 3 == 0)).collect();
        let p: Vec<f64> = t.iter().map(|&y| rng.normal() + f64::from(y)).collect();
        let a = auc(&p, &t);
        let (lo, hi) = bootstrap_auc(&p, &t, 500, 0.95, 1).unwrap();
        assert!(lo < a && a < hi && hi - lo < 0.4, "{lo} {a} {hi}");
        assert_eq!(bootstrap_auc(&p, &t, 500, 0.95, 1), Some((lo, hi)), "seeded");
    }
}
