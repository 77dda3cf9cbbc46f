//! `preprocess COHORT [--resample X,Y,Z] [--n4] [--margin-mm 3] …`: every
//! patient's images of a loaded cohort onto one MR grid, with the PTV and
//! the dose, written as a new cohort folder (cached by input hash, parallel
//! over patients, failures reported per patient).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::data::manifest::{MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::imaging::preprocess::{PatientInputs, PreprocessParams, cached, hash_inputs, patient_key, run_patient};
use crate::output::{Cell, Output, Table};
use crate::provenance::{io_error, sha256_file};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{PreprocessMetrics, PreprocessRunParams, incidental};
use crate::syntax::Token;

pub struct Preprocess;

/// Manifest roles read as the tumour contour, in order of preference.
const MASK_ROLES: &[&str] = &["rgtv", "gtv", "mask"];

impl Command for Preprocess {
    fn signature(&self) -> Signature {
        Signature::new("preprocess", "imaging", "N4, resample, PTV and dose-on-MR for every patient of a loaded cohort")
            .required("COHORT", ArgKind::Frame, "a frame loaded from a cohort folder (with [images] in cohort.toml)")
            .named("resample", "X,Y,Z", ArgKind::Text, "new voxel spacing in mm (default: keep the first MR's grid)")
            .named(
                "interpolator",
                "NAME",
                ArgKind::Text,
                "MR interpolation when resampling: bspline (default) or linear",
            )
            .switch("n4", "N4 bias-field correction of each MR sequence (SimpleITK's defaults, Otsu mask)")
            .named(
                "shrink",
                "X,Y,Z",
                ArgKind::Text,
                "fit N4 on the MR shrunk by these factors (default 1,1,1, as SimpleITK; ANTs shrinks 4 times): on a \
                 160×160×128 MR, 2,2,2 is 6× faster and moves the field by 0.8% at most, 4,4,4 12× and 1.8% \
                 (docs/performance.md)",
            )
            .defaulted(
                "margin-mm",
                "MM",
                ArgKind::Float,
                "PTV = rGTV expanded by this many millimetres",
                crate::core::simulate::PTV_MARGIN_MM,
            )
            .switch("force-frame", "resample the dose even when it does not cover the PTV")
            .named(
                "registration",
                "FILE",
                ArgKind::Path,
                "a rigid registration taking the dose's frame (the planning CT's) into the MR's — a DICOM Spatial \
                 Registration or a text 4×4 matrix — for every patient; per patient, a `registration` image role in \
                 cohort.toml",
            )
            .named("to", "DIR", ArgKind::Path, "output folder (default COHORT_FOLDER/preprocessed/KEY)")
            .named("jobs", "N", ArgKind::Int, "patients processed at once (default: the number of cores)")
            .table()
            .example("preprocess A", "the PTV (3 mm) and the dose on each patient's T1 grid")
            .example("preprocess A --resample 1,1,1 --n4 --shrink 2,2,1", "N4-corrected MR on a 1 mm grid")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let cohort = args.required(0)?;
        let frame = session.frame(cohort)?.clone();
        let (origin, manifest) = crate::workflow::lookup::cohort_of(&frame, cohort)?;
        let (origin, manifest) = (&origin, &manifest);
        let params = PreprocessParams {
            resample: args
                .value("resample")
                .map(|t| triple::<f64>(t, "--resample", "three spacings in mm"))
                .transpose()?,
            interpolator: args.value("interpolator").map_or("bspline".to_string(), |t| t.text.clone()),
            n4: args.has("n4"),
            n4_shrink: args
                .value("shrink")
                .map(|t| triple::<usize>(t, "--shrink", "three whole factors"))
                .transpose()?
                .unwrap_or([1, 1, 1]),
            margin_mm: args
                .parsed::<f64>("margin-mm", "a margin in mm")?
                .unwrap_or(crate::core::simulate::PTV_MARGIN_MM),
            force_frame: args.has("force-frame"),
        };
        if let Some(t) = args.value("interpolator")
            && !["bspline", "linear"].contains(&t.text.as_str())
        {
            return Err(Error::InvalidValue {
                token: t.text.clone(),
                what: "--interpolator".into(),
                reason: "use bspline or linear".into(),
                span: t.span,
            });
        }
        if params.resample.is_some_and(|s| s.iter().any(|x| !(*x > 0.0 && x.is_finite()))) {
            return Err(Error::invalid("--resample spacings must be positive", None));
        }
        if params.n4_shrink.contains(&0) {
            return Err(Error::invalid("--shrink factors must be at least 1", None));
        }
        let jobs = args.parsed::<usize>("jobs", "a number of patients")?.unwrap_or_else(crate::threads::count);
        let mut patients = cohort_inputs(&origin.path, manifest, &frame, &cohort.text)?;
        if let Some(t) = args.value("registration") {
            let path = PathBuf::from(&t.text);
            if !path.is_file() {
                return Err(Error::FileNotFound { path });
            }
            for p in &mut patients {
                p.registration = Some(path.clone());
            }
        }
        let key = params.key();
        let out_root =
            args.value("to").map_or_else(|| origin.path.join("preprocessed").join(&key), |t| PathBuf::from(&t.text));
        std::fs::create_dir_all(&out_root).map_err(|e| io_error(&out_root, e))?;

        let run = session.begin_run(
            args,
            RunKind::Preprocess,
            &PreprocessRunParams {
                cohort: cohort.text.clone(),
                params: serde_json::to_string(&params).unwrap_or_default(),
                key: key.clone(),
                out: out_root.display().to_string(),
                jobs,
            },
            None,
        )?;
        for &d in &origin.dataset_ids {
            session.store().link_dataset(run, d)?;
        }

        let cancel = session.cancel_flag();
        let progress = session.progress(patients.len() as u64, "patients", format!("preprocess {}", cohort.text));
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<(PatientOutcome, f64)>>> = Mutex::new(vec![None; patients.len()]);
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, patients.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= patients.len() || cancel.is_cancelled() {
                            break;
                        }
                        let t = Instant::now();
                        let outcome = one_patient(&patients[i], &params, &out_root, &|| cancel.is_cancelled());
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some((outcome, t.elapsed().as_secs_f64()));
                        }
                        progress.inc(1);
                    }
                });
            }
        });
        drop(progress);
        session.check_cancel()?;
        let results = results.into_inner().unwrap_or_default();

        let mut table = Table::new([
            "patient",
            "status",
            "rgtv_ml",
            "ptv_ml",
            "dose_mean_ptv",
            "dose_max_ptv",
            "seconds",
            "message",
        ])
        .with_title(format!("preprocess {} → {}", cohort.text, out_root.display()))
        // Whether a patient was computed now or read from the cache, and how
        // long it took, is not the result; the volumes and doses are.
        .with_incidental(["status", "seconds"]);
        let (mut done, mut hits, mut failed) = (0, 0, 0);
        let mut stage_seconds: std::collections::BTreeMap<String, f64> = Default::default();
        for (p, r) in patients.iter().zip(results) {
            let Some((outcome, secs)) = r else { continue };
            let opt = |x: Option<f64>| x.map_or(Cell::Null, Cell::Float);
            let (status, rec, message) = match outcome {
                PatientOutcome::Done(rec) => {
                    done += 1;
                    for (stage, secs) in &rec.seconds {
                        *stage_seconds.entry(stage.clone()).or_default() += secs;
                    }
                    ("done", Some(rec), String::new())
                }
                PatientOutcome::Cached(rec) => {
                    hits += 1;
                    ("cached", Some(rec), String::new())
                }
                PatientOutcome::Failed(msg) => {
                    failed += 1;
                    ("failed", None, msg)
                }
            };
            table.push(vec![
                p.id.as_str().into(),
                status.into(),
                opt(rec.as_ref().map(|r| r.rgtv_ml)),
                opt(rec.as_ref().map(|r| r.ptv_ml)),
                opt(rec.as_ref().and_then(|r| r.dose_mean_ptv)),
                opt(rec.as_ref().and_then(|r| r.dose_max_ptv)),
                Cell::Float(secs),
                message.into(),
            ]);
        }
        write_cohort(&out_root, &origin.table_path, manifest, &patients, &cohort.text, &key)?;
        let store = session.store();
        let manifest_path = out_root.join(MANIFEST_FILE);
        let sha = sha256_file(&manifest_path)?;
        store.log_artifact(run, &manifest_path.display().to_string(), &sha)?;
        store.log_incidental_metric(run, incidental::PATIENTS_DONE, done as f64)?;
        store.log_incidental_metric(run, incidental::PATIENTS_CACHED, hits as f64)?;
        store.log_metrics(run, None, &PreprocessMetrics { patients_failed: failed as f64 })?;
        if failed > 0 {
            table.notes.push(format!(
                "{failed} of {} patients failed (see `message`); the others were written to {}",
                patients.len(),
                out_root.display()
            ));
        }
        table.notes.push(format!("load the result with `load NAME {}`", out_root.display()));
        // The same shape whether or not anything was computed: a replay
        // compares the table and leaves the note (incidental) aside.
        if done == 0 {
            let note = "time by stage: nothing computed (every patient from the cache or failed)".to_string();
            return Ok(Output::Many(vec![Output::Table(table), Output::Note(note)]));
        }
        let total: f64 = stage_seconds.values().sum();
        let stages = ["read", "n4", "resample", "ptv", "dose", "write"]
            .iter()
            .filter_map(|s| stage_seconds.get(*s).map(|v| (s, v)))
            .map(|(s, v)| format!("{s} {v:.1} s ({:.0}%)", 100.0 * v / total.max(1e-12)))
            .collect::<Vec<_>>()
            .join(", ");
        let note = format!("time by stage, summed over the {done} patient(s) computed: {stages}");
        Ok(Output::Many(vec![Output::Table(table), Output::Note(note)]))
    }
}

/// Per-patient result.
#[derive(Debug, Clone)]
enum PatientOutcome {
    Done(crate::imaging::preprocess::PatientRecord),
    Cached(crate::imaging::preprocess::PatientRecord),
    Failed(String),
}

fn one_patient(
    p: &PatientInputs,
    params: &PreprocessParams,
    root: &Path,
    cancelled: &dyn Fn() -> bool,
) -> PatientOutcome {
    let dir = root.join(&p.id);
    let inputs = match hash_inputs(p) {
        Ok(h) => h,
        Err(e) => return PatientOutcome::Failed(e.to_string()),
    };
    let key = patient_key(params, &inputs);
    if let Some(rec) = cached(&dir, &key) {
        return PatientOutcome::Cached(rec);
    }
    match run_patient(p, params, &key, inputs, &dir, cancelled) {
        Ok(rec) => PatientOutcome::Done(rec),
        Err(e) => PatientOutcome::Failed(e.to_string()),
    }
}

/// Image roles that name a registration file, not an image.
const REGISTRATION_ROLES: [&str; 2] = ["registration", "reg"];

/// Each patient's files from the manifest's image roles.
fn cohort_inputs(
    dir: &Path,
    manifest: &Manifest,
    frame: &crate::session::Frame,
    name: &str,
) -> Result<Vec<PatientInputs>> {
    let id_col =
        frame.roles.id.clone().ok_or_else(|| Error::invalid(format!("frame `{name}` has no id column"), None))?;
    let ids = crate::data::frame::column(&frame.df, &id_col)
        .ok_or_else(|| Error::invalid(format!("frame `{name}` lost its id column {id_col}"), None))?
        .values
        .as_text();
    let roles: Vec<&String> = manifest.images.keys().collect();
    let mask_role =
        MASK_ROLES.iter().find_map(|m| roles.iter().find(|r| r.eq_ignore_ascii_case(m))).ok_or_else(|| {
            Error::invalid(
                format!(
                    "{}: [images] names no tumour contour (one of {})",
                    dir.join(MANIFEST_FILE).display(),
                    MASK_ROLES.join(", ")
                ),
                Some("add e.g. rgtv = \"images/{id}/rgtv.nii.gz\""),
            )
        })?;
    let mr_roles: Vec<&String> = roles
        .iter()
        .copied()
        .filter(|r| {
            *r != *mask_role
                && !REGISTRATION_ROLES.iter().chain(["dose", "ptv"].iter()).any(|x| r.eq_ignore_ascii_case(x))
        })
        .collect();
    if mr_roles.is_empty() {
        return Err(Error::invalid(
            format!("{}: [images] names no MR sequence", dir.join(MANIFEST_FILE).display()),
            None,
        ));
    }
    let dose_role = roles.iter().find(|r| r.eq_ignore_ascii_case("dose"));
    let registration_role = roles.iter().find(|r| REGISTRATION_ROLES.iter().any(|x| r.eq_ignore_ascii_case(x)));
    let mut out = Vec::new();
    for id in ids.into_iter().flatten() {
        let path = |role: &str| manifest.image_path(dir, role, &id).unwrap_or_default();
        out.push(PatientInputs {
            id: id.clone(),
            mr: mr_roles.iter().map(|r| (r.to_string(), path(r))).collect(),
            mask: (mask_role.to_string(), path(mask_role)),
            dose: dose_role.map(|r| path(r)),
            registration: registration_role.map(|r| path(r)),
        });
    }
    Ok(out)
}

/// Writes the output folder's cohort.toml and a copy of the clinical table,
/// so `load` reads the preprocessed cohort like any other.
fn write_cohort(
    root: &Path,
    table: &Path,
    m: &Manifest,
    patients: &[PatientInputs],
    name: &str,
    key: &str,
) -> Result<()> {
    let file = table.file_name().and_then(|f| f.to_str()).unwrap_or("clinical.csv").to_string();
    let bytes = std::fs::read(table).map_err(|e| io_error(table, e))?;
    crate::provenance::write_atomic(&root.join(&file), &bytes)?;
    let mut out = m.clone();
    out.clinical.path = file;
    let desc = m.cohort.description.clone().unwrap_or_default();
    out.cohort.description = Some(
        format!("{desc} — preprocessed by radose (key {key}) from cohort {name}").trim_start_matches(" — ").to_string(),
    );
    let mut images = BTreeMap::new();
    if let Some(p) = patients.first() {
        for (role, _) in &p.mr {
            images.insert(role.clone(), format!("{{id}}/{role}.nii.gz"));
        }
        images.insert(p.mask.0.clone(), format!("{{id}}/{}.nii.gz", p.mask.0));
        images.insert("ptv".into(), "{id}/ptv.nii.gz".into());
        if p.dose.is_some() {
            images.insert("dose".into(), "{id}/dose.nii.gz".into());
        }
    }
    out.images = images;
    crate::provenance::write_atomic(&root.join(MANIFEST_FILE), out.to_toml().as_bytes())
}

/// Parses `a,b,c`.
fn triple<T: std::str::FromStr + Copy>(tok: &Token, flag: &str, what: &str) -> Result<[T; 3]> {
    let parts: Vec<&str> = tok.text.split(',').map(str::trim).collect();
    let bad = || Error::InvalidValue {
        token: tok.text.clone(),
        what: flag.into(),
        reason: format!("expected {what}, e.g. 1,1,1"),
        span: tok.span,
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(p.parse::<T>().map_err(|_| bad())?);
    }
    Ok([out[0], out[1], out[2]])
}
