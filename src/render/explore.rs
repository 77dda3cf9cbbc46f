//! The numbers behind the exploration figures (histograms, box and violin
//! plots, scatter plots, heatmaps): histogram bins as `numpy.histogram`
//! makes them, box-plot statistics as matplotlib's `boxplot`, a Gaussian
//! kernel density estimate as `scipy.stats.gaussian_kde`, and the axis
//! ranges, tick labels and abbreviated names the figures share. Pure
//! functions of the values; `figures` draws what they return. Missing
//! (NaN) and infinite values are skipped everywhere.

/// The finite values of `values`, in order: missing and NaN cells dropped.
pub fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

/// The finite values of `values`, sorted ascending.
fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v = finite(values);
    v.sort_by(f64::total_cmp);
    v
}

/// The `bins + 1` edges of `bins` equal-width bins from the smallest to the
/// largest finite value, as `numpy.histogram(values, bins)`: a single value
/// (no range) is widened by 0.5 either side, and no values give 0..1.
/// `bins` of 0 is taken as 1.
pub fn bin_edges(values: &[f64], bins: usize) -> Vec<f64> {
    let bins = bins.max(1);
    let v = finite(values);
    let (mut lo, mut hi) = match (v.iter().copied().reduce(f64::min), v.iter().copied().reduce(f64::max)) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => (0.0, 1.0),
    };
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    // numpy.linspace: start + i × step, the last edge exactly the stop.
    let step = (hi - lo) / bins as f64;
    (0..=bins).map(|i| if i == bins { hi } else { lo + i as f64 * step }).collect()
}

/// How many finite values fall in each bin of `edges` (from
/// [`bin_edges`]). Bins are half-open `[a, b)` except the last, `[a, b]`;
/// values outside the edges are not counted. The bin is found as numpy
/// finds it, by scaling and then correcting against the edges, so a value
/// on an edge lands where numpy puts it.
pub fn histogram(values: &[f64], edges: &[f64]) -> Vec<usize> {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0; bins];
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else { return counts };
    if bins == 0 || last <= first {
        return counts;
    }
    let norm = bins as f64 / (last - first);
    for x in finite(values).into_iter().filter(|x| (first..=last).contains(x)) {
        let mut i = (((x - first) * norm).floor() as usize).min(bins - 1);
        if x < edges[i] {
            i = i.saturating_sub(1);
        } else if x >= edges[i + 1] && i != bins - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    counts
}

/// The `p` quantile (0 ≤ p ≤ 1) of values sorted ascending, by linear
/// interpolation between the closest ranks (numpy's default `linear`
/// method). NaN when there are no values.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else { return f64::NAN };
    let h = last as f64 * p.clamp(0.0, 1.0);
    let i = (h.floor() as usize).min(last);
    let t = h - i as f64;
    match sorted.get(i + 1) {
        Some(&next) if t > 0.0 => sorted[i] + t * (next - sorted[i]),
        _ => sorted[i],
    }
}

/// A box of a box plot, as matplotlib's `boxplot` (whis = 1.5) draws it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BoxStats {
    /// Finite values summarised.
    pub n: usize,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    /// The smallest value at or above q1 − 1.5 IQR (q1 if there is none).
    pub whisker_low: f64,
    /// The largest value at or below q3 + 1.5 IQR (q3 if there is none).
    pub whisker_high: f64,
    /// Values beyond the whiskers, ascending.
    pub outliers: Vec<f64>,
}

/// The box-plot statistics of the finite values; `None` when there are none.
pub fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let v = sorted_finite(values);
    if v.is_empty() {
        return None;
    }
    let (q1, median, q3) = (quantile_sorted(&v, 0.25), quantile_sorted(&v, 0.5), quantile_sorted(&v, 0.75));
    let iqr = q3 - q1;
    let whisker_high =
        v.iter().copied().filter(|x| *x <= q3 + 1.5 * iqr).reduce(f64::max).filter(|w| *w >= q3).unwrap_or(q3);
    let whisker_low =
        v.iter().copied().filter(|x| *x >= q1 - 1.5 * iqr).reduce(f64::min).filter(|w| *w <= q1).unwrap_or(q1);
    let outliers = v.iter().copied().filter(|x| *x < whisker_low || *x > whisker_high).collect();
    Some(BoxStats { n: v.len(), q1, median, q3, whisker_low, whisker_high, outliers })
}

/// The sample standard deviation (n − 1 in the denominator) of finite values.
fn sample_sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// The Gaussian kernel's standard deviation by Scott's rule, as
/// `scipy.stats.gaussian_kde` chooses it in one dimension: the factor
/// n^(−1/5) times the sample SD. `None` with fewer than two finite values or
/// none of them different (scipy refuses a singular covariance).
pub fn scott_bandwidth(values: &[f64]) -> Option<f64> {
    let v = finite(values);
    if v.len() < 2 {
        return None;
    }
    let h = (v.len() as f64).powf(-0.2) * sample_sd(&v);
    (h.is_finite() && h > 0.0).then_some(h)
}

/// The Gaussian kernel density estimate of the finite values at each point
/// of `at`, with [`scott_bandwidth`]; `None` where that is `None`.
pub fn gaussian_kde(values: &[f64], at: &[f64]) -> Option<Vec<f64>> {
    let h = scott_bandwidth(values)?;
    let v = finite(values);
    let norm = 1.0 / (v.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt());
    Some(at.iter().map(|x| norm * v.iter().map(|xi| (-0.5 * ((x - xi) / h).powi(2)).exp()).sum::<f64>()).collect())
}

/// A violin's outline: the density at `points` evenly spaced values from
/// the smallest to the largest finite value (matplotlib's `violinplot`
/// stops at the data's extremes), as (value, density). `None` when the
/// density cannot be estimated (one value, or all alike).
pub fn violin_outline(values: &[f64], points: usize) -> Option<Vec<(f64, f64)>> {
    let v = sorted_finite(values);
    let (&lo, &hi) = (v.first()?, v.last()?);
    let points = points.max(2);
    let at: Vec<f64> = (0..points).map(|i| lo + (hi - lo) * i as f64 / (points - 1) as f64).collect();
    let density = gaussian_kde(&v, &at)?;
    Some(at.into_iter().zip(density).collect())
}

/// An axis range that shows every finite value with 5% to spare either
/// side: a single value (no range) is widened by 0.5 either side first, and
/// no values give 0..1.
pub fn axis_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A tick label for `v` on an axis spanning `span`: as many decimals as
/// about six ticks need, and scientific notation for very large or very
/// small magnitudes.
pub fn tick_label(v: f64, span: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    // Adding zero turns −0 into 0, so no tick reads "-0.0".
    let v = v + 0.0;
    let magnitude = v.abs().max(span.abs());
    if v != 0.0 && !(1e-3..1e5).contains(&magnitude) {
        return format!("{v:.1e}");
    }
    let step = (span.abs() / 6.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 4.0) as usize;
    format!("{v:.decimals$}")
}

/// `label` shortened to at most `max` characters by cutting out its middle
/// (radiomics names share their beginnings and differ at the end, so both
/// ends are kept, the end longer).
pub fn abbreviate(label: &str, max: usize) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= max || max < 3 {
        return label.to_string();
    }
    let head = (max - 1) / 3;
    let tail = max - 1 - head;
    let mut short: String = chars[..head].iter().collect();
    short.push('…');
    short.extend(&chars[chars.len() - tail..]);
    short
}

#[cfg(test)]
mod tests {
    //! Reference values from numpy 2.4.6, scipy 1.17.1 and matplotlib 3.11.2.
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn histogram_bins_as_numpy() {
        // np.histogram([0.5, 1, 1, 2, 3.5, 4, 4, 4, 10], bins=5)
        let v = [0.5, 1.0, 1.0, 2.0, 3.5, 4.0, 4.0, 4.0, 10.0, f64::NAN];
        let e = bin_edges(&v, 5);
        for (a, b) in e.iter().zip([0.5, 2.4, 4.3, 6.2, 8.1, 10.0]) {
            assert!(close(*a, b), "{e:?}");
        }
        assert_eq!(histogram(&v, &e), vec![4, 4, 0, 0, 1]);
        // Values on edges: np.histogram([0.1, 0.2, 0.3, 0.7, 1.0], bins=10)
        let v = [0.1, 0.2, 0.3, 0.7, 1.0];
        assert_eq!(histogram(&v, &bin_edges(&v, 10)), vec![1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
        // One value: np.histogram([3.0], bins=4) → edges 2.5 … 3.5.
        let e = bin_edges(&[3.0], 4);
        assert_eq!(e, vec![2.5, 2.75, 3.0, 3.25, 3.5]);
        assert_eq!(histogram(&[3.0], &e), vec![0, 0, 1, 0]);
        // No values.
        assert_eq!(bin_edges(&[f64::NAN], 2), vec![0.0, 0.5, 1.0]);
        assert_eq!(histogram(&[], &bin_edges(&[], 0)), vec![0]);
    }

    #[test]
    fn quartiles_and_whiskers_as_matplotlib() {
        // matplotlib.cbook.boxplot_stats([-20, 1, 2, …, 9, 100])
        let v = [-20.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0, f64::NAN];
        let b = box_stats(&v).unwrap();
        assert_eq!((b.n, b.q1, b.median, b.q3), (11, 2.5, 5.0, 7.5));
        assert_eq!((b.whisker_low, b.whisker_high), (1.0, 9.0));
        assert_eq!(b.outliers, vec![-20.0, 100.0]);
        // Interpolated quartiles: boxplot_stats([1, …, 9, 100]).
        let b = box_stats(&[100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
        assert_eq!((b.q1, b.median, b.q3, b.whisker_low, b.whisker_high), (3.25, 5.5, 7.75, 1.0, 9.0));
        assert_eq!(b.outliers, vec![100.0]);
        // np.percentile([2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8], [25, 50, 75])
        let b = box_stats(&[2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8]).unwrap();
        assert!(close(b.q1, 2.45) && close(b.median, 3.3) && close(b.q3, 3.9000000000000004), "{b:?}");
        // One value, and none.
        let b = box_stats(&[5.0]).unwrap();
        assert_eq!((b.q1, b.median, b.q3, b.whisker_low, b.whisker_high), (5.0, 5.0, 5.0, 5.0, 5.0));
        assert!(b.outliers.is_empty());
        assert_eq!(box_stats(&[f64::NAN]), None);
    }

    #[test]
    fn kde_bandwidth_is_scotts_factor_times_the_sample_sd() {
        let v = [2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8];
        // gaussian_kde(v).factor and sqrt(covariance), v.std(ddof=1)
        let (factor, kernel_sd, sd) = (0.677610913400481, 0.880770074114279, 1.2998168369134973);
        assert!(close(7f64.powf(-0.2), factor));
        let h = scott_bandwidth(&v).unwrap();
        assert!(close(h, factor * sd) && close(h, kernel_sd), "{h}");
        // gaussian_kde(v)([0.0, 2.5, 3.3, 6.0])
        let d = gaussian_kde(&v, &[0.0, 2.5, 3.3, 6.0]).unwrap();
        for (a, b) in d.iter().zip([0.010596782230904477, 0.2584072013024835, 0.2597513157535351, 0.07230475730482731])
        {
            assert!(close(*a, b), "{d:?}");
        }
        // Missing values are skipped, not spread.
        assert_eq!(scott_bandwidth(&[2.1, f64::NAN, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8]), Some(h));
        assert_eq!(scott_bandwidth(&[1.0]), None);
        assert_eq!(scott_bandwidth(&[1.0, 1.0]), None);
        assert_eq!(violin_outline(&[4.0], 50), None);
        let outline = violin_outline(&v, 5).unwrap();
        assert_eq!((outline[0].0, outline[4].0), (1.9, 5.6));
    }

    #[test]
    fn ranges_ticks_and_abbreviations() {
        assert_eq!(axis_range([f64::NAN]), (0.0, 1.0));
        assert_eq!(axis_range([2.0]), (1.45, 2.55));
        let (lo, hi) = axis_range([0.0, 10.0, f64::INFINITY]);
        assert!(close(lo, -0.5) && close(hi, 10.5));
        assert_eq!(tick_label(0.3, 1.0), "0.3");
        assert_eq!(tick_label(250.0, 600.0), "250");
        assert_eq!(tick_label(0.0, 1.0), "0.0");
        assert_eq!(tick_label(-0.0, 2.0), "0.0");
        assert_eq!(tick_label(123456.0, 200000.0), "1.2e5");
        assert_eq!(abbreviate("short", 10), "short");
        let a = abbreviate("T1_original_glcm_ClusterProminence", 16);
        assert_eq!(a.chars().count(), 16);
        assert_eq!(a, "T1_or…Prominence");
    }
}
