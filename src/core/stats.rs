//! Hypothesis tests for baseline tables, matching scipy's conventions:
//! Pearson chi-square (optionally Yates-corrected), Fisher's exact test,
//! Mann-Whitney U, Kruskal-Wallis, Student's and Welch's t-tests, and the
//! standardized mean difference. Pure functions returning typed results.
//!
//! Distributions come from statrs; the tests themselves are written here
//! because statrs lacks a contingency-table chi-square and Yates' correction,
//! and its Mann-Whitney does not follow scipy's exact/asymptotic rules.

use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal};
use statrs::function::beta::beta_reg;
use statrs::function::factorial::ln_factorial;

use crate::error::{Error, Result};

/// The outcome of a hypothesis test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The test statistic (χ², U, H, t; the odds ratio for Fisher).
    pub statistic: f64,
    /// Degrees of freedom, where the test has them.
    pub df: Option<f64>,
    pub p_value: f64,
    /// The method, as a table footnote would name it.
    pub method: String,
    /// Observations used.
    pub n: usize,
}

/// A chi-square result with its expected counts, for the "expected < 5" rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiSquareResult {
    pub test: TestResult,
    pub expected: Vec<Vec<f64>>,
    /// The smallest expected count.
    pub min_expected: f64,
    /// How many cells have an expected count below 5.
    pub cells_below_5: usize,
}

fn bad(message: impl Into<String>) -> Error {
    Error::invalid(message, None)
}

/// Pearson's chi-square test of independence on an r×c table of counts,
/// as `scipy.stats.chi2_contingency(table, correction=yates)`. Yates'
/// correction applies only when there is one degree of freedom (2×2).
pub fn chi_square(table: &[Vec<f64>], yates: bool) -> Result<ChiSquareResult> {
    let r = table.len();
    let c = table.first().map_or(0, Vec::len);
    if r == 0 || c == 0 || table.iter().any(|row| row.len() != c) {
        return Err(bad("chi-square needs a rectangular table with at least one row and column"));
    }
    if table.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(bad("chi-square needs non-negative counts"));
    }
    let row_sums: Vec<f64> = table.iter().map(|row| row.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..c).map(|j| table.iter().map(|row| row[j]).sum()).collect();
    let total: f64 = row_sums.iter().sum();
    if let Some(i) = row_sums.iter().position(|s| *s == 0.0) {
        return Err(bad(format!(
            "chi-square: row {} of the table has no observations (an empty level or group)",
            i + 1
        )));
    }
    if let Some(j) = col_sums.iter().position(|s| *s == 0.0) {
        return Err(bad(format!(
            "chi-square: column {} of the table has no observations (an empty level or group)",
            j + 1
        )));
    }
    let expected: Vec<Vec<f64>> =
        row_sums.iter().map(|rs| col_sums.iter().map(|cs| rs * cs / total).collect()).collect();
    let df = ((r - 1) * (c - 1)) as f64;
    let min_expected = expected.iter().flatten().copied().fold(f64::INFINITY, f64::min);
    let cells_below_5 = expected.iter().flatten().filter(|e| **e < 5.0).count();
    let corrected = yates && df == 1.0;
    let (statistic, p_value) = if df == 0.0 {
        (0.0, 1.0)
    } else {
        let mut stat = 0.0;
        for (obs_row, exp_row) in table.iter().zip(&expected) {
            for (&o, &e) in obs_row.iter().zip(exp_row) {
                let mut o = o;
                if corrected {
                    // Move each observed count toward its expectation by at most 0.5.
                    let diff = e - o;
                    o += diff.signum() * diff.abs().min(0.5);
                }
                stat += (o - e) * (o - e) / e;
            }
        }
        (stat, chi2_sf(stat, df))
    };
    let method = if corrected { "chi-square with Yates' correction" } else { "Pearson chi-square" };
    Ok(ChiSquareResult {
        test: TestResult { statistic, df: Some(df), p_value, method: method.into(), n: total as usize },
        expected,
        min_expected,
        cells_below_5,
    })
}

fn chi2_sf(x: f64, df: f64) -> f64 {
    ChiSquared::new(df).map_or(f64::NAN, |d| d.sf(x))
}

fn ln_hypergeom_pmf(x: u64, total: u64, successes: u64, draws: u64) -> f64 {
    ln_choose(successes, x) + ln_choose(total - successes, draws - x) - ln_choose(total, draws)
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// Fisher's exact test on a 2×2 table, two-sided, as
/// `scipy.stats.fisher_exact`: the p-value sums the probabilities of all
/// tables with the same margins that are no more likely than the observed
/// one (relative tolerance 1e-14). The statistic is the sample odds ratio.
pub fn fisher_exact(table: [[u64; 2]; 2]) -> TestResult {
    let [[a, b], [c, d]] = table;
    let n = (a + b + c + d) as usize;
    let method = "Fisher's exact test".to_string();
    let odds_ratio = if c > 0 && b > 0 { (a * d) as f64 / (b * c) as f64 } else { f64::INFINITY };
    if a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0 {
        return TestResult { statistic: f64::NAN, df: None, p_value: 1.0, method, n };
    }
    let row1 = a + b;
    let total = a + b + c + d;
    let col1 = a + c;
    let lo = col1.saturating_sub(c + d);
    let hi = col1.min(row1);
    let observed = ln_hypergeom_pmf(a, total, row1, col1).exp();
    let threshold = observed * (1.0 + 1e-14);
    let p: f64 = (lo..=hi).map(|x| ln_hypergeom_pmf(x, total, row1, col1).exp()).filter(|p| *p <= threshold).sum();
    TestResult { statistic: odds_ratio, df: None, p_value: p.min(1.0), method, n }
}

/// Average ranks (1-based, ties share their mean rank) and the sizes of the
/// tie groups.
pub fn rank_average(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        ties.push(end - start);
        start = end;
    }
    (ranks, ties)
}

fn check_sample(x: &[f64], name: &str) -> Result<()> {
    if x.is_empty() {
        return Err(bad(format!("{name} has no observations")));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!("{name} contains a missing or non-finite value")));
    }
    Ok(())
}

/// Which distribution a Mann-Whitney p-value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MwuMethod {
    /// scipy's `method="auto"`: exact when one sample has at most 8
    /// observations and there are no ties, else asymptotic.
    Auto,
    Exact,
    Asymptotic,
    /// The normal approximation with the tie correction and without the
    /// continuity correction: SPSS's asymptotic significance (scipy's
    /// `method="asymptotic", use_continuity=False`).
    AsymptoticNoContinuity,
}

/// The two-sided Mann-Whitney U test as `scipy.stats.mannwhitneyu(x, y)`:
/// the statistic is U of `x`; the exact null distribution for small samples
/// without ties, otherwise the normal approximation with tie and continuity
/// corrections.
pub fn mann_whitney(x: &[f64], y: &[f64], method: MwuMethod) -> Result<TestResult> {
    check_sample(x, "the first sample")?;
    check_sample(y, "the second sample")?;
    let (n1, n2) = (x.len(), y.len());
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, ties) = rank_average(&all);
    let r1: f64 = ranks[..n1].iter().sum();
    let u1 = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let u = u1.max(u2);
    let has_ties = ties.iter().any(|t| *t > 1);
    let exact = match method {
        MwuMethod::Exact => true,
        MwuMethod::Asymptotic | MwuMethod::AsymptoticNoContinuity => false,
        MwuMethod::Auto => !(n1 > 8 && n2 > 8) && !has_ties,
    };
    if exact && n1 * n2 > 20_000_000 {
        return Err(bad(format!(
            "the exact Mann-Whitney distribution for {n1} × {n2} observations is too large to tabulate; use the normal approximation"
        )));
    }
    let (p, name) = if exact {
        (2.0 * mwu_exact_sf(u.round() as u64, n1.min(n2) as u64, n1.max(n2) as u64), "Mann-Whitney U (exact)")
    } else {
        let n = (n1 + n2) as f64;
        let mu = (n1 * n2) as f64 / 2.0;
        let tie_term: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum();
        let s = ((n1 * n2) as f64 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let continuity = if method == MwuMethod::AsymptoticNoContinuity { 0.0 } else { 0.5 };
        let z = (u - mu - continuity) / s;
        let p = if s > 0.0 { 2.0 * Normal::standard().sf(z) } else { f64::NAN };
        let name = if continuity == 0.0 {
            "Mann-Whitney U (normal approximation, no continuity correction)"
        } else {
            "Mann-Whitney U (normal approximation)"
        };
        (p, name)
    };
    Ok(TestResult { statistic: u1, df: None, p_value: p.clamp(0.0, 1.0), method: name.into(), n: n1 + n2 })
}

/// P(U ≥ k) under the null for samples of sizes m ≤ n, from the exact
/// frequencies of U (the coefficients of the Gaussian binomial [m+n, m]_q).
fn mwu_exact_sf(k: u64, m: u64, n: u64) -> f64 {
    let max_u = m * n;
    // By symmetry P(U ≥ k) = P(U ≤ mn − k).
    let upto = max_u.saturating_sub(k) as usize;
    if k > max_u {
        return 0.0;
    }
    let counts = gaussian_binomial_coefficients(m as usize, n as usize);
    let total: f64 = counts.iter().sum();
    let below: f64 = counts[..=upto].iter().sum();
    below / total
}

/// Coefficients of the Gaussian binomial [m+n choose m]_q: the number of
/// arrangements with each value of U. Built as ∏ (1 − q^{n+i}) / (1 − q^i),
/// exactly in i128 while that cannot overflow, else in f64.
fn gaussian_binomial_coefficients(m: usize, n: usize) -> Vec<f64> {
    let ln_total = ln_choose((m + n) as u64, m as u64);
    if ln_total < 120.0 * std::f64::consts::LN_2 {
        q_binomial::<i128>(m, n).into_iter().map(|v| v as f64).collect()
    } else {
        q_binomial::<f64>(m, n)
    }
}

/// The product ∏ (1 − q^{n+i}) / (1 − q^i), i = 1..=m, as coefficients in `T`.
fn q_binomial<T: Copy + From<u8> + std::ops::AddAssign + std::ops::SubAssign>(m: usize, n: usize) -> Vec<T> {
    let len = m * n + 1;
    let mut c = vec![T::from(0); len];
    c[0] = T::from(1);
    for i in 1..=m {
        let up = n + i;
        for u in (up..len).rev() {
            let v = c[u - up];
            c[u] -= v;
        }
        for u in i..len {
            let v = c[u - i];
            c[u] += v;
        }
    }
    c
}

/// The Kruskal-Wallis H test with tie correction, as `scipy.stats.kruskal`.
pub fn kruskal_wallis(groups: &[&[f64]]) -> Result<TestResult> {
    if groups.len() < 2 {
        return Err(bad("Kruskal-Wallis needs at least two groups"));
    }
    for (i, g) in groups.iter().enumerate() {
        check_sample(g, &format!("group {}", i + 1))?;
    }
    let all: Vec<f64> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let n = all.len() as f64;
    let (ranks, ties) = rank_average(&all);
    let mut offset = 0;
    let mut sum = 0.0;
    for g in groups {
        let r: f64 = ranks[offset..offset + g.len()].iter().sum();
        sum += r * r / g.len() as f64;
        offset += g.len();
    }
    let h = 12.0 / (n * (n + 1.0)) * sum - 3.0 * (n + 1.0);
    let tie_term: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum();
    let correction = 1.0 - tie_term / (n * n * n - n);
    if correction <= 0.0 {
        return Err(bad("Kruskal-Wallis: all values are identical, so there is nothing to rank"));
    }
    let h = h / correction;
    let df = (groups.len() - 1) as f64;
    Ok(TestResult {
        statistic: h,
        df: Some(df),
        p_value: chi2_sf(h, df),
        method: "Kruskal-Wallis H".into(),
        n: all.len(),
    })
}

/// Sample mean and variance (n − 1).
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Two-sided p-value of Student's t with `df` degrees of freedom.
fn t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    beta_reg(df / 2.0, 0.5, df / (df + t * t))
}

/// The two-sample t-test as `scipy.stats.ttest_ind(x, y, equal_var=…)`:
/// Student's (pooled variance) when `equal_var`, else Welch's.
pub fn t_test(x: &[f64], y: &[f64], equal_var: bool) -> Result<TestResult> {
    check_sample(x, "the first sample")?;
    check_sample(y, "the second sample")?;
    if x.len() < 2 || y.len() < 2 {
        return Err(bad("a t-test needs at least two observations in each group"));
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let (m1, v1) = mean_var(x);
    let (m2, v2) = mean_var(y);
    let (t, df, method) = if equal_var {
        let df = n1 + n2 - 2.0;
        let pooled = ((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / df;
        ((m1 - m2) / (pooled * (1.0 / n1 + 1.0 / n2)).sqrt(), df, "Student's t-test")
    } else {
        let (a, b) = (v1 / n1, v2 / n2);
        let df = (a + b).powi(2) / (a * a / (n1 - 1.0) + b * b / (n2 - 1.0));
        ((m1 - m2) / (a + b).sqrt(), df, "Welch's t-test")
    };
    if !t.is_finite() {
        return Err(bad("t-test: both groups are constant, so the test is undefined"));
    }
    Ok(TestResult {
        statistic: t,
        df: Some(df),
        p_value: t_two_sided(t, df),
        method: method.into(),
        n: x.len() + y.len(),
    })
}

/// One-way analysis of variance, as `scipy.stats.f_oneway`. With two
/// groups its p-value equals Student's t-test's.
pub fn one_way_anova(groups: &[&[f64]]) -> Result<TestResult> {
    if groups.len() < 2 {
        return Err(bad("ANOVA needs at least two groups"));
    }
    for (i, g) in groups.iter().enumerate() {
        check_sample(g, &format!("group {}", i + 1))?;
    }
    let n: usize = groups.iter().map(|g| g.len()).sum();
    let k = groups.len();
    if n <= k {
        return Err(bad("ANOVA needs more observations than groups"));
    }
    let grand = groups.iter().flat_map(|g| g.iter()).sum::<f64>() / n as f64;
    let mut between = 0.0;
    let mut within = 0.0;
    for g in groups {
        let m = g.iter().sum::<f64>() / g.len() as f64;
        between += g.len() as f64 * (m - grand).powi(2);
        within += g.iter().map(|v| (v - m).powi(2)).sum::<f64>();
    }
    let (df1, df2) = ((k - 1) as f64, (n - k) as f64);
    if within == 0.0 {
        return Err(bad("ANOVA: every group is constant, so the test is undefined"));
    }
    let f = (between / df1) / (within / df2);
    let p = FisherSnedecor::new(df1, df2).map_or(f64::NAN, |d| d.sf(f));
    Ok(TestResult { statistic: f, df: Some(df1), p_value: p, method: "one-way ANOVA".into(), n })
}

/// Standardized mean difference of a continuous variable between groups x
/// and y: (mean_y − mean_x) / √((s_x² + s_y²)/2), with tableone's sign
/// (second group minus first).
pub fn smd_continuous(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || y.len() < 2 {
        return f64::NAN;
    }
    let (m1, v1) = mean_var(x);
    let (m2, v2) = mean_var(y);
    let denom = ((v1 + v2) / 2.0).sqrt();
    if denom == 0.0 { if m1 == m2 { 0.0 } else { f64::INFINITY } } else { (m2 - m1) / denom }
}

/// Standardized difference of a categorical variable between two groups
/// given the level proportions of each (Yang & Dalton 2012): for k levels,
/// √((p₁−p₂)ᵀ S⁻¹ (p₁−p₂)) over the first k−1 levels, S the mean of the
/// two multinomial covariance matrices. For two levels this is
/// |p₁−p₂| / √((p₁(1−p₁) + p₂(1−p₂))/2).
pub fn smd_categorical(p1: &[f64], p2: &[f64]) -> f64 {
    let k = p1.len().min(p2.len());
    if k < 2 {
        return f64::NAN;
    }
    let d: Vec<f64> = (0..k - 1).map(|i| p1[i] - p2[i]).collect();
    let s: Vec<Vec<f64>> = (0..k - 1)
        .map(|i| {
            (0..k - 1)
                .map(|j| {
                    let cov = |p: &[f64]| {
                        if i == j { p[i] * (1.0 - p[i]) } else { -p[i] * p[j] }
                    };
                    (cov(p1) + cov(p2)) / 2.0
                })
                .collect()
        })
        .collect();
    match solve(s, d.clone()) {
        Some(x) => d.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>().max(0.0).sqrt(),
        None => f64::NAN,
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_ties() {
        let (r, t) = rank_average(&[3.0, 1.0, 3.0, 2.0]);
        assert_eq!(r, vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(t, vec![1, 1, 2]);
    }

    #[test]
    fn exact_u_distribution_is_symmetric_and_sums_to_binomial() {
        let c = gaussian_binomial_coefficients(3, 4);
        assert_eq!(c.iter().sum::<f64>(), 35.0);
        let rev: Vec<f64> = c.iter().rev().copied().collect();
        assert_eq!(c, rev);
    }

    #[test]
    fn smd_binary_matches_formula() {
        let s = smd_categorical(&[0.3, 0.7], &[0.5, 0.5]);
        let expect = 0.2 / ((0.3 * 0.7 + 0.25) / 2.0f64).sqrt();
        assert!((s - expect).abs() < 1e-12);
    }
}
