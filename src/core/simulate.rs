//! The built-in simulated cohort: clinical tables with the paper's Table 1
//! structure and, per patient, MR volumes (T1, T1C, T2), an rGTV mask and a
//! planned dose grid, all driven by documented latent variables (see
//! docs/simulation.md). Pure and deterministic: every patient's numbers come
//! from a random stream derived from (seed, cohort, patient), so the same
//! seed gives the same cohort regardless of order or threads.

use crate::core::rng::Rng;
use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// Mean, range and precision of a continuous clinical variable.
#[derive(Debug, Clone, Copy)]
pub struct Marginal {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Decimals the mean is printed with in the paper's table.
    pub mean_decimals: i32,
    /// Decimals each value is stored with.
    pub value_decimals: i32,
    /// Concentration of the Beta shape on [min, max] (larger = tighter).
    pub concentration: f64,
}

/// Everything fixed about one cohort: size, counts and marginals.
#[derive(Debug, Clone)]
pub struct CohortSpec {
    pub name: String,
    pub n: usize,
    pub age: Marginal,
    pub sex: Vec<(&'static str, usize)>,
    pub stage: Vec<(&'static str, usize)>,
    pub chemo: Vec<(&'static str, usize)>,
    pub tumor_ml: Marginal,
    pub eqd2_gy: Marginal,
    pub nn_events: usize,
}

fn m(mean: f64, min: f64, max: f64, mean_decimals: i32, value_decimals: i32, concentration: f64) -> Marginal {
    Marginal { mean, min, max, mean_decimals, value_decimals, concentration }
}

/// Scales counts to a new total by largest remainders (ties to the earlier level).
pub fn scale_counts(counts: &[(&'static str, usize)], n: usize) -> Vec<(&'static str, usize)> {
    let total: usize = counts.iter().map(|c| c.1).sum();
    if total == n || total == 0 {
        return counts.to_vec();
    }
    let exact: Vec<f64> = counts.iter().map(|c| c.1 as f64 * n as f64 / total as f64).collect();
    let mut out: Vec<(&'static str, usize)> =
        counts.iter().zip(&exact).map(|(c, e)| (c.0, e.floor() as usize)).collect();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let missing = n - out.iter().map(|c| c.1).sum::<usize>();
    for &i in order.iter().take(missing) {
        out[i].1 += 1;
    }
    out
}

/// The paper's cohort A (training, 97) or B (test, 20), optionally resized.
pub fn paper_cohort(name: &str, n: Option<usize>) -> Result<CohortSpec> {
    let spec = match name {
        "A" => CohortSpec {
            name: "A".into(),
            n: 97,
            age: m(47.0, 24.0, 75.0, 0, 0, 8.0),
            sex: vec![("male", 75), ("female", 22)],
            stage: vec![("I", 1), ("II", 9), ("III", 43), ("IV", 44)],
            chemo: vec![("no", 14), ("yes", 83)],
            tumor_ml: m(48.9, 1.2, 170.2, 1, 1, 2.5),
            eqd2_gy: m(63.4, 46.9, 71.1, 1, 1, 6.0),
            nn_events: 32,
        },
        "B" => CohortSpec {
            name: "B".into(),
            n: 20,
            age: m(44.0, 28.0, 62.0, 0, 0, 8.0),
            sex: vec![("male", 15), ("female", 5)],
            stage: vec![("I", 0), ("II", 5), ("III", 9), ("IV", 6)],
            chemo: vec![("no", 3), ("yes", 17)],
            tumor_ml: m(39.4, 1.8, 156.79, 1, 2, 2.5),
            eqd2_gy: m(62.3, 50.0, 70.7, 1, 1, 6.0),
            nn_events: 8,
        },
        other => return Err(Error::invalid(format!("unknown paper cohort `{other}`"), None)),
    };
    let Some(n) = n.filter(|&n| n != spec.n) else {
        return Ok(spec);
    };
    if !(6..=10_000).contains(&n) {
        return Err(Error::invalid(format!("cohort {name} can have 6 to 10000 patients, not {n}"), None));
    }
    let events = ((spec.nn_events as f64 * n as f64 / spec.n as f64).round() as usize).clamp(1, n - 1);
    Ok(CohortSpec {
        n,
        sex: scale_counts(&spec.sex, n),
        stage: scale_counts(&spec.stage, n),
        chemo: scale_counts(&spec.chemo, n),
        nn_events: events,
        ..spec
    })
}

/// Draws `n` values on [min, max] whose minimum and maximum are exactly the
/// marginal's and whose mean rounds to the marginal's mean at its printed
/// precision (within 0.4 of the last printed digit).
pub fn fit_marginal(rng: &mut Rng, n: usize, mg: &Marginal) -> Result<Vec<f64>> {
    if n < 3 {
        return Err(Error::invalid("a continuous variable needs at least 3 patients", None));
    }
    let unit = 10f64.powi(-mg.value_decimals);
    let snap = |x: f64| ((x / unit).round() * unit).clamp(mg.min, mg.max);
    let p = ((mg.mean - mg.min) / (mg.max - mg.min)).clamp(0.02, 0.98);
    let mut x: Vec<f64> = (0..n)
        .map(|_| mg.min + (mg.max - mg.min) * rng.beta(p * mg.concentration, (1.0 - p) * mg.concentration))
        .collect();
    x[0] = mg.min;
    x[1] = mg.max;
    let target = mg.mean * n as f64;
    // Shift the free values toward the target sum, in proportion to their room.
    for _ in 0..200 {
        let delta = target - x.iter().sum::<f64>();
        if delta.abs() < 1e-9 {
            break;
        }
        let room: Vec<f64> = x[2..].iter().map(|v| if delta > 0.0 { mg.max - v } else { v - mg.min }).collect();
        let total: f64 = room.iter().sum();
        if total <= 0.0 {
            break;
        }
        for (v, r) in x[2..].iter_mut().zip(&room) {
            *v += delta * r / total;
        }
    }
    for v in &mut x[2..] {
        *v = snap(*v);
    }
    let tolerance = 0.4 * 10f64.powi(-mg.mean_decimals);
    for _ in 0..(n * 1000) {
        let mean = x.iter().sum::<f64>() / n as f64;
        if (mean - mg.mean).abs() <= tolerance {
            rng.shuffle(&mut x);
            return Ok(x);
        }
        let up = mean < mg.mean;
        let best =
            (2..n).filter(|&i| if up { x[i] + unit <= mg.max } else { x[i] - unit >= mg.min }).max_by(|&a, &b| {
                let ra = if up { mg.max - x[a] } else { x[a] - mg.min };
                let rb = if up { mg.max - x[b] } else { x[b] - mg.min };
                ra.total_cmp(&rb)
            });
        let Some(i) = best else { break };
        x[i] = snap(if up { x[i] + unit } else { x[i] - unit });
    }
    Err(Error::invalid(format!("cannot reach mean {} on [{}, {}] with {n} values", mg.mean, mg.min, mg.max), None))
}

/// One patient's clinical row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalRow {
    pub patient_id: String,
    pub age: f64,
    pub sex: String,
    pub stage: String,
    pub chemo: String,
    pub tumor_ml: f64,
    pub eqd2_gy: f64,
    pub nn: u8,
}

/// The latent variables that drive a patient's outcome and images.
#[derive(Debug, Clone, PartialEq)]
pub struct Latent {
    /// How much of the high dose sits in a posterior hot spot (drives NN).
    pub dose: f64,
    /// Tumour texture heterogeneity (drives NN weakly).
    pub texture: f64,
    /// What each sequence's texture shows of it: T1, T1C, T2 (texture + noise).
    pub texture_seen: [f64; 3],
    /// Standardised clinical risk from EQD2 and log tumour volume.
    pub clinical: f64,
    /// The true risk score: 1.3·dose + 0.9·texture + 0.3·clinical.
    pub risk: f64,
}

/// Weights of the true risk score and the outcome noise; see docs/simulation.md.
pub const RISK_WEIGHTS: [f64; 3] = [1.3, 0.9, 0.3];
pub const OUTCOME_NOISE: f64 = 0.9;
/// Standard deviation of each sequence's view of the texture latent (T1, T1C, T2).
pub const SEQUENCE_NOISE: [f64; 3] = [1.0, 0.8, 1.1];
pub const SEQUENCES: [&str; 3] = ["T1", "T1C", "T2"];

fn assign(rng: &mut Rng, counts: &[(&'static str, usize)]) -> Vec<String> {
    let mut v: Vec<String> = counts.iter().flat_map(|(l, c)| std::iter::repeat_n(l.to_string(), *c)).collect();
    rng.shuffle(&mut v);
    v
}

fn standardise(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    x.iter().map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 }).collect()
}

/// The clinical table and latent variables of one cohort. The `nn_events`
/// patients with the highest `risk + 0.9·logistic noise` have NN.
pub fn simulate_clinical(seed: u64, spec: &CohortSpec) -> Result<(Vec<ClinicalRow>, Vec<Latent>)> {
    let n = spec.n;
    let mut rng = Rng::derive(seed, &[&spec.name, "clinical"]);
    let age = fit_marginal(&mut rng, n, &spec.age)?;
    let tumor = fit_marginal(&mut rng, n, &spec.tumor_ml)?;
    let eqd2 = fit_marginal(&mut rng, n, &spec.eqd2_gy)?;
    let sex = assign(&mut rng, &spec.sex);
    let stage = assign(&mut rng, &spec.stage);
    let chemo = assign(&mut rng, &spec.chemo);
    let log_tumor: Vec<f64> = tumor.iter().map(|v| v.ln()).collect();
    let clinical: Vec<f64> = standardise(&eqd2)
        .iter()
        .zip(standardise(&log_tumor))
        .map(|(a, b)| (a + b) / std::f64::consts::SQRT_2)
        .collect();
    let mut latents = Vec::with_capacity(n);
    let mut noisy = Vec::with_capacity(n);
    for (i, &clin) in clinical.iter().enumerate() {
        let mut r = Rng::derive(seed, &[&spec.name, "latent", &i.to_string()]);
        let dose = r.normal();
        let texture = r.normal();
        let texture_seen = SEQUENCE_NOISE.map(|sd| texture + sd * r.normal());
        let risk = RISK_WEIGHTS[0] * dose + RISK_WEIGHTS[1] * texture + RISK_WEIGHTS[2] * clin;
        noisy.push(risk + OUTCOME_NOISE * r.logistic());
        latents.push(Latent { dose, texture, texture_seen, clinical: clin, risk });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| noisy[b].total_cmp(&noisy[a]));
    let mut nn = vec![0u8; n];
    for &i in order.iter().take(spec.nn_events) {
        nn[i] = 1;
    }
    let digits = n.to_string().len().max(3);
    let rows = (0..n)
        .map(|i| ClinicalRow {
            patient_id: format!("{}{:0digits$}", spec.name, i + 1),
            age: age[i],
            sex: sex[i].clone(),
            stage: stage[i].clone(),
            chemo: chemo[i].clone(),
            tumor_ml: tumor[i],
            eqd2_gy: eqd2[i],
            nn: nn[i],
        })
        .collect();
    Ok((rows, latents))
}

/// Volume sizes of a simulated cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeProfile {
    /// Tiny volumes for tests: the whole cohort in seconds.
    Small,
    /// 1 mm MR over 160×160×128 mm, dose on a 2 mm grid: a 120×120×80 mm box
    /// around any PTV fits, i.e. the paper's 80×120×120 dose input at 1 mm.
    Paper,
}

/// The grids of a profile: (MR size, MR spacing, dose size, dose spacing).
pub fn grids(profile: SizeProfile) -> ([usize; 3], [f64; 3], [usize; 3], [f64; 3]) {
    match profile {
        SizeProfile::Small => ([40, 40, 24], [2.0, 2.0, 2.5], [20, 20, 15], [4.0, 4.0, 4.0]),
        SizeProfile::Paper => ([160, 160, 128], [1.0, 1.0, 1.0], [80, 80, 64], [2.0, 2.0, 2.0]),
    }
}

fn centred_origin(size: [usize; 3], spacing: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|k| -((size[k] - 1) as f64) * spacing[k] / 2.0)
}

/// Facts of a patient's images recorded as ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTruth {
    /// rGTV volume in the mask (ml), after any size cap of the profile.
    pub gtv_ml: f64,
    pub hotspot_gain: f64,
    pub hotspot_offset_mm: f64,
    /// Fraction of the PTV receiving more than 105% of the prescription.
    pub v105: f64,
}

/// A patient's images.
pub struct PatientImages {
    /// T1, T1C, T2.
    pub mr: [Volume; 3],
    pub rgtv: Volume,
    pub dose: Volume,
    pub truth: ImageTruth,
}

/// The tumour: an ellipsoid with centre and semi-axes in mm (LPS).
struct Tumour {
    centre: [f64; 3],
    axes: [f64; 3],
    r_eq: f64,
}

impl Tumour {
    /// Normalised radius ρ (1 on the surface).
    fn rho(&self, p: [f64; 3]) -> f64 {
        (0..3).map(|k| ((p[k] - self.centre[k]) / self.axes[k]).powi(2)).sum::<f64>().sqrt()
    }
    /// Approximate signed distance (mm) from the surface, negative inside.
    fn distance(&self, p: [f64; 3]) -> f64 {
        (self.rho(p) - 1.0) * self.r_eq
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// PTV margin around the rGTV, in mm.
pub const PTV_MARGIN_MM: f64 = 3.0;

/// One simulated patient: which cohort and seed they come from, their
/// clinical row and latents, and the image size.
#[derive(Debug, Clone, Copy)]
pub struct PatientRef<'a> {
    pub seed: u64,
    pub cohort: &'a str,
    pub index: usize,
    pub row: &'a ClinicalRow,
    pub latent: &'a Latent,
    pub profile: SizeProfile,
}

/// Generates one patient's images from their clinical row and latents.
pub fn simulate_images(p: &PatientRef<'_>) -> PatientImages {
    let PatientRef { seed, cohort, index, row, latent, profile } = *p;
    let (mr_size, mr_spacing, dose_size, dose_spacing) = grids(profile);
    let mut rng = Rng::derive(seed, &[cohort, "images", &index.to_string()]);
    let fov: [f64; 3] = [0, 1, 2].map(|k| mr_size[k] as f64 * mr_spacing[k]);
    let half_min = fov.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let r_cap = 0.62 * half_min - PTV_MARGIN_MM;
    let r_eq = (3.0 * row.tumor_ml * 1000.0 / (4.0 * std::f64::consts::PI)).cbrt().min(r_cap);
    let shape = [0.12 * rng.normal(), 0.12 * rng.normal(), 0.12 * rng.normal()];
    let mean_shape = shape.iter().sum::<f64>() / 3.0;
    let tumour = Tumour {
        centre: [2.0 * rng.normal(), 2.0 * rng.normal() + 0.04 * fov[1], 2.0 * rng.normal()],
        axes: shape.map(|s| r_eq * (s - mean_shape).exp()),
        r_eq,
    };
    let head = [0.45 * fov[0], 0.47 * fov[1], 0.46 * fov[2]];
    let inside_head = |p: [f64; 3]| (0..3).map(|k| (p[k] / head[k]).powi(2)).sum::<f64>() <= 1.0;

    // rGTV mask on the MR grid.
    let mr_origin = centred_origin(mr_size, mr_spacing);
    let mut rgtv = Volume::zeros(mr_size, mr_spacing, mr_origin);
    let mut gtv_voxels = 0usize;
    for k in 0..mr_size[2] {
        for j in 0..mr_size[1] {
            for i in 0..mr_size[0] {
                if tumour.rho(rgtv.position(i, j, k)) <= 1.0 {
                    let at = rgtv.index(i, j, k);
                    rgtv.data[at] = 1.0;
                    gtv_voxels += 1;
                }
            }
        }
    }
    if gtv_voxels == 0 {
        // A tumour smaller than a voxel still marks the voxel at its centre.
        let idx = [0, 1, 2].map(|k| {
            (((tumour.centre[k] - mr_origin[k]) / mr_spacing[k]).round().max(0.0) as usize).min(mr_size[k] - 1)
        });
        let at = rgtv.index(idx[0], idx[1], idx[2]);
        rgtv.data[at] = 1.0;
        gtv_voxels = 1;
    }

    let mr =
        [0, 1, 2].map(|s| mr_volume(seed, cohort, index, s, latent, &tumour, &inside_head, mr_size, mr_spacing, fov));

    // Dose on its own (coarser) grid.
    let mut dose = Volume::zeros(dose_size, dose_spacing, centred_origin(dose_size, dose_spacing));
    let rx = row.eqd2_gy;
    let gain = 0.04 + 0.12 * sigmoid(1.4 * latent.dose + 0.3 * rng.normal());
    let offset = 0.6 * tumour.axes[1] * sigmoid(latent.dose + 0.5 * rng.normal());
    let hot = [tumour.centre[0] + 1.5 * rng.normal(), tumour.centre[1] + offset, tumour.centre[2] + 1.5 * rng.normal()];
    let hot_sd = (3.0 + 5.0 * sigmoid(latent.dose)) * (r_eq / 15.0).min(1.0).max(0.4);
    let cold_dir = [rng.normal(), rng.normal(), rng.normal()];
    let cold_norm = cold_dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
    let cold = [0, 1, 2].map(|k| tumour.centre[k] + 0.5 * tumour.axes[k] * cold_dir[k] / cold_norm);
    let gauss = |p: [f64; 3], c: [f64; 3], sd: f64| {
        (-(0..3).map(|k| (p[k] - c[k]).powi(2)).sum::<f64>() / (2.0 * sd * sd)).exp()
    };
    let (mut ptv_voxels, mut hot_voxels) = (0usize, 0usize);
    for k in 0..dose_size[2] {
        for j in 0..dose_size[1] {
            for i in 0..dose_size[0] {
                let p = dose.position(i, j, k);
                if !inside_head(p) {
                    continue;
                }
                let d = tumour.distance(p) - PTV_MARGIN_MM;
                let ripple = 0.015 * (p[0] / 7.0).sin() * (p[1] / 9.0).sin();
                let falloff = if d <= 0.0 {
                    1.0 + ripple
                } else {
                    0.82 / (1.0 + ((d - 2.0) / 2.0).exp()) + 0.18 * (-d / 25.0).exp()
                };
                let value = rx * (falloff + gain * gauss(p, hot, hot_sd) - 0.06 * gauss(p, cold, 4.0));
                let at = dose.index(i, j, k);
                dose.data[at] = value.max(0.0) as f32;
                if d <= 0.0 {
                    ptv_voxels += 1;
                    if value > 1.05 * rx {
                        hot_voxels += 1;
                    }
                }
            }
        }
    }
    let truth = ImageTruth {
        gtv_ml: gtv_voxels as f64 * rgtv.voxel_ml(),
        hotspot_gain: gain,
        hotspot_offset_mm: offset,
        v105: if ptv_voxels > 0 { hot_voxels as f64 / ptv_voxels as f64 } else { 0.0 },
    };
    PatientImages { mr, rgtv, dose, truth }
}

/// Intensities (tissue, tumour, fat, noise SD) of T1, T1C, T2.
const CONTRAST: [[f64; 4]; 3] = [[420.0, 400.0, 900.0, 12.0], [450.0, 720.0, 880.0, 14.0], [320.0, 610.0, 700.0, 15.0]];

#[allow(clippy::too_many_arguments)]
fn mr_volume(
    seed: u64,
    cohort: &str,
    index: usize,
    sequence: usize,
    latent: &Latent,
    tumour: &Tumour,
    inside_head: &dyn Fn([f64; 3]) -> bool,
    size: [usize; 3],
    spacing: [f64; 3],
    fov: [f64; 3],
) -> Volume {
    let mut rng = Rng::derive(seed, &[cohort, "mr", &index.to_string(), SEQUENCES[sequence]]);
    let [tissue, tumour_level, fat, noise_sd] = CONTRAST[sequence];
    let seen = latent.texture_seen[sequence];
    let amplitude = 0.10 + 0.14 * sigmoid(1.2 * seen);
    let corr_mm = 1.5 + 2.5 * sigmoid(-seen);
    let mut v = Volume::zeros(size, spacing, centred_origin(size, spacing));

    // Texture: smoothed white noise over the tumour's bounding box.
    let lo: [usize; 3] = [0, 1, 2].map(|k| {
        let edge = tumour.centre[k] - tumour.axes[k] - 2.0 - v.origin[k];
        (edge / spacing[k]).floor().clamp(0.0, (size[k] - 1) as f64) as usize
    });
    let hi: [usize; 3] = [0, 1, 2].map(|k| {
        let edge = tumour.centre[k] + tumour.axes[k] + 2.0 - v.origin[k];
        (edge / spacing[k]).ceil().clamp(0.0, (size[k] - 1) as f64) as usize
    });
    let sub = [0, 1, 2].map(|k| hi[k] - lo[k] + 1);
    let mut texture: Vec<f64> = (0..sub[0] * sub[1] * sub[2]).map(|_| rng.normal()).collect();
    for axis in 0..3 {
        blur_axis(&mut texture, sub, axis, corr_mm / spacing[axis]);
    }
    let tn = texture.len() as f64;
    let tmean = texture.iter().sum::<f64>() / tn;
    let tsd = (texture.iter().map(|x| (x - tmean).powi(2)).sum::<f64>() / tn).sqrt().max(1e-12);

    // Smooth multiplicative bias field, separable: exp(fx(x) + fy(y) + fz(z)).
    let coef: Vec<[f64; 2]> = (0..3).map(|_| [0.12 * rng.normal(), 0.10 * rng.normal()]).collect();
    let bias_axis: Vec<Vec<f64>> = (0..3)
        .map(|k| {
            (0..size[k])
                .map(|i| {
                    let u = (v.origin[k] + i as f64 * spacing[k]) / (fov[k] / 2.0);
                    (coef[k][0] * u + coef[k][1] * (u * u - 0.33)).exp()
                })
                .collect()
        })
        .collect();
    let head_margin = 4.0;
    for k in 0..size[2] {
        for j in 0..size[1] {
            for i in 0..size[0] {
                let p = v.position(i, j, k);
                let noise = noise_sd * rng.normal();
                let at = v.index(i, j, k);
                if !inside_head(p) {
                    v.data[at] = noise.abs() as f32;
                    continue;
                }
                let head_rho = (p[0] / (0.45 * fov[0])).powi(2)
                    + (p[1] / (0.47 * fov[1])).powi(2)
                    + (p[2] / (0.46 * fov[2])).powi(2);
                let near_skin = (1.0 - head_rho.sqrt()) * 0.45 * fov[0] < head_margin;
                let mut level = if near_skin { fat } else { tissue };
                let d = tumour.distance(p);
                if d < 2.0 {
                    let w = sigmoid(-d / 0.8);
                    let inside_box = (0..3).all(|a| [i, j, k][a] >= lo[a] && [i, j, k][a] <= hi[a]);
                    let tex = if inside_box {
                        let (ti, tj, tk) = (i - lo[0], j - lo[1], k - lo[2]);
                        (texture[ti + sub[0] * (tj + sub[1] * tk)] - tmean) / tsd
                    } else {
                        0.0
                    };
                    level = (1.0 - w) * level + w * tumour_level * (1.0 + amplitude * tex);
                }
                let value = level * bias_axis[0][i] * bias_axis[1][j] * bias_axis[2][k] + noise;
                v.data[at] = value.max(0.0) as f32;
            }
        }
    }
    v
}

/// In-place Gaussian blur of a 3D array along one axis (sigma in voxels).
fn blur_axis(data: &mut [f64], size: [usize; 3], axis: usize, sigma: f64) {
    if sigma < 0.3 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius).map(|t| (-(t * t) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let stride = [1, size[0], size[0] * size[1]][axis];
    let len = size[axis] as isize;
    let mut line = vec![0.0; size[axis]];
    let lines: Vec<usize> = (0..data.len()).filter(|&idx| (idx / stride) % size[axis] == 0).collect();
    for start in lines {
        for (t, slot) in line.iter_mut().enumerate() {
            *slot = data[start + t * stride];
        }
        for t in 0..len {
            let (mut acc, mut wsum) = (0.0, 0.0);
            for (o, w) in (-radius..=radius).zip(&kernel) {
                let s = t + o;
                if (0..len).contains(&s) {
                    acc += w * line[s as usize];
                    wsum += w;
                }
            }
            data[start + t as usize * stride] = acc / wsum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_scaling_keeps_the_total() {
        let s = scale_counts(&[("I", 1), ("II", 9), ("III", 43), ("IV", 44)], 50);
        assert_eq!(s.iter().map(|c| c.1).sum::<usize>(), 50);
        assert_eq!(s[3].1, 23);
    }

    #[test]
    fn marginals_hit_range_and_printed_mean() {
        let spec = paper_cohort("B", None).unwrap();
        let mut rng = Rng::new(3);
        let x = fit_marginal(&mut rng, 20, &spec.tumor_ml).unwrap();
        let min = x.iter().copied().fold(f64::INFINITY, f64::min);
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((min, max), (1.8, 156.79));
        assert!((x.iter().sum::<f64>() / 20.0 - 39.4).abs() <= 0.04);
    }

    #[test]
    fn blur_preserves_a_constant() {
        let mut d = vec![2.0; 4 * 5 * 6];
        blur_axis(&mut d, [4, 5, 6], 1, 1.5);
        assert!(d.iter().all(|v| (v - 2.0).abs() < 1e-12));
    }
}
