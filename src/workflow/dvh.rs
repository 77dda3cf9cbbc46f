//! Dose-volume figures as `dvh`, `plot dvh` and `extract --dvh` share them:
//! the asked metrics, each structure's doses on the dose grid, the inputs
//! recorded with their hashes, and a patient's figures as features.

use std::path::{Path, PathBuf};

use crate::core::dvh::{Metric, Summary, summarise};
use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::signature::Args;

/// Metrics without `--metrics`.
pub const DEFAULT_METRICS: &str = "D95,D50,D2cc,V5Gy,V20Gy";

/// `D95,D2cc,V20Gy` → each metric as written and parsed.
pub fn metrics(text: &str) -> Result<Vec<(String, Metric)>> {
    let list: Vec<(String, Metric)> = text
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| Metric::parse(m).map(|x| (m.to_string(), x)))
        .collect::<Result<_>>()?;
    if list.is_empty() {
        return Err(Error::invalid("no DVH metric named", Some("e.g. D95,D2cc,V20Gy")));
    }
    Ok(list)
}

/// A dose grid and a structure set, and which structures.
#[derive(Debug, Clone)]
pub struct Request {
    pub dose: PathBuf,
    pub structures: PathBuf,
    /// Structure names asked for (case-insensitive); `None`: all.
    pub rois: Option<Vec<String>>,
    pub bin_gy: f64,
}

impl Request {
    /// `--dose FILE --structures RTSTRUCT [--roi NAMES] [--bin-gy GY]`.
    pub fn read(args: &Args, command: &str) -> Result<Request> {
        let need = |flag: &str| {
            args.value(flag).map(|t| PathBuf::from(&t.text)).ok_or_else(|| Error::Invalid {
                message: format!("{command} needs --{flag} FILE"),
                hint: Some(format!("{command} --dose RD.dcm --structures RS.dcm")),
            })
        };
        let (dose, structures) = (need("dose")?, need("structures")?);
        for p in [&dose, &structures] {
            if !p.is_file() {
                return Err(Error::FileNotFound { path: p.clone() });
            }
        }
        let bin_gy: f64 = args.parsed("bin-gy", "a dose in Gy")?.unwrap_or(0.01);
        if !(bin_gy > 0.0 && bin_gy.is_finite()) {
            return Err(Error::invalid(format!("--bin-gy {bin_gy} must be a positive number of Gy"), None));
        }
        let rois = args
            .value("roi")
            .map(|t| t.text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
        Ok(Request { dose, structures, rois, bin_gy })
    }

    /// The dose file and the structure set as the run's datasets, with their hashes.
    pub fn record_inputs(&self, session: &mut Session, run: i64) -> Result<()> {
        for p in [&self.dose, &self.structures] {
            let sha = crate::imaging::image_sha256(p)?;
            let text = p.display().to_string();
            session.store().record_dataset(run, &text, &text, &sha, None)?;
        }
        Ok(())
    }

    /// Each asked structure's name and the doses (Gy) of the dose-grid voxels
    /// inside it, with the grid's voxel volume in cm³.
    pub fn structure_doses(&self) -> Result<(f64, Vec<(String, Vec<f64>)>)> {
        let dose = crate::imaging::read_image(&self.dose)?;
        let all = crate::imaging::dicom::rtstruct::read_rtstruct(&self.structures)?;
        let chosen: Vec<_> = match &self.rois {
            None => all.iter().collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    all.iter().find(|s| s.name.eq_ignore_ascii_case(n)).ok_or_else(|| {
                        let have: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                        Error::invalid(
                            format!("{}: no structure `{n}`; it has: {}", self.structures.display(), have.join(", ")),
                            None,
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        let frame = dose.frame_of_reference.as_deref();
        let mut out = Vec::new();
        for s in chosen {
            let mask = crate::imaging::dicom::rtstruct::rasterise_onto(s, &dose.volume, frame, None)?;
            out.push((s.name.clone(), doses_in(&dose.volume, &mask)));
        }
        Ok((voxel_cc(&dose.volume), out))
    }
}

/// One voxel's volume in cm³.
pub fn voxel_cc(v: &Volume) -> f64 {
    v.spacing.iter().product::<f64>() / 1000.0
}

/// The doses of `dose`'s voxels where `mask` (on the same grid) is set.
pub fn doses_in(dose: &Volume, mask: &Volume) -> Vec<f64> {
    mask.data.iter().zip(&dose.data).filter(|(m, _)| **m > 0.5).map(|(_, d)| f64::from(*d)).collect()
}

/// The feature columns `extract --dvh` writes for `metrics`, in order.
pub fn feature_names(metrics: &[(String, Metric)]) -> Vec<String> {
    let mut names: Vec<String> =
        ["volume_cc", "mean_gy", "min_gy", "max_gy"].iter().map(|c| format!("dvh_{c}")).collect();
    names.extend(metrics.iter().map(|m| format!("dvh_{}", m.0)));
    names
}

/// One patient's DVH features: the dose image and the mask (an image, on
/// the dose grid or resampled onto it by nearest neighbour, or
/// `RS.dcm#NAME` rasterised onto the dose grid).
pub fn patient_features(
    dose_path: &Path,
    mask_path: &Path,
    metrics: &[(String, Metric)],
    bin_gy: f64,
) -> Result<Vec<(String, f64)>> {
    use crate::core::resample::{Grid, Interpolator, resample};
    let dose = crate::imaging::read_image(dose_path)?;
    let mask = match crate::imaging::rtstruct_path(mask_path) {
        Some((file, name)) => {
            let s = crate::imaging::dicom::rtstruct::structure(&file, &name)?;
            crate::imaging::dicom::rtstruct::rasterise_onto(&s, &dose.volume, dose.frame_of_reference.as_deref(), None)?
        }
        None => {
            let m = crate::imaging::read_image(mask_path)?;
            if let (Some(a), Some(b)) = (&m.frame_of_reference, &dose.frame_of_reference)
                && a != b
            {
                return Err(Error::invalid(
                    format!(
                        "{}: the mask's Frame of Reference {a} is not the dose's {b} ({})",
                        mask_path.display(),
                        dose_path.display()
                    ),
                    Some("extract --dvh after `preprocess`, which brings the dose onto the MR grid"),
                ));
            }
            let grid = Grid::of(&dose.volume);
            if Grid::of(&m.volume).same_as(&grid) {
                m.volume
            } else {
                resample(&m.volume, &grid, Interpolator::Nearest, 0.0)
            }
        }
    };
    let doses = doses_in(&dose.volume, &mask);
    if doses.is_empty() {
        return Err(Error::invalid(
            format!("{}: no dose-grid voxel lies inside the mask {}", dose_path.display(), mask_path.display()),
            None,
        ));
    }
    let asked: Vec<Metric> = metrics.iter().map(|m| m.1.clone()).collect();
    let s: Summary = summarise(&doses, voxel_cc(&dose.volume), bin_gy, &asked)?;
    let mut values = vec![s.volume_cc, s.mean_gy, s.min_gy, s.max_gy];
    values.extend(s.metrics);
    Ok(feature_names(metrics).into_iter().zip(values).collect())
}
