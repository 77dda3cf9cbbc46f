//! Properties of the statistics and metrics that must hold for any input:
//! p-values in [0, 1], symmetry under swapping groups, AUC(1 − p) = 1 − AUC,
//! and AUC unchanged by monotone transforms of the scores.

use proptest::prelude::*;
use radose::core::learn::metrics::auc;
use radose::core::stats::{MwuMethod, chi_square, fisher_exact, kruskal_wallis, mann_whitney, t_test};

fn sample(min_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e3f64..1e3, min_len..40)
}

proptest! {
    #[test]
    fn mann_whitney_is_symmetric(x in sample(1), y in sample(1)) {
        for method in [MwuMethod::Auto, MwuMethod::Asymptotic] {
            let a = mann_whitney(&x, &y, method).unwrap();
            let b = mann_whitney(&y, &x, method).unwrap();
            prop_assert!((0.0..=1.0).contains(&a.p_value));
            prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
            prop_assert!((a.statistic + b.statistic - (x.len() * y.len()) as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn t_tests_are_symmetric(x in sample(2), y in sample(2)) {
        for equal_var in [true, false] {
            if let (Ok(a), Ok(b)) = (t_test(&x, &y, equal_var), t_test(&y, &x, equal_var)) {
                prop_assert!((0.0..=1.0).contains(&a.p_value));
                prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
                prop_assert!((a.statistic + b.statistic).abs() < 1e-9 * a.statistic.abs().max(1.0));
            }
        }
    }

    #[test]
    fn kruskal_p_in_range(x in sample(1), y in sample(1), z in sample(1)) {
        if let Ok(r) = kruskal_wallis(&[&x, &y, &z]) {
            prop_assert!((0.0..=1.0).contains(&r.p_value));
            let swapped = kruskal_wallis(&[&z, &x, &y]).unwrap();
            prop_assert!((r.p_value - swapped.p_value).abs() < 1e-12);
        }
    }

    #[test]
    fn chi_square_is_symmetric_under_transposition(cells in prop::collection::vec(1u32..50, 6), yates in any::<bool>()) {
        let t: Vec<Vec<f64>> = cells.chunks(3).map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
        let tt: Vec<Vec<f64>> = (0..3).map(|c| t.iter().map(|r| r[c]).collect()).collect();
        let a = chi_square(&t, yates).unwrap();
        let b = chi_square(&tt, yates).unwrap();
        prop_assert!((0.0..=1.0).contains(&a.test.p_value));
        prop_assert!((a.test.p_value - b.test.p_value).abs() < 1e-12);
    }

    #[test]
    fn fisher_is_symmetric_under_row_swap(a in 0u64..30, b in 0u64..30, c in 0u64..30, d in 0u64..30) {
        let p = fisher_exact([[a, b], [c, d]]).p_value;
        let q = fisher_exact([[c, d], [a, b]]).p_value;
        prop_assert!((0.0..=1.0).contains(&p));
        prop_assert!((p - q).abs() < 1e-12);
    }

    #[test]
    fn auc_complements_and_ignores_monotone_transforms(
        scores in prop::collection::vec(0.001f64..0.999, 4..60),
        labels in prop::collection::vec(0u8..2, 4..60),
    ) {
        let n = scores.len().min(labels.len());
        let (s, y) = (&scores[..n], &labels[..n]);
        let a = auc(s, y);
        if a.is_nan() {
            return Ok(());
        }
        let flipped: Vec<f64> = s.iter().map(|p| 1.0 - p).collect();
        prop_assert!((auc(&flipped, y) - (1.0 - a)).abs() < 1e-12);
        let logit: Vec<f64> = s.iter().map(|p| (p / (1.0 - p)).ln() * 3.0 + 7.0).collect();
        prop_assert!((auc(&logit, y) - a).abs() < 1e-12);
    }
}
