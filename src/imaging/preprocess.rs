//! One patient's image preprocessing: N4 on the MR sequences (optional),
//! resampling onto one MR grid (optionally at a new spacing), the rGTV on
//! that grid, the PTV as the rGTV expanded in millimetres, and the dose
//! resampled onto the grid after a frame-of-reference check. Outputs are
//! written atomically with a record (`record.json`, written last) that
//! makes a later run with the same inputs and parameters a cache hit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::masks::expand_mm;
use crate::core::n4::{N4Params, correct};
use crate::core::resample::{Grid, Interpolator, resample};
use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::imaging::nifti::{self, StoredType};
use crate::imaging::{LoadedImage, read_image};
use crate::provenance::{sha256_bytes, sha256_file};

/// What to do to every patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessParams {
    /// New voxel spacing (mm), or keep the reference MR's grid.
    pub resample: Option<[f64; 3]>,
    /// MR interpolator when resampling: "bspline" (PyRadiomics' default) or "linear".
    pub interpolator: String,
    pub n4: bool,
    /// N4 is fitted on the MR shrunk by these factors.
    pub n4_shrink: [usize; 3],
    pub margin_mm: f64,
    /// Resample the dose even when it does not cover the PTV.
    pub force_frame: bool,
}

impl PreprocessParams {
    /// A short key naming the output folder of this parameter set.
    pub fn key(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        sha256_bytes(format!("radose {} preprocess {json}", env!("CARGO_PKG_VERSION")).as_bytes())[..12].to_string()
    }

    fn interpolator(&self) -> Result<Interpolator> {
        match self.interpolator.as_str() {
            "bspline" => Ok(Interpolator::BSpline),
            "linear" => Ok(Interpolator::Linear),
            other => Err(Error::invalid(format!("unknown interpolator `{other}`"), Some("use bspline or linear"))),
        }
    }
}

/// One patient's input files by role.
#[derive(Debug, Clone)]
pub struct PatientInputs {
    pub id: String,
    /// MR sequences in order; the first defines the grid.
    pub mr: Vec<(String, PathBuf)>,
    /// The tumour contour (rGTV) role and file.
    pub mask: (String, PathBuf),
    pub dose: Option<PathBuf>,
    /// A rigid registration taking the dose's frame (the planning CT's) into
    /// the MR's: a DICOM Spatial Registration or a text 4×4 matrix.
    pub registration: Option<PathBuf>,
}

/// What one patient produced (also its cache record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientRecord {
    pub id: String,
    /// Hash of the program version, parameters and input hashes.
    pub key: String,
    pub inputs: BTreeMap<String, String>,
    /// Output role → (file name, sha256).
    pub outputs: BTreeMap<String, (String, String)>,
    pub size: [usize; 3],
    pub spacing: [f64; 3],
    pub rgtv_ml: f64,
    pub ptv_ml: f64,
    /// Mean and maximum dose inside the PTV (when a dose was given).
    pub dose_mean_ptv: Option<f64>,
    pub dose_max_ptv: Option<f64>,
    /// N4 iterations per level for each MR role.
    pub n4_iterations: BTreeMap<String, Vec<usize>>,
    /// Seconds spent per stage (read, n4, resample, ptv, dose, write) when
    /// the patient was computed.
    #[serde(default)]
    pub seconds: BTreeMap<String, f64>,
}

/// Wall time per stage of one patient's preprocessing.
#[derive(Default)]
struct Stages(BTreeMap<String, f64>);

impl Stages {
    fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let t = std::time::Instant::now();
        let out = f();
        *self.0.entry(stage.to_string()).or_default() += t.elapsed().as_secs_f64();
        out
    }
}

pub const RECORD_FILE: &str = "record.json";

/// Reads a patient's cache record if it matches `key` and every output is
/// still there with its hash.
pub fn cached(dir: &Path, key: &str) -> Option<PatientRecord> {
    let text = std::fs::read_to_string(dir.join(RECORD_FILE)).ok()?;
    let record: PatientRecord = serde_json::from_str(&text).ok()?;
    if record.key != key {
        return None;
    }
    for (file, sha) in record.outputs.values() {
        if sha256_file(&dir.join(file)).ok()? != *sha {
            return None;
        }
    }
    Some(record)
}

/// The cache key of a patient: version, parameters and input hashes.
pub fn patient_key(params: &PreprocessParams, inputs: &BTreeMap<String, String>) -> String {
    let json = serde_json::to_string(&(params, inputs)).unwrap_or_default();
    sha256_bytes(format!("radose {} {json}", env!("CARGO_PKG_VERSION")).as_bytes())
}

/// Hashes a patient's input files (role → sha256).
pub fn hash_inputs(p: &PatientInputs) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (role, path) in p.mr.iter().chain(std::iter::once(&p.mask)) {
        out.insert(role.clone(), crate::imaging::image_sha256(path)?);
    }
    if let Some(d) = &p.dose {
        out.insert("dose".into(), crate::imaging::image_sha256(d)?);
    }
    if let Some(r) = &p.registration {
        out.insert("registration".into(), sha256_file(r)?);
    }
    Ok(out)
}

/// Preprocesses one patient into `dir` (created if needed).
pub fn run_patient(
    p: &PatientInputs,
    params: &PreprocessParams,
    key: &str,
    inputs: BTreeMap<String, String>,
    dir: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<PatientRecord> {
    let interp = params.interpolator()?;
    let (first_role, first_path) = p.mr.first().ok_or_else(|| Error::invalid("no MR sequence to preprocess", None))?;
    let mut n4_iterations = BTreeMap::new();
    let mut stages = Stages::default();
    let mut load_mr = |role: &str, path: &Path, stages: &mut Stages| -> Result<(LoadedImage, Volume)> {
        let img = stages.time("read", || read_image(path))?;
        let v = if params.n4 {
            let r = stages
                .time("n4", || correct(&img.volume, params.n4_shrink, &N4Params::default(), cancelled))
                .map_err(|e| in_file(path, e))?;
            n4_iterations.insert(role.to_string(), r.iterations);
            r.corrected
        } else {
            img.volume.clone()
        };
        Ok((img, v))
    };
    let (first_img, first) = load_mr(first_role, first_path, &mut stages)?;
    let native = Grid::of(&first);
    let grid = params.resample.map_or(native, |s| native.with_spacing(s));
    let on_grid = |v: &Volume, interp: Interpolator| {
        if Grid::of(v).same_as(&grid) { v.clone() } else { resample(v, &grid, interp, 0.0) }
    };

    let mut frames: Vec<(PathBuf, Option<String>)> = vec![(first_path.clone(), first_img.frame_of_reference.clone())];
    let mut mr = vec![(first_role.clone(), stages.time("resample", || on_grid(&first, interp)))];
    for (role, path) in &p.mr[1..] {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let (img, v) = load_mr(role, path, &mut stages)?;
        frames.push((path.clone(), img.frame_of_reference.clone()));
        mr.push((role.clone(), stages.time("resample", || on_grid(&v, interp))));
    }

    // The rigid registration from the planning CT's frame into the MR's, for
    // the dose and for contours drawn on the CT.
    let rigid = match &p.registration {
        Some(path) => Some(crate::imaging::registration::read(path)?),
        None => None,
    };
    // A mask file, or a structure of an RT Structure Set rasterised straight
    // onto the working grid (imaging::dicom::rtstruct's rule).
    let mask_img = match crate::imaging::rtstruct_path(&p.mask.1) {
        Some((file, name)) => stages.time("read", || {
            let s = crate::imaging::dicom::rtstruct::structure(&file, &name)?;
            let geometry = Volume {
                size: grid.size,
                spacing: grid.spacing,
                origin: grid.origin,
                direction: grid.direction,
                data: Vec::new(),
            };
            let frame = first_img.frame_of_reference.as_deref();
            let volume = crate::imaging::dicom::rtstruct::rasterise_onto(&s, &geometry, frame, rigid.as_ref())?;
            // Moved by the registration, the contours are in the MR's frame.
            let moved = rigid.is_some() && s.frame_of_reference.is_some() && frame.is_some();
            Ok::<_, Error>(crate::imaging::LoadedImage {
                volume,
                dtype: "uint8",
                units: None,
                frame_of_reference: if moved { frame.map(str::to_string) } else { s.frame_of_reference },
            })
        })?,
        None => stages.time("read", || read_image(&p.mask.1))?,
    };
    frames.push((p.mask.1.clone(), mask_img.frame_of_reference.clone()));
    if !mask_img.volume.data.iter().any(|&x| x > 0.5) {
        return Err(Error::invalid(
            format!("{}: the {} mask is empty", p.mask.1.display(), p.mask.0),
            Some("a contour needs at least one voxel labelled 1"),
        ));
    }
    let rgtv = stages.time("resample", || on_grid(&mask_img.volume, Interpolator::Nearest));
    if !rgtv.data.iter().any(|&x| x > 0.5) {
        return Err(Error::invalid(
            format!("{}: the {} mask lies outside the {first_role} image", p.mask.1.display(), p.mask.0),
            Some("the contour and the MR do not overlap: check that they belong to the same patient and scan"),
        ));
    }
    let ptv = stages.time("ptv", || expand_mm(&rgtv, params.margin_mm)).map_err(|e| in_file(&p.mask.1, e))?;

    let mut dose_out = None;
    if let Some(dose_path) = &p.dose {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let mut dose_img = stages.time("read", || read_image(dose_path))?;
        if let (Some(reg_path), Some(rigid)) = (&p.registration, &rigid) {
            // The dose's geometry moved into the MR's frame; its voxels are
            // interpolated once, onto the MR grid, below.
            if let (Some(from), Some(dose_frame)) = (&rigid.from_frame, &dose_img.frame_of_reference)
                && from != dose_frame
            {
                return Err(Error::invalid(
                    format!(
                        "{}: the registration maps frame {from}, the dose {} is in {dose_frame}",
                        reg_path.display(),
                        dose_path.display()
                    ),
                    Some("give the registration made for this plan's CT"),
                ));
            }
            dose_img.volume = rigid.apply_volume(&dose_img.volume);
            dose_img.frame_of_reference = rigid.to_frame.clone().or_else(|| first_img.frame_of_reference.clone());
        }
        check_frame(&frames, dose_path, dose_img.frame_of_reference.as_deref(), params.force_frame)?;
        let covered = stages.time("dose", || coverage(&dose_img.volume, &ptv));
        if covered < 0.999 && !params.force_frame {
            return Err(Error::invalid(
                format!(
                    "{}: the dose grid covers {:.1}% of the PTV — the dose and the MR do not look like one frame of reference",
                    dose_path.display(),
                    100.0 * covered
                ),
                Some(
                    "check the files belong together; --force-frame resamples anyway (voxels outside the dose grid get 0 Gy)",
                ),
            ));
        }
        dose_out = Some(stages.time("dose", || on_grid(&dose_img.volume, Interpolator::Linear)));
    }

    std::fs::create_dir_all(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    let _ = std::fs::remove_file(dir.join(RECORD_FILE));
    let description = format!("radose preprocess {}", &key[..12]);
    let mut outputs = BTreeMap::new();
    let mut write = |role: &str, v: &Volume, stored: StoredType| -> Result<()> {
        let file = format!("{role}.nii.gz");
        let bytes = stages.time("write", || nifti::write(&dir.join(&file), v, stored, &description))?;
        outputs.insert(role.to_string(), (file, sha256_bytes(&bytes)));
        Ok(())
    };
    for (role, v) in &mr {
        write(role, v, StoredType::F32)?;
    }
    write(&p.mask.0, &rgtv, StoredType::U8)?;
    write("ptv", &ptv, StoredType::U8)?;
    let (mut dose_mean_ptv, mut dose_max_ptv) = (None, None);
    if let Some(d) = &dose_out {
        write("dose", d, StoredType::F32)?;
        let inside: Vec<f64> =
            d.data.iter().zip(&ptv.data).filter(|(_, m)| **m > 0.5).map(|(x, _)| f64::from(*x)).collect();
        dose_mean_ptv = Some(inside.iter().sum::<f64>() / inside.len().max(1) as f64);
        dose_max_ptv = inside.iter().copied().reduce(f64::max);
    }
    let count = |v: &Volume| v.data.iter().filter(|&&x| x > 0.5).count() as f64 * v.voxel_ml();
    let record = PatientRecord {
        id: p.id.clone(),
        key: key.to_string(),
        inputs,
        outputs,
        size: grid.size,
        spacing: grid.spacing,
        rgtv_ml: count(&rgtv),
        ptv_ml: count(&ptv),
        dose_mean_ptv,
        dose_max_ptv,
        n4_iterations,
        seconds: stages.0,
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| Error::invalid(e.to_string(), None))?;
    crate::provenance::write_atomic(&dir.join(RECORD_FILE), &json)?;
    Ok(record)
}

/// Prefixes an error without a file with the file it concerns.
fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Invalid { message, hint } => Error::Invalid { message: format!("{}: {message}", path.display()), hint },
        other => other,
    }
}

/// Two images with Frame of Reference UIDs must share them.
fn check_frame(frames: &[(PathBuf, Option<String>)], dose: &Path, uid: Option<&str>, force: bool) -> Result<()> {
    let Some(uid) = uid else { return Ok(()) };
    for (path, other) in frames {
        if let Some(other) = other
            && other != uid
            && !force
        {
            return Err(Error::invalid(
                format!("{}: Frame of Reference UID {uid} differs from {}'s {other}", dose.display(), path.display()),
                Some(
                    "the dose was planned on another scan: give the registration (a `registration` image role in \
                     cohort.toml, or preprocess --registration FILE: DICOM REG or a 4×4 matrix), or pass --force-frame",
                ),
            ));
        }
    }
    Ok(())
}

/// The fraction of `mask` voxels (> 0.5) whose centres lie inside `grid_of`'s
/// voxels (within half a voxel of its outermost centres).
pub fn coverage(grid_of: &Volume, mask: &Volume) -> f64 {
    let g = Grid::of(grid_of);
    let (mut inside, mut total) = (0usize, 0usize);
    for k in 0..mask.size[2] {
        for j in 0..mask.size[1] {
            for i in 0..mask.size[0] {
                if mask.data[mask.index(i, j, k)] <= 0.5 {
                    continue;
                }
                total += 1;
                let c = g.index_of(mask.position(i, j, k));
                if (0..3).all(|a| c[a] >= -0.5 && c[a] <= g.size[a] as f64 - 0.5) {
                    inside += 1;
                }
            }
        }
    }
    if total == 0 { 0.0 } else { inside as f64 / total as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sphere(size: [usize; 3], spacing: [f64; 3], origin: [f64; 3], r_mm: f64) -> Volume {
        let mut v = Volume::zeros(size, spacing, origin);
        let c = [0, 1, 2].map(|a| origin[a] + spacing[a] * (size[a] as f64 - 1.0) / 2.0);
        for k in 0..size[2] {
            for j in 0..size[1] {
                for i in 0..size[0] {
                    let p = v.position(i, j, k);
                    let d2: f64 = (0..3).map(|a| (p[a] - c[a]).powi(2)).sum();
                    let idx = v.index(i, j, k);
                    v.data[idx] = if d2 <= r_mm * r_mm { 1.0 } else { 0.0 };
                }
            }
        }
        v
    }

    fn params() -> PreprocessParams {
        PreprocessParams {
            resample: None,
            interpolator: "bspline".into(),
            n4: false,
            n4_shrink: [1, 1, 1],
            margin_mm: 3.0,
            force_frame: false,
        }
    }

    /// A dose stored in another frame (rotated 90° about z and shifted) lands
    /// exactly on the MR grid through the rigid registration between the
    /// frames; without it, it is refused.
    #[test]
    fn a_registration_brings_the_dose_onto_the_mr() {
        let dir = tempfile::tempdir().unwrap();
        let mr = sphere([20, 20, 10], [1.0, 1.0, 2.0], [0.0; 3], 8.0);
        let mask = sphere([20, 20, 10], [1.0, 1.0, 2.0], [0.0; 3], 4.0);
        let mut dose_mr = Volume::zeros([20, 20, 10], [1.0, 1.0, 2.0], [0.0; 3]);
        for k in 0..10 {
            for j in 0..20 {
                for i in 0..20 {
                    let at = dose_mr.index(i, j, k);
                    dose_mr.data[at] = (i + 2 * j + 3 * k) as f32;
                }
            }
        }
        // M: p_mr = R p_ct + t, R = 90° about z. The CT-frame geometry is M⁻¹ of the MR's.
        let (r, t) = ([0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0], [10.0, -5.0, 3.0]);
        let rt = |v: [f64; 3]| [0, 1, 2].map(|c| (0..3).map(|k| r[k * 3 + c] * v[k]).sum::<f64>());
        let mut dose_ct = dose_mr.clone();
        dose_ct.origin = rt([0, 1, 2].map(|a| dose_mr.origin[a] - t[a]));
        for c in 0..3 {
            let col = rt([dose_mr.direction[c], dose_mr.direction[3 + c], dose_mr.direction[6 + c]]);
            for a in 0..3 {
                dose_ct.direction[a * 3 + c] = col[a];
            }
        }
        let files =
            [("T1", &mr, StoredType::F32), ("rgtv", &mask, StoredType::U8), ("dose", &dose_ct, StoredType::F32)];
        for (name, v, st) in files {
            nifti::write(&dir.path().join(format!("{name}.nii")), v, st, "test").unwrap();
        }
        let reg = dir.path().join("ct_to_mr.txt");
        std::fs::write(&reg, "0 -1 0 10\n1 0 0 -5\n0 0 1 3\n0 0 0 1\n").unwrap();
        let mut inputs = PatientInputs {
            id: "P1".into(),
            mr: vec![("T1".into(), dir.path().join("T1.nii"))],
            mask: ("rgtv".into(), dir.path().join("rgtv.nii")),
            dose: Some(dir.path().join("dose.nii")),
            registration: None,
        };
        let out = dir.path().join("out");
        let key = "k".repeat(64);
        let err = run_patient(&inputs, &params(), &key, hash_inputs(&inputs).unwrap(), &out, &|| false).unwrap_err();
        assert!(err.to_string().contains("covers"), "{err}");
        inputs.registration = Some(reg);
        let hashes = hash_inputs(&inputs).unwrap();
        assert!(hashes.contains_key("registration"));
        run_patient(&inputs, &params(), &key, hashes, &out, &|| false).unwrap();
        let got = nifti::read(&out.join("dose.nii.gz")).unwrap();
        let worst = got.data.iter().zip(&dose_mr.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "largest difference {worst}");
    }

    #[test]
    fn dose_outside_the_mr_is_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let mr = sphere([20, 20, 10], [1.0, 1.0, 2.0], [0.0; 3], 8.0);
        let mask = sphere([20, 20, 10], [1.0, 1.0, 2.0], [0.0; 3], 4.0);
        // A dose grid 100 mm away: no overlap at all.
        let dose = sphere([10, 10, 5], [2.0, 2.0, 4.0], [100.0, 0.0, 0.0], 50.0);
        let files = [("T1", &mr, StoredType::F32), ("rgtv", &mask, StoredType::U8), ("dose", &dose, StoredType::F32)];
        for (name, v, t) in files {
            nifti::write(&dir.path().join(format!("{name}.nii")), v, t, "test").unwrap();
        }
        let inputs = PatientInputs {
            id: "P1".into(),
            mr: vec![("T1".into(), dir.path().join("T1.nii"))],
            mask: ("rgtv".into(), dir.path().join("rgtv.nii")),
            dose: Some(dir.path().join("dose.nii")),
            registration: None,
        };
        let hashes = hash_inputs(&inputs).unwrap();
        let key = patient_key(&params(), &hashes);
        let out = dir.path().join("out");
        let err = run_patient(&inputs, &params(), &key, hashes.clone(), &out, &|| false).unwrap_err();
        assert!(err.to_string().contains("covers 0.0% of the PTV"), "{err}");
        assert!(err.to_string().contains("dose.nii"), "{err}");
        let forced = PreprocessParams { force_frame: true, ..params() };
        let key = patient_key(&forced, &hashes);
        let r = run_patient(&inputs, &forced, &key, hashes, &out, &|| false).unwrap();
        assert_eq!(r.dose_max_ptv, Some(0.0));
        assert!(cached(&out, &key).is_some());
        assert!(cached(&out, "another key").is_none());
        // A changed output invalidates the cache.
        std::fs::write(out.join("ptv.nii.gz"), b"x").unwrap();
        assert!(cached(&out, &key).is_none());
    }

    #[test]
    fn empty_and_misplaced_masks_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mr = sphere([10, 10, 10], [1.0; 3], [0.0; 3], 4.0);
        let empty = Volume::zeros([10, 10, 10], [1.0; 3], [0.0; 3]);
        let far = sphere([10, 10, 10], [1.0; 3], [500.0, 0.0, 0.0], 4.0);
        nifti::write(&dir.path().join("T1.nii"), &mr, StoredType::F32, "t").unwrap();
        nifti::write(&dir.path().join("empty.nii"), &empty, StoredType::U8, "t").unwrap();
        nifti::write(&dir.path().join("far.nii"), &far, StoredType::U8, "t").unwrap();
        for (file, says) in [("empty.nii", "mask is empty"), ("far.nii", "lies outside the T1 image")] {
            let inputs = PatientInputs {
                id: "P".into(),
                mr: vec![("T1".into(), dir.path().join("T1.nii"))],
                mask: ("rgtv".into(), dir.path().join(file)),
                dose: None,
                registration: None,
            };
            let err = run_patient(&inputs, &params(), "k".repeat(64).as_str(), BTreeMap::new(), dir.path(), &|| false)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says) && err.contains(file), "{err}");
        }
    }
}
