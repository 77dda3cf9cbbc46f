//! First-order (intensity) features, PyRadiomics' definitions: Energy,
//! TotalEnergy and RootMeanSquared on intensities + voxelArrayShift;
//! Entropy and Uniformity on the discretised histogram; population moments;
//! numpy's linear-interpolation percentiles. In IBSI mode Kurtosis is the
//! excess kurtosis (− 3).

/// The features of `x` (the ROI's intensities), `levels` its discretised
/// grey levels, `voxel_mm3` one voxel's volume.
pub fn features(x: &[f64], levels: &[u32], shift: f64, voxel_mm3: f64, ibsi: bool) -> Vec<(&'static str, f64)> {
    let n = x.len() as f64;
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pct = |q: f64| percentile(&sorted, q);
    let energy: f64 = x.iter().map(|v| (v + shift).powi(2)).sum();
    let mean = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    let m4 = x.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
    let (p10, p90) = (pct(10.0), pct(90.0));
    let inner: Vec<f64> = x.iter().copied().filter(|v| *v >= p10 && *v <= p90).collect();
    let inner_mean = inner.iter().sum::<f64>() / inner.len().max(1) as f64;
    let rmad = inner.iter().map(|v| (v - inner_mean).abs()).sum::<f64>() / inner.len().max(1) as f64;
    let max_level = levels.iter().copied().max().unwrap_or(0) as usize;
    let mut hist = vec![0.0; max_level + 1];
    for &l in levels {
        hist[l as usize] += 1.0;
    }
    let p: Vec<f64> = hist[1.min(hist.len())..].iter().map(|c| c / n).collect();
    let entropy = -p.iter().map(|v| v * (v + f64::EPSILON).log2()).sum::<f64>();
    let uniformity: f64 = p.iter().map(|v| v * v).sum();
    let (skewness, kurtosis) = if m2 == 0.0 { (0.0, 0.0) } else { (m3 / m2.powf(1.5), m4 / (m2 * m2)) };
    let kurtosis = if ibsi && m2 != 0.0 { kurtosis - 3.0 } else { kurtosis };
    vec![
        ("Energy", energy),
        ("TotalEnergy", energy * voxel_mm3),
        ("Entropy", entropy),
        ("Minimum", sorted[0]),
        ("10Percentile", p10),
        ("90Percentile", p90),
        ("Maximum", sorted[sorted.len() - 1]),
        ("Mean", mean),
        ("Median", pct(50.0)),
        ("InterquartileRange", pct(75.0) - pct(25.0)),
        ("Range", sorted[sorted.len() - 1] - sorted[0]),
        ("MeanAbsoluteDeviation", x.iter().map(|v| (v - mean).abs()).sum::<f64>() / n),
        ("RobustMeanAbsoluteDeviation", rmad),
        ("RootMeanSquared", (energy / n).sqrt()),
        ("StandardDeviation", m2.sqrt()),
        ("Skewness", skewness),
        ("Kurtosis", kurtosis),
        ("Variance", m2),
        ("Uniformity", uniformity),
    ]
}

/// numpy.percentile with linear interpolation on sorted data.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}
