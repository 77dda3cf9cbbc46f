//! Dose-volume histograms of a structure: its volume, mean, minimum and
//! maximum dose, and the usual metrics read off the cumulative DVH —
//! `D95` (the dose covering the hottest 95% of the volume), `D2cc` (the
//! dose covering the hottest 2 cm³), `V20Gy` (the percentage of the volume
//! receiving at least 20 Gy). Doses are binned from 0 Gy in `bin_gy` steps,
//! as DVH calculators do: a `D` metric is the upper edge of the highest bin
//! whose cumulative volume still reaches the asked volume, a `V` metric the
//! volume of voxels at or above the dose.

use crate::error::{Error, Result};

/// A metric asked for, as written (`D95`, `D2cc`, `V20Gy`).
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Dose (Gy) covering this percentage of the volume.
    DosePercent(f64),
    /// Dose (Gy) covering this many cm³.
    DoseCc(f64),
    /// Percentage of the volume receiving at least this many Gy.
    VolumeGy(f64),
}

impl Metric {
    /// `D95`, `D50`, `D2cc`, `D0.1cc`, `V20Gy`, `V5gy`.
    pub fn parse(text: &str) -> Result<Metric> {
        let bad = || {
            Error::invalid(
                format!("`{text}` is not a DVH metric"),
                Some("write Dxx (Gy covering xx% of the volume), Dxcc (Gy covering x cm³) or VxGy (% receiving x Gy)"),
            )
        };
        let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        if let Some(rest) = text.strip_prefix('D').or_else(|| text.strip_prefix('d')) {
            let lower = rest.to_ascii_lowercase();
            if let Some(cc) = lower.strip_suffix("cc") {
                return number(cc).map(Metric::DoseCc).ok_or_else(bad);
            }
            return number(rest).filter(|p| *p <= 100.0).map(Metric::DosePercent).ok_or_else(bad);
        }
        if let Some(rest) = text.strip_prefix('V').or_else(|| text.strip_prefix('v')) {
            let lower = rest.to_ascii_lowercase();
            return lower.strip_suffix("gy").and_then(number).map(Metric::VolumeGy).ok_or_else(bad);
        }
        Err(bad())
    }
}

/// A structure's dose summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub volume_cc: f64,
    pub mean_gy: f64,
    pub min_gy: f64,
    pub max_gy: f64,
    /// The asked metrics, in order (NaN when the structure is empty).
    pub metrics: Vec<f64>,
}

/// The summary of the doses `doses` (one per voxel inside the structure),
/// each voxel `voxel_cc` cm³, with the DVH binned every `bin_gy`.
pub fn summarise(doses: &[f64], voxel_cc: f64, bin_gy: f64, metrics: &[Metric]) -> Result<Summary> {
    if !(bin_gy > 0.0 && bin_gy.is_finite()) {
        return Err(Error::invalid(format!("--bin-gy {bin_gy} must be a positive number of Gy"), None));
    }
    let n = doses.len();
    if n == 0 {
        let nan = f64::NAN;
        return Ok(Summary {
            volume_cc: 0.0,
            mean_gy: nan,
            min_gy: nan,
            max_gy: nan,
            metrics: vec![nan; metrics.len()],
        });
    }
    let max = doses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = doses.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = doses.iter().sum::<f64>() / n as f64;
    // counts[b]: voxels with dose in [b·bin, (b+1)·bin); negative doses in bin 0.
    let bins = (max.max(0.0) / bin_gy).floor() as usize + 1;
    let mut counts = vec![0usize; bins];
    for &d in doses {
        let b = ((d.max(0.0) / bin_gy).floor() as usize).min(bins - 1);
        counts[b] += 1;
    }
    // at_least[b]: voxels with dose ≥ b·bin.
    let mut at_least = vec![0usize; bins + 1];
    for b in (0..bins).rev() {
        at_least[b] = at_least[b + 1] + counts[b];
    }
    // The upper edge of the highest bin whose voxels at or above it reach `want` voxels.
    let dose_covering = |want: f64| -> f64 {
        if want <= 0.0 {
            return max;
        }
        match (0..bins).rev().find(|&b| at_least[b] as f64 >= want - 1e-9) {
            Some(b) => ((b + 1) as f64 * bin_gy).min(max),
            None => 0.0,
        }
    };
    let values = metrics
        .iter()
        .map(|m| match m {
            Metric::DosePercent(p) => dose_covering(p / 100.0 * n as f64),
            Metric::DoseCc(cc) => {
                if *cc > n as f64 * voxel_cc {
                    f64::NAN
                } else {
                    dose_covering(cc / voxel_cc)
                }
            }
            Metric::VolumeGy(g) => 100.0 * doses.iter().filter(|&&d| d >= *g).count() as f64 / n as f64,
        })
        .collect();
    Ok(Summary { volume_cc: n as f64 * voxel_cc, mean_gy: mean, min_gy: min, max_gy: max, metrics: values })
}

/// The cumulative DVH: for each dose `b·bin_gy` from 0 up past the maximum,
/// the percentage of the structure receiving at least that dose. Empty for
/// an empty structure.
pub fn cumulative(doses: &[f64], bin_gy: f64) -> Vec<(f64, f64)> {
    let n = doses.len();
    if n == 0 || !(bin_gy > 0.0 && bin_gy.is_finite()) {
        return Vec::new();
    }
    let max = doses.iter().copied().fold(0.0, f64::max);
    let bins = (max / bin_gy).floor() as usize + 2;
    let mut counts = vec![0usize; bins];
    for &d in doses {
        // A dose exactly on an edge reaches it.
        let b = ((d.max(0.0) / bin_gy + 1e-9).floor() as usize).min(bins - 1);
        counts[b] += 1;
    }
    let mut at_least = n;
    let mut out = Vec::with_capacity(bins);
    for (b, c) in counts.iter().enumerate() {
        out.push((b as f64 * bin_gy, 100.0 * at_least as f64 / n as f64));
        at_least -= c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cumulative_dvh_steps_down_at_each_dose() {
        let c = cumulative(&[0.5, 1.0, 1.0, 2.25], 0.5);
        // ≥ 0: all; ≥ 0.5: all; ≥ 1.0: 3; ≥ 1.5 and ≥ 2.0: 1; ≥ 2.5: none.
        let want = [(0.0, 100.0), (0.5, 100.0), (1.0, 75.0), (1.5, 25.0), (2.0, 25.0), (2.5, 0.0)];
        assert_eq!(c.len(), want.len());
        for (a, b) in c.iter().zip(want) {
            assert!((a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12, "{a:?} vs {b:?}");
        }
        assert!(cumulative(&[], 0.1).is_empty());
    }

    #[test]
    fn metrics_parse_as_written() {
        assert_eq!(Metric::parse("D95").unwrap(), Metric::DosePercent(95.0));
        assert_eq!(Metric::parse("D2cc").unwrap(), Metric::DoseCc(2.0));
        assert_eq!(Metric::parse("D0.1cc").unwrap(), Metric::DoseCc(0.1));
        assert_eq!(Metric::parse("V20Gy").unwrap(), Metric::VolumeGy(20.0));
        for bad in ["D101", "X5", "V20", "Dabc", "V-1Gy", ""] {
            assert!(Metric::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_uniform_ramp_gives_the_expected_figures() {
        // 1000 voxels of 0.001 cm³ with doses 0.05, 0.15, …, 99.95 Gy: uniform on [0, 100].
        let doses: Vec<f64> = (0..1000).map(|i| i as f64 * 0.1 + 0.05).collect();
        let m = [
            Metric::DosePercent(95.0),
            Metric::DosePercent(50.0),
            Metric::DoseCc(0.2),
            Metric::VolumeGy(20.0),
            Metric::DoseCc(5.0),
        ];
        let s = summarise(&doses, 0.001, 0.1, &m).unwrap();
        assert!((s.volume_cc - 1.0).abs() < 1e-12);
        assert!((s.mean_gy - 50.0).abs() < 1e-9);
        assert_eq!((s.min_gy, s.max_gy), (0.05, 99.95));
        // The hottest 95% (950 voxels) are those from 5.0 Gy up: the bin [5.0, 5.1) is the last, edge 5.1.
        assert!((s.metrics[0] - 5.1).abs() < 1e-9, "{}", s.metrics[0]);
        assert!((s.metrics[1] - 50.1).abs() < 1e-9, "{}", s.metrics[1]);
        // 0.2 cm³ = the hottest 200 voxels, from 80.0 Gy.
        assert!((s.metrics[2] - 80.1).abs() < 1e-9, "{}", s.metrics[2]);
        assert!((s.metrics[3] - 80.0).abs() < 1e-9, "{}", s.metrics[3]);
        assert!(s.metrics[4].is_nan(), "more cm³ than the structure has");
        assert!(summarise(&doses, 0.001, 0.0, &m).is_err());
    }
}
