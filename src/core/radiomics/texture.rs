//! The texture matrices (GLCM, GLRLM, GLSZM, GLDM, NGTDM) of a discretised
//! ROI and their features, with PyRadiomics' definitions: matrices per
//! direction, grey levels absent from the ROI removed, features per
//! direction averaged (ignoring empty directions), `eps = 2.22e-16` inside
//! logarithms, and PyRadiomics' fall-back values for flat regions.

use crate::core::learn::matrix::{Matrix, symmetric_eigenvalues};

/// Machine epsilon, as `numpy.spacing(1)`.
const EPS: f64 = f64::EPSILON;

/// A discretised ROI: grey level per voxel (0 = outside the ROI), x fastest.
#[derive(Debug, Clone)]
pub struct Levels {
    pub size: [usize; 3],
    pub spacing: [f64; 3],
    pub data: Vec<u32>,
}

impl Levels {
    fn at(&self, p: [isize; 3]) -> u32 {
        if (0..3).any(|a| p[a] < 0 || p[a] >= self.size[a] as isize) {
            return 0;
        }
        self.data[p[0] as usize + self.size[0] * (p[1] as usize + self.size[1] * p[2] as usize)]
    }

    fn coords(&self) -> impl Iterator<Item = (usize, [isize; 3])> + '_ {
        let [nx, ny, _] = self.size;
        self.data
            .iter()
            .enumerate()
            .filter(|(_, l)| **l > 0)
            .map(move |(i, _)| (i, [(i % nx) as isize, ((i / nx) % ny) as isize, (i / (nx * ny)) as isize]))
    }

    /// The grey levels present, ascending.
    pub fn present(&self) -> Vec<u32> {
        let mut seen = vec![false; self.max_level() as usize + 1];
        for &l in &self.data {
            seen[l as usize] = true;
        }
        (1..seen.len()).filter(|&l| seen[l]).map(|l| l as u32).collect()
    }

    pub fn max_level(&self) -> u32 {
        self.data.iter().copied().max().unwrap_or(0)
    }
}

/// PyRadiomics' `generateAngles`: one of each ± pair of offsets whose
/// Chebyshev length is in `distances`, in-plane only under force2D (the
/// axis `force2d_axis` in x, y, z order), and no longer than the ROI box.
pub fn angles(size: [usize; 3], distances: &[usize], force2d_axis: Option<usize>) -> Vec<[isize; 3]> {
    let max = distances.iter().copied().max().unwrap_or(1) as isize;
    let mut out = Vec::new();
    for dz in -max..=max {
        for dy in -max..=max {
            for dx in -max..=max {
                let a = [dx, dy, dz];
                let cheb = a.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
                if cheb == 0 || !distances.contains(&cheb) {
                    continue;
                }
                // Keep the half whose first non-zero component (z, then y, then x) is positive.
                let first = [dz, dy, dx].into_iter().find(|&v| v != 0).unwrap_or(0);
                if first < 0 {
                    continue;
                }
                if force2d_axis.is_some_and(|ax| a[ax] != 0) {
                    continue;
                }
                if (0..3).any(|k| a[k].unsigned_abs() >= size[k]) {
                    continue;
                }
                out.push(a);
            }
        }
    }
    out
}

fn add(p: [isize; 3], a: [isize; 3], s: isize) -> [isize; 3] {
    [p[0] + s * a[0], p[1] + s * a[1], p[2] + s * a[2]]
}

/// How the per-direction matrices are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// Features per direction, then averaged (PyRadiomics' default).
    None,
    /// Summed with weights exp(−‖offset ⊙ spacing‖²) in the given norm (PyRadiomics' `weightingNorm`).
    Manhattan,
    Euclidean,
    Infinity,
    /// Summed with weight 1 (IBSI "merged").
    NoWeighting,
}

fn weights(angles: &[[isize; 3]], spacing: [f64; 3], w: Weighting) -> Vec<f64> {
    angles
        .iter()
        .map(|a| {
            let d: Vec<f64> = (0..3).map(|k| a[k].unsigned_abs() as f64 * spacing[k]).collect();
            match w {
                Weighting::Infinity => (-d.iter().copied().fold(0.0, f64::max).powi(2)).exp(),
                Weighting::Euclidean => (-d.iter().map(|x| x * x).sum::<f64>()).exp(),
                Weighting::Manhattan => (-d.iter().sum::<f64>().powi(2)).exp(),
                Weighting::NoWeighting | Weighting::None => 1.0,
            }
        })
        .collect()
}

/// Combines per-angle matrices (each `len` long) per the weighting: either
/// the angles themselves, or one weighted sum.
fn combine(mats: Vec<Vec<f64>>, angles: &[[isize; 3]], spacing: [f64; 3], w: Weighting) -> Vec<Vec<f64>> {
    if w == Weighting::None {
        return mats;
    }
    let ws = weights(angles, spacing, w);
    let len = mats.first().map_or(0, Vec::len);
    let mut sum = vec![0.0; len];
    for (m, wt) in mats.iter().zip(ws) {
        for (s, v) in sum.iter_mut().zip(m) {
            *s += wt * v;
        }
    }
    vec![sum]
}

/// Mean over directions of per-direction values, skipping NaN (empty directions).
fn nanmean(v: &[f64]) -> f64 {
    let (s, n) = v.iter().filter(|x| !x.is_nan()).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

// ───────────────────────────── GLCM ─────────────────────────────

/// GLCM features (PyRadiomics names) of the ROI.
pub fn glcm(l: &Levels, angles: &[[isize; 3]], symmetrical: bool, w: Weighting) -> Vec<(&'static str, f64)> {
    let ng_max = l.max_level() as usize;
    let present = l.present();
    let ng = present.len();
    let mut index = vec![usize::MAX; ng_max + 1];
    for (k, &g) in present.iter().enumerate() {
        index[g as usize] = k;
    }
    let mut mats = Vec::new();
    for &a in angles {
        let mut p = vec![0.0; ng * ng];
        for (i, c) in l.coords() {
            let j = l.at(add(c, a, 1));
            if j > 0 {
                p[index[l.data[i] as usize] * ng + index[j as usize]] += 1.0;
            }
        }
        if symmetrical {
            let t = p.clone();
            for r in 0..ng {
                for c in 0..ng {
                    p[r * ng + c] += t[c * ng + r];
                }
            }
        }
        mats.push(p);
    }
    let mut mats = combine(mats, angles, l.spacing, w);
    // Empty directions are dropped when there are several.
    if mats.len() > 1 {
        mats.retain(|m| m.iter().sum::<f64>() > 0.0);
    }
    let levels: Vec<f64> = present.iter().map(|&g| f64::from(g)).collect();
    let per: Vec<Vec<(&'static str, f64)>> = mats.iter().map(|m| glcm_features(m, ng, ng_max, &levels)).collect();
    average(per)
}

fn average(per: Vec<Vec<(&'static str, f64)>>) -> Vec<(&'static str, f64)> {
    let Some(first) = per.first() else { return Vec::new() };
    (0..first.len()).map(|f| (first[f].0, nanmean(&per.iter().map(|v| v[f].1).collect::<Vec<_>>()))).collect()
}

fn glcm_features(counts: &[f64], ng: usize, ng_max: usize, lv: &[f64]) -> Vec<(&'static str, f64)> {
    let total: f64 = counts.iter().sum();
    let names = [
        "Autocorrelation",
        "JointAverage",
        "ClusterProminence",
        "ClusterShade",
        "ClusterTendency",
        "Contrast",
        "Correlation",
        "DifferenceAverage",
        "DifferenceEntropy",
        "DifferenceVariance",
        "JointEnergy",
        "JointEntropy",
        "Imc1",
        "Imc2",
        "Idm",
        "MCC",
        "Idmn",
        "Id",
        "Idn",
        "InverseVariance",
        "MaximumProbability",
        "SumAverage",
        "SumEntropy",
        "SumSquares",
    ];
    if total == 0.0 {
        return names.iter().map(|n| (*n, f64::NAN)).collect();
    }
    let p: Vec<f64> = counts.iter().map(|c| c / total).collect();
    let at = |i: usize, j: usize| p[i * ng + j];
    let px: Vec<f64> = (0..ng).map(|i| (0..ng).map(|j| at(i, j)).sum()).collect();
    let py: Vec<f64> = (0..ng).map(|j| (0..ng).map(|i| at(i, j)).sum()).collect();
    let ux: f64 = (0..ng).map(|i| lv[i] * px[i]).sum();
    let uy: f64 = (0..ng).map(|j| lv[j] * py[j]).sum();
    // p_{x+y}(k), k = 2 … 2·Ng_max; p_{x−y}(k), k = 0 … Ng_max − 1.
    let mut psum = vec![0.0; 2 * ng_max + 1];
    let mut pdiff = vec![0.0; ng_max];
    for i in 0..ng {
        for j in 0..ng {
            psum[(lv[i] + lv[j]) as usize] += at(i, j);
            pdiff[(lv[i] - lv[j]).abs() as usize] += at(i, j);
        }
    }
    let ent = |v: &[f64]| -v.iter().map(|x| x * (x + EPS).log2()).sum::<f64>();
    let hx = ent(&px);
    let hy = ent(&py);
    let hxy = ent(&p);
    let (mut hxy1, mut hxy2) = (0.0, 0.0);
    for i in 0..ng {
        for j in 0..ng {
            let q = px[i] * py[j];
            hxy1 -= at(i, j) * (q + EPS).log2();
            hxy2 -= q * (q + EPS).log2();
        }
    }
    let sum_ij = |f: &dyn Fn(f64, f64) -> f64| -> f64 {
        let mut s = 0.0;
        for i in 0..ng {
            for j in 0..ng {
                s += f(lv[i], lv[j]) * at(i, j);
            }
        }
        s
    };
    let autocorrelation = sum_ij(&|i, j| i * j);
    let prominence = sum_ij(&|i, j| (i + j - ux - uy).powi(4));
    let shade = sum_ij(&|i, j| (i + j - ux - uy).powi(3));
    let tendency = sum_ij(&|i, j| (i + j - ux - uy).powi(2));
    let contrast = sum_ij(&|i, j| (i - j).powi(2));
    let sigx = sum_ij(&|i, _| (i - ux).powi(2)).sqrt();
    let sigy = sum_ij(&|_, j| (j - uy).powi(2)).sqrt();
    let corm = sum_ij(&|i, j| (i - ux) * (j - uy));
    let correlation = if sigx * sigy == 0.0 { 1.0 } else { corm / (sigx * sigy) };
    let kd = |k: usize| k as f64;
    let diff_avg: f64 = pdiff.iter().enumerate().map(|(k, v)| kd(k) * v).sum();
    let diff_ent = ent(&pdiff);
    let diff_var: f64 = pdiff.iter().enumerate().map(|(k, v)| (kd(k) - diff_avg).powi(2) * v).sum();
    let energy: f64 = p.iter().map(|x| x * x).sum();
    let div = hx.max(hy);
    let imc1 = if div != 0.0 { (hxy - hxy1) / div } else { 0.0 };
    let imc2 = if hxy2 == hxy { 0.0 } else { (1.0 - (-2.0 * (hxy2 - hxy)).exp()).max(0.0).sqrt() };
    let idm: f64 = pdiff.iter().enumerate().map(|(k, v)| v / (1.0 + kd(k).powi(2))).sum();
    let ngf = ng_max as f64;
    let idmn: f64 = pdiff.iter().enumerate().map(|(k, v)| v / (1.0 + kd(k).powi(2) / (ngf * ngf))).sum();
    let id: f64 = pdiff.iter().enumerate().map(|(k, v)| v / (1.0 + kd(k))).sum();
    let idn: f64 = pdiff.iter().enumerate().map(|(k, v)| v / (1.0 + kd(k) / ngf)).sum();
    let inv_var: f64 = pdiff.iter().enumerate().skip(1).map(|(k, v)| v / kd(k).powi(2)).sum();
    let max_prob = p.iter().copied().fold(0.0, f64::max);
    let sum_avg: f64 = psum.iter().enumerate().map(|(k, v)| kd(k) * v).sum();
    let sum_ent = ent(&psum[2.min(psum.len())..]);
    let sum_squares = sum_ij(&|i, _| (i - ux).powi(2));
    let mcc = mcc(&p, ng, &px, &py);
    let values = [
        autocorrelation,
        ux,
        prominence,
        shade,
        tendency,
        contrast,
        correlation,
        diff_avg,
        diff_ent,
        diff_var,
        energy,
        hxy,
        imc1,
        imc2,
        idm,
        mcc,
        idmn,
        id,
        idn,
        inv_var,
        max_prob,
        sum_avg,
        sum_ent,
        sum_squares,
    ];
    names.into_iter().zip(values).collect()
}

/// Maximal correlation coefficient: √ of the second-largest eigenvalue of
/// Q(i, j) = Σₖ p(i, k) p(j, k) / (pₓ(i) p_y(k)), through the symmetric
/// matrix D^{-1/2} P D_y^{-1} Pᵀ D^{-1/2} that has the same eigenvalues.
fn mcc(p: &[f64], ng: usize, px: &[f64], py: &[f64]) -> f64 {
    if ng < 2 {
        return 1.0;
    }
    let mut s = Matrix::zeros(ng, ng);
    for i in 0..ng {
        for j in 0..ng {
            if px[i] == 0.0 || px[j] == 0.0 {
                continue;
            }
            let v: f64 = (0..ng).filter(|&k| py[k] > 0.0).map(|k| p[i * ng + k] * p[j * ng + k] / py[k]).sum();
            s.set(i, j, v / (px[i] * px[j]).sqrt());
        }
    }
    // Descending: the second is the one MCC takes.
    let values = symmetric_eigenvalues(&s);
    values.get(1).map_or(1.0, |v| v.max(0.0).sqrt())
}

// ───────────────────────────── GLRLM ─────────────────────────────

/// GLRLM features.
pub fn glrlm(l: &Levels, angles: &[[isize; 3]], w: Weighting) -> Vec<(&'static str, f64)> {
    let present = l.present();
    let ng = present.len();
    let mut index = vec![usize::MAX; l.max_level() as usize + 1];
    for (k, &g) in present.iter().enumerate() {
        index[g as usize] = k;
    }
    let nr = *l.size.iter().max().unwrap_or(&1);
    let mut mats = Vec::new();
    for &a in angles {
        let mut m = vec![0.0; ng * nr];
        for (i, c) in l.coords() {
            let g = l.data[i];
            if l.at(add(c, a, -1)) == g {
                continue; // not the start of a run
            }
            let mut len = 1;
            while l.at(add(c, a, len as isize)) == g {
                len += 1;
            }
            m[index[g as usize] * nr + len - 1] += 1.0;
        }
        mats.push(m);
    }
    let mut mats = combine(mats, angles, l.spacing, w);
    if mats.len() > 1 {
        mats.retain(|m| m.iter().sum::<f64>() > 0.0);
    }
    let lv: Vec<f64> = present.iter().map(|&g| f64::from(g)).collect();
    average(mats.iter().map(|m| size_features(m, &lv, nr, SizeKind::Run, None)).collect())
}

#[derive(Clone, Copy, PartialEq)]
enum SizeKind {
    Run,
    Zone,
    Dependence,
}

/// The features shared by GLRLM, GLSZM and GLDM: a (grey level × size)
/// count matrix, `n_vox` the ROI's voxel count where the class uses it.
fn size_features(m: &[f64], lv: &[f64], ns: usize, kind: SizeKind, n_vox: Option<f64>) -> Vec<(&'static str, f64)> {
    let ng = lv.len();
    let total: f64 = m.iter().sum();
    let names: &[&'static str] = match kind {
        SizeKind::Run => &[
            "ShortRunEmphasis",
            "LongRunEmphasis",
            "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized",
            "RunLengthNonUniformity",
            "RunLengthNonUniformityNormalized",
            "RunPercentage",
            "GrayLevelVariance",
            "RunVariance",
            "RunEntropy",
            "LowGrayLevelRunEmphasis",
            "HighGrayLevelRunEmphasis",
            "ShortRunLowGrayLevelEmphasis",
            "ShortRunHighGrayLevelEmphasis",
            "LongRunLowGrayLevelEmphasis",
            "LongRunHighGrayLevelEmphasis",
        ],
        SizeKind::Zone => &[
            "SmallAreaEmphasis",
            "LargeAreaEmphasis",
            "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized",
            "SizeZoneNonUniformity",
            "SizeZoneNonUniformityNormalized",
            "ZonePercentage",
            "GrayLevelVariance",
            "ZoneVariance",
            "ZoneEntropy",
            "LowGrayLevelZoneEmphasis",
            "HighGrayLevelZoneEmphasis",
            "SmallAreaLowGrayLevelEmphasis",
            "SmallAreaHighGrayLevelEmphasis",
            "LargeAreaLowGrayLevelEmphasis",
            "LargeAreaHighGrayLevelEmphasis",
        ],
        SizeKind::Dependence => &[
            "SmallDependenceEmphasis",
            "LargeDependenceEmphasis",
            "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized",
            "DependenceNonUniformity",
            "DependenceNonUniformityNormalized",
            "DependencePercentage",
            "GrayLevelVariance",
            "DependenceVariance",
            "DependenceEntropy",
            "LowGrayLevelEmphasis",
            "HighGrayLevelEmphasis",
            "SmallDependenceLowGrayLevelEmphasis",
            "SmallDependenceHighGrayLevelEmphasis",
            "LargeDependenceLowGrayLevelEmphasis",
            "LargeDependenceHighGrayLevelEmphasis",
        ],
    };
    if total == 0.0 {
        return names.iter().map(|n| (*n, f64::NAN)).collect();
    }
    let at = |g: usize, s: usize| m[g * ns + s];
    let ps: Vec<f64> = (0..ns).map(|s| (0..ng).map(|g| at(g, s)).sum()).collect();
    let pg: Vec<f64> = (0..ng).map(|g| (0..ns).map(|s| at(g, s)).sum()).collect();
    let j = |s: usize| (s + 1) as f64;
    let sre = ps.iter().enumerate().map(|(s, v)| v / j(s).powi(2)).sum::<f64>() / total;
    let lre = ps.iter().enumerate().map(|(s, v)| v * j(s).powi(2)).sum::<f64>() / total;
    let gln = pg.iter().map(|v| v * v).sum::<f64>() / total;
    let glnn = pg.iter().map(|v| v * v).sum::<f64>() / (total * total);
    let rln = ps.iter().map(|v| v * v).sum::<f64>() / total;
    let rlnn = ps.iter().map(|v| v * v).sum::<f64>() / (total * total);
    let np = n_vox.unwrap_or_else(|| ps.iter().enumerate().map(|(s, v)| v * j(s)).sum::<f64>());
    let percentage = total / np;
    let mu_i: f64 = (0..ng).map(|g| lv[g] * pg[g]).sum::<f64>() / total;
    let glv: f64 = (0..ng).map(|g| (lv[g] - mu_i).powi(2) * pg[g]).sum::<f64>() / total;
    let mu_j: f64 = (0..ns).map(|s| j(s) * ps[s]).sum::<f64>() / total;
    let sv: f64 = (0..ns).map(|s| (j(s) - mu_j).powi(2) * ps[s]).sum::<f64>() / total;
    let entropy: f64 = -m.iter().map(|v| v / total).map(|p| p * (p + EPS).log2()).sum::<f64>();
    let lgle = (0..ng).map(|g| pg[g] / lv[g].powi(2)).sum::<f64>() / total;
    let hgle = (0..ng).map(|g| pg[g] * lv[g].powi(2)).sum::<f64>() / total;
    let mut cross = [0.0; 4];
    for g in 0..ng {
        for s in 0..ns {
            let v = at(g, s);
            if v == 0.0 {
                continue;
            }
            let (i2, j2) = (lv[g].powi(2), j(s).powi(2));
            cross[0] += v / (i2 * j2);
            cross[1] += v * i2 / j2;
            cross[2] += v * j2 / i2;
            cross[3] += v * i2 * j2;
        }
    }
    let values = [
        sre,
        lre,
        gln,
        glnn,
        rln,
        rlnn,
        percentage,
        glv,
        sv,
        entropy,
        lgle,
        hgle,
        cross[0] / total,
        cross[1] / total,
        cross[2] / total,
        cross[3] / total,
    ];
    names.iter().copied().zip(values).collect()
}

// ───────────────────────────── GLSZM ─────────────────────────────

/// GLSZM features: zones are connected (through `angles`, both ways) voxels of one level.
pub fn glszm(l: &Levels, angles: &[[isize; 3]]) -> Vec<(&'static str, f64)> {
    let present = l.present();
    let mut index = vec![usize::MAX; l.max_level() as usize + 1];
    for (k, &g) in present.iter().enumerate() {
        index[g as usize] = k;
    }
    let [nx, ny, _] = l.size;
    let mut seen = vec![false; l.data.len()];
    let mut zones: Vec<(usize, usize)> = Vec::new();
    let mut stack = Vec::new();
    for (i, _) in l.coords() {
        if seen[i] {
            continue;
        }
        let g = l.data[i];
        seen[i] = true;
        stack.push(i);
        let mut count = 0;
        while let Some(v) = stack.pop() {
            count += 1;
            let c = [(v % nx) as isize, ((v / nx) % ny) as isize, (v / (nx * ny)) as isize];
            for a in angles {
                for s in [-1, 1] {
                    let q = add(c, *a, s);
                    if l.at(q) == g {
                        let qi = q[0] as usize + nx * (q[1] as usize + ny * q[2] as usize);
                        if !seen[qi] {
                            seen[qi] = true;
                            stack.push(qi);
                        }
                    }
                }
            }
        }
        zones.push((index[g as usize], count));
    }
    let ns = zones.iter().map(|z| z.1).max().unwrap_or(1);
    let ng = present.len();
    let mut m = vec![0.0; ng * ns];
    for (g, s) in zones {
        m[g * ns + s - 1] += 1.0;
    }
    let n_vox = l.data.iter().filter(|&&x| x > 0).count() as f64;
    let lv: Vec<f64> = present.iter().map(|&g| f64::from(g)).collect();
    size_features(&m, &lv, ns, SizeKind::Zone, Some(n_vox))
}

// ───────────────────────────── GLDM ─────────────────────────────

/// GLDM features: each voxel's count of neighbours (through `angles`, both
/// ways) within `alpha` grey levels of it; size = count + 1.
pub fn gldm(l: &Levels, angles: &[[isize; 3]], alpha: f64) -> Vec<(&'static str, f64)> {
    let present = l.present();
    let mut index = vec![usize::MAX; l.max_level() as usize + 1];
    for (k, &g) in present.iter().enumerate() {
        index[g as usize] = k;
    }
    let nd = 2 * angles.len() + 1;
    let ng = present.len();
    let mut m = vec![0.0; ng * nd];
    for (i, c) in l.coords() {
        let g = l.data[i];
        let mut dep = 0;
        for a in angles {
            for s in [-1, 1] {
                let q = l.at(add(c, *a, s));
                if q > 0 && (f64::from(q) - f64::from(g)).abs() <= alpha {
                    dep += 1;
                }
            }
        }
        m[index[g as usize] * nd + dep] += 1.0;
    }
    let n_vox = l.data.iter().filter(|&&x| x > 0).count() as f64;
    let lv: Vec<f64> = present.iter().map(|&g| f64::from(g)).collect();
    size_features(&m, &lv, nd, SizeKind::Dependence, Some(n_vox))
        .into_iter()
        .filter(|(n, _)| *n != "GrayLevelNonUniformityNormalized" && *n != "DependencePercentage")
        .collect()
}

// ───────────────────────────── NGTDM ─────────────────────────────

/// NGTDM features: each voxel against the mean level of its in-ROI
/// neighbours (through `angles`, both ways); voxels without one are skipped.
pub fn ngtdm(l: &Levels, angles: &[[isize; 3]]) -> Vec<(&'static str, f64)> {
    let present = l.present();
    let mut index = vec![usize::MAX; l.max_level() as usize + 1];
    for (k, &g) in present.iter().enumerate() {
        index[g as usize] = k;
    }
    let ng = present.len();
    let (mut n, mut s) = (vec![0.0; ng], vec![0.0; ng]);
    for (i, c) in l.coords() {
        let g = l.data[i];
        let (mut sum, mut cnt) = (0.0, 0usize);
        for a in angles {
            for sg in [-1, 1] {
                let q = l.at(add(c, *a, sg));
                if q > 0 {
                    sum += f64::from(q);
                    cnt += 1;
                }
            }
        }
        if cnt > 0 {
            let k = index[g as usize];
            n[k] += 1.0;
            s[k] += (f64::from(g) - sum / cnt as f64).abs();
        }
    }
    let lv: Vec<f64> = present.iter().map(|&g| f64::from(g)).collect();
    ngtdm_features(&lv, &n, &s)
}

fn ngtdm_features(lv: &[f64], n: &[f64], s: &[f64]) -> Vec<(&'static str, f64)> {
    let nvp: f64 = n.iter().sum();
    let p: Vec<f64> = n.iter().map(|x| if nvp > 0.0 { x / nvp } else { 0.0 }).collect();
    let idx: Vec<usize> = (0..lv.len()).filter(|&k| p[k] > 0.0).collect();
    let ngp = idx.len() as f64;
    let sum_ps: f64 = idx.iter().map(|&k| p[k] * s[k]).sum();
    let sum_s: f64 = s.iter().sum();
    let coarseness = if sum_ps == 0.0 { 1e6 } else { 1.0 / sum_ps };
    let contrast = if ngp <= 1.0 {
        0.0
    } else {
        let mut t = 0.0;
        for &i in &idx {
            for &j in &idx {
                t += p[i] * p[j] * (lv[i] - lv[j]).powi(2);
            }
        }
        t / (ngp * (ngp - 1.0)) * sum_s / nvp
    };
    let (mut busy_den, mut complexity, mut strength_num) = (0.0, 0.0, 0.0);
    for &i in &idx {
        for &j in &idx {
            busy_den += (lv[i] * p[i] - lv[j] * p[j]).abs();
            complexity += (lv[i] - lv[j]).abs() * (p[i] * s[i] + p[j] * s[j]) / (p[i] + p[j]);
            strength_num += (p[i] + p[j]) * (lv[i] - lv[j]).powi(2);
        }
    }
    let busyness = if busy_den == 0.0 { 0.0 } else { sum_ps / busy_den };
    let complexity = complexity / nvp;
    let strength = if sum_s == 0.0 { 0.0 } else { strength_num / sum_s };
    vec![
        ("Coarseness", coarseness),
        ("Contrast", contrast),
        ("Busyness", busyness),
        ("Complexity", complexity),
        ("Strength", strength),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_angles_in_3d_and_four_in_2d() {
        assert_eq!(angles([5, 5, 5], &[1], None).len(), 13);
        assert_eq!(angles([5, 5, 5], &[1], Some(2)).len(), 4);
        // A one-slice box has no through-plane directions.
        assert_eq!(angles([5, 5, 1], &[1], None).len(), 4);
        assert_eq!(angles([5, 5, 5], &[1, 2], None).len(), 13 + 49);
    }
}
