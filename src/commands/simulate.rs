//! `simulate --out DIR`: writes the built-in simulated cohorts A and B —
//! clinical tables with the paper's Table 1 structure, per-patient NIfTI
//! images, and the generating latent variables (`truth.csv`) — as folders
//! that `load` reads. See docs/simulation.md for the generative model.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::core::learn::metrics::auc;
use crate::core::simulate::{
    ClinicalRow, ImageTruth, Latent, PatientRef, SEQUENCES, SizeProfile, paper_cohort, simulate_clinical,
    simulate_images,
};
use crate::data::manifest::{Clinical, CohortInfo, MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::imaging::nifti::{self, StoredType};
use crate::output::{Cell, Output, Table};
use crate::provenance::{io_error, sha256_bytes, sha256_file};
use crate::session::{CancelFlag, Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::records::{IMAGES_SHA256, RISK_AUC, SimulateMetrics, SimulateParams, incidental};
use crate::store::{ParamValue, RunKind};

pub struct Simulate;

impl Command for Simulate {
    fn signature(&self) -> Signature {
        Signature::new(
            "simulate",
            "data",
            "Write the built-in simulated cohorts A and B (clinical table + NIfTI images)",
        )
        .named("out", "DIR", ArgKind::Path, "the folder to write DIR/A and DIR/B into (required)")
        .seed_flag("the cohorts; the same seed gives byte-identical files")
        .named("size", "SIZE", ArgKind::Text, "small (tiny volumes, seconds) or paper (1 mm MR; default small)")
        .named("n-a", "N", ArgKind::Int, "patients in cohort A (default 97; counts scale with it)")
        .named("n-b", "N", ArgKind::Int, "patients in cohort B (default 20)")
        .switch("force", "replace DIR/A and DIR/B if DIR is not empty")
        .switch("if-absent", "do nothing when DIR/A/cohort.toml and DIR/B/cohort.toml exist (real or earlier data)")
        .switch(
            "dicom",
            "also write each patient as a clinical DICOM export in DIR/dicom/A, DIR/dicom/B (MR series, RT Dose and RT Structure Set in a planning frame, a registration), for `cohort import`",
        )
        .example("simulate --out data/sim2 --seed 7", "the paper-shaped cohorts with small volumes")
        .example("simulate --out data/sim3 --n-a 30 --n-b 10", "smaller cohorts with proportional counts")
        .example("simulate --out data/sim4 --n-a 12 --n-b 6 --dicom", "the cohorts and a DICOM export of them")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let Some(out_tok) = args.value("out") else {
            return Err(Error::invalid("`simulate` needs --out DIR", Some("e.g. `simulate --out data/sim`")));
        };
        let out = PathBuf::from(&out_tok.text);
        let seed: u64 = args.seed()?;
        let profile = match args.value("size").map(|t| (t, t.text.as_str())) {
            None | Some((_, "small")) => SizeProfile::Small,
            Some((_, "paper")) => SizeProfile::Paper,
            Some((tok, _)) => {
                return Err(Error::InvalidValue {
                    token: tok.text.clone(),
                    what: "--size".into(),
                    reason: "expected small or paper".into(),
                    span: tok.span,
                });
            }
        };
        let specs = [
            paper_cohort("A", args.parsed("n-a", "a number of patients")?)?,
            paper_cohort("B", args.parsed("n-b", "a number of patients")?)?,
        ];
        let present = args.has("if-absent") && ["A", "B"].iter().all(|c| out.join(c).join("cohort.toml").exists());
        let size_name = if profile == SizeProfile::Paper { "paper" } else { "small" };
        let run = session.begin_run(
            args,
            RunKind::Simulate,
            &SimulateParams { out: out_tok.text.clone(), size: size_name.into(), n_a: specs[0].n, n_b: specs[1].n },
            Some(seed),
        )?;
        if present {
            // What is there is the result, described as a fresh simulation is.
            return cohorts_output(
                session,
                run,
                &out,
                format!("{} already holds cohorts A and B; nothing simulated (--if-absent)", out.display()),
            );
        }
        prepare_folder(&out, args.has("force"))?;
        let export_root = out.join("dicom");
        if args.has("dicom") && export_root.exists() {
            std::fs::remove_dir_all(&export_root).map_err(|e| io_error(&export_root, e))?;
        }
        let started = Instant::now();
        let total: usize = specs.iter().map(|s| s.n).sum();
        let progress = session.progress(total as u64, "patients", "simulating".into());
        for spec in &specs {
            let dir = out.join(&spec.name);
            let (rows, latents) = simulate_clinical(seed, spec)?;
            write_text(&dir.join("clinical.csv"), &clinical_csv(&rows))?;
            let manifest = manifest(&spec.name, seed, size_name);
            write_text(&dir.join(MANIFEST_FILE), &manifest.to_toml())?;
            let images =
                write_images(&dir, seed, &spec.name, &rows, &latents, profile, &session.cancel_flag(), &progress)?;
            write_text(&dir.join("truth.csv"), &truth_csv(&rows, &latents, &images.truths))?;
            if args.has("dicom") {
                for row in &rows {
                    session.check_cancel()?;
                    export_patient(&dir, &export_root.join(&spec.name), &spec.name, &row.patient_id)?;
                }
            }
            for file in ["clinical.csv", MANIFEST_FILE, "truth.csv"] {
                let path = dir.join(file);
                session.store().log_artifact(run, &path.display().to_string(), &sha256_file(&path)?)?;
            }
            session.store().log_param(
                run,
                &IMAGES_SHA256.key(&spec.name),
                &ParamValue::Text(sha256_bytes(images.hashes.join("\n").as_bytes())),
            )?;
        }
        drop(progress);
        let seconds = started.elapsed().as_secs_f64();
        session.store().log_incidental_metric(run, incidental::SECONDS, seconds)?;
        cohorts_output(session, run, &out, format!("simulated (seed {seed}, {size_name} volumes) in {seconds:.1} s"))
    }
}

/// The rigid registration of the simulated planning frame into the MR frame
/// (row-major 4×4): 90° about the z axis, then 10, −5, 3 mm.
pub const PLANNING_TO_MR: [f64; 16] =
    [0.0, -1.0, 0.0, 10.0, 1.0, 0.0, 0.0, -5.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.0, 0.0, 1.0];

/// One simulated patient as a clinical export would hold it, under
/// `export/ID/`: the three MR sequences as image series (`MR_T1/`, …, in the
/// MR frame), and in the planning frame (the MR frame moved by the inverse
/// of [`PLANNING_TO_MR`]) the dose as `RTDOSE.dcm` and the rGTV's outline as
/// structure `GTV` of `RTSTRUCT.dcm`, with `REG.dcm` mapping the planning
/// frame into the MR frame.
fn export_patient(cohort_dir: &Path, export: &Path, cohort: &str, id: &str) -> Result<()> {
    use crate::imaging::dicom::write::{
        Study, mask_contours, uid, write_image_series, write_reg, write_rtdose, write_rtstruct,
    };
    let images = cohort_dir.join("images").join(id);
    let dir = export.join(id);
    let study = Study {
        patient_id: id.to_string(),
        study_uid: uid(&format!("radose simulate/{cohort}/{id}/study")),
        description: format!("SIMULATED radose cohort {cohort}; not a real patient"),
    };
    let mr_frame = uid(&format!("radose simulate/{cohort}/{id}/MR frame"));
    let planning_frame = uid(&format!("radose simulate/{cohort}/{id}/planning frame"));
    for (role, description) in [("T1", "AX T1 SE"), ("T1C", "AX T1 SE +C"), ("T2", "AX T2 FSE")] {
        let v = crate::imaging::nifti::read(&images.join(format!("{role}.nii.gz")))?;
        write_image_series(&dir.join(format!("MR_{role}")), &v, &study, "MR", description, &mr_frame)?;
    }
    // The inverse rigid transform: Rᵀ and −Rᵀt.
    let m = &PLANNING_TO_MR;
    let mut inverse = [0.0; 16];
    for i in 0..3 {
        for j in 0..3 {
            inverse[i * 4 + j] = m[j * 4 + i];
        }
        inverse[i * 4 + 3] = -(0..3).map(|k| m[k * 4 + i] * m[k * 4 + 3]).sum::<f64>();
    }
    inverse[15] = 1.0;
    let to_planning = crate::imaging::registration::Rigid::new(inverse, None, None, &images)?;
    let dose = to_planning.apply_volume(&crate::imaging::nifti::read(&images.join("dose.nii.gz"))?);
    write_rtdose(&dir.join("RTDOSE.dcm"), &dose, &study, &planning_frame)?;
    let rgtv = to_planning.apply_volume(&crate::imaging::nifti::read(&images.join("rgtv.nii.gz"))?);
    write_rtstruct(&dir.join("RTSTRUCT.dcm"), &study, &planning_frame, &[("GTV".into(), mask_contours(&rgtv))])?;
    write_reg(&dir.join("REG.dcm"), &study, &mr_frame, &planning_frame, m)
}

/// The cohorts in `out` as found on disk — patients, events, the true-risk
/// AUC (the ceiling any model can reach), image bytes and one hash over every
/// file `simulate` writes — the same whether they were simulated now or
/// earlier; the AUCs and bytes are logged on `run`. `how` says which.
fn cohorts_output(session: &Session, run: i64, out: &Path, how: String) -> Result<Output> {
    let mut table = Table::new(["cohort", "folder", "patients", "nn_events", "risk_auc", "files_sha256"])
        .with_title("simulated cohorts")
        .with_incidental(["folder"]);
    let (mut image_bytes, mut simulated) = (0u64, true);
    for name in ["A", "B"] {
        let dir = out.join(name);
        let (patients, events, ceiling) = match read_truth(&dir.join("truth.csv"))? {
            Some((risk, nn)) => {
                let ceiling = auc(&risk, &nn);
                session.store().log_metric(run, &RISK_AUC.key(name), ceiling, None, None)?;
                let events = nn.iter().filter(|&&v| v == 1).count();
                (Cell::Int(nn.len() as i64), Cell::Int(events as i64), Cell::Float(ceiling))
            }
            None => {
                simulated = false;
                (Cell::Null, Cell::Null, Cell::Null)
            }
        };
        let (hash, bytes) = folder_hash(&dir)?;
        image_bytes += bytes;
        table.push(vec![name.into(), dir.display().to_string().into(), patients, events, ceiling, hash.into()]);
    }
    table.notes.push("risk_auc: the true risk's AUC, the ceiling any model can reach (see docs/simulation.md)".into());
    session.store().log_metrics(run, None, &SimulateMetrics { image_bytes: image_bytes as f64 })?;
    let what =
        if simulated { "SIMULATED data, not real patients" } else { "cohort folders without a simulation truth" };
    Ok(Output::Many(vec![
        Output::Table(table),
        Output::Message(format!(
            "images {:.1} MB; {what}; load with `load A {}`",
            image_bytes as f64 / 1e6,
            out.join("A").display()
        )),
        Output::Note(format!("  {how}")),
    ]))
}

/// `truth.csv`'s risk and outcome columns; `None` when the folder has none
/// (real data under `--if-absent`).
fn read_truth(path: &Path) -> Result<Option<(Vec<f64>, Vec<u8>)>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    // (1-based line number, line) without the comment lines.
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().map_or("", |(_, l)| l).split(',').collect();
    let (Some(nn_col), Some(risk_col)) =
        (header.iter().position(|h| *h == "nn"), header.iter().position(|h| *h == "risk"))
    else {
        return Ok(None);
    };
    let (mut risk, mut nn) = (Vec::new(), Vec::new());
    for (number, line) in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let bad = || Error::invalid(format!("{}: line {number} is not a truth row", path.display()), None);
        nn.push(cells.get(nn_col).and_then(|v| v.parse::<u8>().ok()).ok_or_else(bad)?);
        risk.push(cells.get(risk_col).and_then(|v| v.parse::<f64>().ok()).ok_or_else(bad)?);
    }
    Ok(Some((risk, nn)))
}

/// One sha256 over the files `simulate` writes in a cohort folder (the
/// tables, the manifest and `images/`), by relative path — so two folders
/// with the same content hash alike wherever they are — and the bytes of
/// its images.
fn folder_hash(dir: &Path) -> Result<(String, u64)> {
    let mut files: Vec<PathBuf> =
        ["clinical.csv", MANIFEST_FILE, "truth.csv"].iter().map(|f| dir.join(f)).filter(|p| p.exists()).collect();
    let mut pending = vec![dir.join("images")];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.map_err(|e| io_error(&d, e))?.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    let (mut listing, mut image_bytes) = (String::new(), 0u64);
    for f in &files {
        let rel = f.strip_prefix(dir).unwrap_or(f);
        if rel.starts_with("images") {
            image_bytes += std::fs::metadata(f).map_err(|e| io_error(f, e))?.len();
        }
        listing.push_str(&format!("{} {}\n", rel.display(), sha256_file(f)?));
    }
    Ok((sha256_bytes(listing.as_bytes()), image_bytes))
}

fn prepare_folder(out: &Path, force: bool) -> Result<()> {
    let non_empty = std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false);
    if non_empty && !force {
        return Err(Error::invalid(
            format!("{} exists and is not empty", out.display()),
            Some("choose another --out, or add --force to replace its A and B folders"),
        ));
    }
    for cohort in ["A", "B"] {
        let dir = out.join(cohort);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        }
        std::fs::create_dir_all(dir.join("images")).map_err(|e| io_error(&dir, e))?;
    }
    Ok(())
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::provenance::write_atomic(path, text.as_bytes())
}

/// A number with at most `decimals` decimals, without trailing zeros.
fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn clinical_csv(rows: &[ClinicalRow]) -> String {
    let mut s = String::from("patient_id,age,sex,stage,chemo,tumor_ml,eqd2_gy,nn\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.patient_id,
            fixed(r.age, 0),
            r.sex,
            r.stage,
            r.chemo,
            fixed(r.tumor_ml, 2),
            fixed(r.eqd2_gy, 1),
            r.nn
        ));
    }
    s
}

fn truth_csv(rows: &[ClinicalRow], latents: &[Latent], truths: &[ImageTruth]) -> String {
    let mut s = String::from(
        "# SIMULATION GROUND TRUTH: the latent variables that generated this cohort. Never a model input.\n\
         patient_id,nn,risk,latent_dose,latent_texture,texture_T1,texture_T1C,texture_T2,latent_clinical,gtv_ml_image,hotspot_gain,hotspot_offset_mm,v105_ptv\n",
    );
    for ((r, l), t) in rows.iter().zip(latents).zip(truths) {
        s.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{:.6},{:.4},{:.6}\n",
            r.patient_id,
            r.nn,
            l.risk,
            l.dose,
            l.texture,
            l.texture_seen[0],
            l.texture_seen[1],
            l.texture_seen[2],
            l.clinical,
            t.gtv_ml,
            t.hotspot_gain,
            t.hotspot_offset_mm,
            t.v105
        ));
    }
    s
}

fn manifest(name: &str, seed: u64, size: &str) -> Manifest {
    let mut images = std::collections::BTreeMap::new();
    for role in SEQUENCES.iter().copied().chain(["rgtv", "dose"]) {
        images.insert(role.to_string(), format!("images/{{id}}/{role}.nii.gz"));
    }
    Manifest {
        cohort: CohortInfo {
            name: Some(name.to_string()),
            simulated: true,
            description: Some(format!(
                "SIMULATED cohort {name} written by radose simulate (seed {seed}, {size} volumes); not real patients"
            )),
            seed: Some(seed),
        },
        clinical: Clinical {
            path: "clinical.csv".into(),
            id: "patient_id".into(),
            outcome: "nn".into(),
            categorical: vec!["sex".into(), "stage".into(), "chemo".into()],
            continuous: vec!["age".into(), "tumor_ml".into(), "eqd2_gy".into()],
        },
        images,
    }
}

struct WrittenImages {
    truths: Vec<ImageTruth>,
    /// sha256 of every image file, in patient order.
    hashes: Vec<String>,
}

/// Generates and writes every patient's images, on all cores; each patient's
/// numbers depend only on (seed, cohort, patient), so threads do not change them.
#[allow(clippy::too_many_arguments)]
fn write_images(
    dir: &Path,
    seed: u64,
    cohort: &str,
    rows: &[ClinicalRow],
    latents: &[Latent],
    profile: SizeProfile,
    cancel: &CancelFlag,
    progress: &crate::progress::ProgressHandle,
) -> Result<WrittenImages> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(ImageTruth, Vec<String>)>>> = Mutex::new(vec![None; rows.len()]);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let workers = crate::threads::count().min(rows.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= rows.len() || cancel.is_cancelled() || failure.lock().map_or(true, |f| f.is_some()) {
                        break;
                    }
                    let patient = PatientRef { seed, cohort, index: i, row: &rows[i], latent: &latents[i], profile };
                    match write_patient(dir, &patient) {
                        Ok(done) => {
                            if let Ok(mut r) = results.lock() {
                                r[i] = Some(done);
                            }
                            progress.inc(1);
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let mut out = WrittenImages { truths: Vec::new(), hashes: Vec::new() };
    for item in results.into_inner().unwrap_or_default() {
        let Some((truth, hashes)) = item else {
            return Err(Error::invalid("a patient's images were not written", None));
        };
        out.truths.push(truth);
        out.hashes.extend(hashes);
    }
    Ok(out)
}

fn write_patient(dir: &Path, patient: &PatientRef<'_>) -> Result<(ImageTruth, Vec<String>)> {
    let images = simulate_images(patient);
    let row = patient.row;
    let folder = dir.join("images").join(&row.patient_id);
    std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
    let mut hashes = Vec::new();
    let files = [
        ("T1", &images.mr[0], StoredType::I16),
        ("T1C", &images.mr[1], StoredType::I16),
        ("T2", &images.mr[2], StoredType::I16),
        ("rgtv", &images.rgtv, StoredType::U8),
        ("dose", &images.dose, StoredType::F32),
    ];
    for (role, volume, stored) in files {
        let path = folder.join(format!("{role}.nii.gz"));
        let description = format!("radose simulated {role} (SIMULATED, not a patient)");
        let content = nifti::write(&path, volume, stored, &description)?;
        hashes.push(sha256_bytes(&content));
    }
    Ok((images.truth, hashes))
}
