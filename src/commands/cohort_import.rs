//! `cohort import ROOT --to DIR [--clinical FILE] [--map 'T1=*T1*,…']
//! [--roi rgtv=*GTV*] [--pseudonymise]`: a clinical DICOM export (any
//! folder layout) turned into the cohort folder `load` reads. Files are
//! grouped by Patient ID; each patient's MR series are matched to image
//! roles by Series Description, the mask is a structure of an RT Structure
//! Set rasterised onto the first role's grid, the dose is the RT Dose (the
//! plan sum when there are several), and a Spatial Registration carries the
//! dose and the structures from the planning frame into the MR frame. A
//! patient whose files are missing or ambiguous is listed and left out.
//! Each patient is written into a hidden folder and renamed when complete,
//! so Ctrl-C leaves no half-written patient.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::manifest::{Clinical, CohortInfo, MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::imaging::dicom::tree::{Entry, SeriesEntry, glob_match, image_series, scan};
use crate::imaging::nifti::{StoredType, write};
use crate::imaging::registration::Rigid;
use crate::output::{Cell, Output, Table};
use crate::provenance::{io_error, sha256_file};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{ImportMetrics, ImportParams};

pub struct CohortImport;

const DEFAULT_MAP: &str = "T1=*T1*,T1C=*T1*C*,T2=*T2*";
const DEFAULT_ROI: &str = "rgtv=*GTV*";
const RTSTRUCT: &str = "1.2.840.10008.5.1.4.1.1.481.3";
const RTDOSE: &str = "1.2.840.10008.5.1.4.1.1.481.2";
const REG: &str = "1.2.840.10008.5.1.4.1.1.66.1";

impl Command for CohortImport {
    fn signature(&self) -> Signature {
        Signature::new(
            "cohort import",
            "data",
            "Build a cohort folder from a DICOM export (MR series, RTSTRUCT, RT Dose, REG)",
        )
        .required("ROOT", ArgKind::Path, "the DICOM export: a folder of the patients' files, any layout")
        .named("to", "DIR", ArgKind::Path, "the cohort folder to write (required)")
        .named(
            "clinical",
            "FILE",
            ArgKind::Path,
            "the clinical table (CSV), one row per patient keyed by the DICOM Patient ID (without it: ids and an empty outcome to fill in)",
        )
        .named_with(
            "map",
            "ROLE=GLOB,…",
            ArgKind::Text,
            format!("image roles from MR Series Descriptions, case-insensitive globs (default {DEFAULT_MAP})"),
        )
        .named_with(
            "roi",
            "ROLE=GLOB",
            ArgKind::Text,
            format!("the mask role and the structure (ROI Name) it is made from (default {DEFAULT_ROI})"),
        )
        .named("id", "COL", ArgKind::Text, "the clinical table's patient id column (default patient_id)")
        .named("outcome", "COL", ArgKind::Text, "the outcome column (default nn)")
        .named("categorical", "COLS", ArgKind::Text, "categorical columns (default: text or at most 5 distinct values)")
        .named("continuous", "COLS", ArgKind::Text, "continuous columns (default: the other numeric columns)")
        .named("name", "NAME", ArgKind::Text, "the cohort's name in cohort.toml (default: the folder's name)")
        .switch("pseudonymise", "patient ids become HMAC-SHA-256 pseudonyms under $RADOSE_PSEUDONYM_KEY")
        .switch("force", "write into DIR even if it already holds a cohort")
        .table()
        .example(
            "cohort import data/simd/dicom/A --to data/imported/A --clinical data/simd/A/clinical.csv",
            "the simulated DICOM export of cohort A as a cohort folder",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let root = PathBuf::from(&args.required(0)?.text);
        if !root.is_dir() {
            return Err(Error::FileNotFound { path: root });
        }
        let need = |flag: &str, what: &str| {
            args.value(flag).map(|t| PathBuf::from(&t.text)).ok_or_else(|| Error::Invalid {
                message: format!("cohort import needs --{flag} {what}"),
                hint: Some(format!("cohort import {} --to DIR --clinical clinical.csv", root.display())),
            })
        };
        let to = need("to", "DIR")?;
        let clinical_path = args.value("clinical").map(|t| PathBuf::from(&t.text));
        let map_text = args.value("map").map_or(DEFAULT_MAP.to_string(), |t| t.text.clone());
        let roles = parse_map(&map_text)?;
        let roi_text = args.value("roi").map_or(DEFAULT_ROI.to_string(), |t| t.text.clone());
        let (mask_role, roi_glob) = parse_pair(&roi_text, "--roi")?;
        let key = if args.has("pseudonymise") { Some(crate::provenance::pseudonym_key()?) } else { None };
        let id_col = args.value("id").map_or("patient_id".to_string(), |t| t.text.clone());
        let outcome_col = args.value("outcome").map_or("nn".to_string(), |t| t.text.clone());
        let given = clinical_path.as_deref().map(|p| read_clinical(p, &id_col, &outcome_col)).transpose()?;
        if to.join(MANIFEST_FILE).exists() && !args.has("force") {
            return Err(Error::invalid(
                format!("{} already holds a cohort", to.display()),
                Some("choose another --to, or add --force to write into it"),
            ));
        }

        let run = session.begin_run(
            args,
            RunKind::Import,
            &ImportParams {
                root: root.display().to_string(),
                to: to.display().to_string(),
                map: map_text.clone(),
                roi: roi_text.clone(),
                clinical: clinical_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                pseudonymised: key.is_some(),
            },
            None,
        )?;
        if let (Some(path), Some(table)) = (&clinical_path, &given) {
            let name = path.display().to_string();
            session.store().record_dataset(run, &name, &name, &sha256_file(path)?, Some(table.rows.len() as i64))?;
        }

        let cancel = session.cancel_flag();
        let tree = scan(&root, &|| cancel.is_cancelled())?;
        session.store().record_dataset(
            run,
            &root.display().to_string(),
            &root.display().to_string(),
            &tree_hash(&root, &tree)?,
            None,
        )?;

        // Without a clinical table: every patient's id and an empty outcome, to be filled in.
        let clinical = given.unwrap_or_else(|| ClinicalTable {
            path: to.join("clinical.csv"),
            header: vec![id_col.clone(), outcome_col.clone()],
            id_at: 0,
            rows: tree.patients.keys().map(|id| (id.clone(), vec![id.clone(), String::new()])).collect(),
        });
        let images = to.join("images");
        std::fs::create_dir_all(&images).map_err(|e| io_error(&images, e))?;
        remove_partials(&images)?;
        let mut table =
            Table::new(["patient"].into_iter().map(str::to_string).chain(roles.iter().map(|r| r.0.clone())).chain([
                mask_role.clone(),
                "dose".into(),
                "registration".into(),
                "status".into(),
            ]))
            .with_title(format!("cohort import {} → {}", root.display(), to.display()));
        let progress =
            session.progress(tree.patients.len() as u64, "patients", format!("cohort import {}", root.display()));
        let mut imported: Vec<(String, String)> = Vec::new();
        let mut simulated = !tree.patients.is_empty();
        let mut first_problem: Option<String> = None;
        for (patient, entries) in &tree.patients {
            session.check_cancel()?;
            let cohort_id = match &key {
                Some(k) => crate::provenance::pseudonym(k, patient),
                None => patient.clone(),
            };
            let plan =
                plan_patient(entries, &roles, &mask_role, &roi_glob, clinical.rows.contains_key(patient.as_str()));
            let mut row = vec![Cell::Text(cohort_id.clone())];
            match plan {
                Ok(plan) => {
                    if !safe_id(&cohort_id) {
                        row.extend(std::iter::repeat_n(Cell::Null, roles.len() + 3));
                        row.push(Cell::Text(
                            "left out: the Patient ID cannot name a folder (use --pseudonymise)".into(),
                        ));
                    } else if let Err(e) =
                        write_patient(&plan, &roles, &images, &cohort_id, &mask_role, &|| cancel.is_cancelled())
                    {
                        // A file that cannot be converted (a missing slice, a corrupt dose)
                        // leaves this patient out; Ctrl-C stops the import.
                        if matches!(e, Error::Cancelled) {
                            return Err(e);
                        }
                        if first_problem.is_none() {
                            first_problem = Some(format!("{cohort_id}: {e}"));
                        }
                        row.extend(std::iter::repeat_n(Cell::Null, roles.len() + 3));
                        row.push(Cell::Text(format!("left out: {e}")));
                    } else {
                        simulated &= entries.iter().all(|e| e.study_description.contains("SIMULATED"));
                        row.extend(plan.series.iter().map(|s| Cell::Text(s.description.clone())));
                        row.push(Cell::Text(plan.structure.clone()));
                        row.push(Cell::Text(plan.dose_label()));
                        row.push(Cell::Text(plan.registration_label()));
                        row.push(Cell::Text("imported".into()));
                        imported.push((patient.clone(), cohort_id));
                    }
                }
                Err(problems) => {
                    if first_problem.is_none() {
                        first_problem = Some(format!("{cohort_id}: {}", problems.join("; ")));
                    }
                    row.extend(std::iter::repeat_n(Cell::Null, roles.len() + 3));
                    row.push(Cell::Text(format!("left out: {}", problems.join("; "))));
                }
            }
            table.push(row);
            progress.inc(1);
        }
        drop(progress);
        if imported.is_empty() {
            return Err(Error::invalid(
                format!(
                    "{}: no patient could be imported ({} found){}",
                    root.display(),
                    tree.patients.len(),
                    first_problem.map(|p| format!("; e.g. {p}")).unwrap_or_default()
                ),
                Some(
                    "check --map and --roi against the Series Descriptions and ROI Names (`cohort import` lists them per patient)",
                ),
            ));
        }

        // The clinical table of the imported patients, and the manifest.
        let clinical_out = to.join("clinical.csv");
        crate::provenance::write_atomic(&clinical_out, &clinical.subset(&imported)?)?;
        let (categorical, continuous) = clinical.roles(args, &id_col, &outcome_col)?;
        let mut templates: BTreeMap<String, String> =
            roles.iter().map(|(r, _)| (r.clone(), format!("images/{{id}}/{r}.nii.gz"))).collect();
        templates.insert(mask_role.clone(), format!("images/{{id}}/{mask_role}.nii.gz"));
        templates.insert("dose".into(), "images/{id}/dose.nii.gz".into());
        let cohort_name = args
            .value("name")
            .map(|t| t.text.clone())
            .or_else(|| to.file_name().map(|n| n.to_string_lossy().into_owned()));
        let manifest = Manifest {
            cohort: CohortInfo {
                name: cohort_name,
                simulated,
                description: Some(format!(
                    "imported by radose cohort import from a DICOM export{}",
                    if simulated { " of SIMULATED patients (not real patients)" } else { "" }
                )),
                seed: None,
            },
            clinical: Clinical {
                path: "clinical.csv".into(),
                id: id_col.clone(),
                outcome: outcome_col.clone(),
                categorical,
                continuous,
            },
            images: templates,
        };
        let manifest_path = to.join(MANIFEST_FILE);
        crate::provenance::write_atomic(&manifest_path, manifest.to_toml().as_bytes())?;
        for p in [&manifest_path, &clinical_out] {
            session.store().log_artifact(run, &p.display().to_string(), &sha256_file(p)?)?;
        }
        let without_images: Vec<&str> =
            clinical.rows.keys().filter(|id| !tree.patients.contains_key(id.as_str())).map(String::as_str).collect();
        session.store().log_metrics(
            run,
            None,
            &ImportMetrics {
                patients_imported: imported.len() as f64,
                patients_skipped: (tree.patients.len() - imported.len()) as f64,
                files_unreadable: tree.skipped.len() as f64,
            },
        )?;
        table.notes.push(format!(
            "{} of {} patients imported into {}; load with `load NAME {}`",
            imported.len(),
            tree.patients.len(),
            to.display(),
            to.display()
        ));
        if clinical_path.is_none() {
            table.notes.push(format!(
                "no --clinical: {} lists the patients with an empty `{outcome_col}`; fill in each outcome (and any covariates, with their roles in cohort.toml) before `load`",
                clinical_out.display()
            ));
        }
        if !without_images.is_empty() {
            table.notes.push(format!(
                "{} patient(s) of the clinical table have no DICOM files here{}",
                without_images.len(),
                if key.is_some() { "".to_string() } else { format!(": {}", without_images.join(", ")) }
            ));
        }
        for (path, why) in tree.skipped.iter().take(5) {
            table.notes.push(format!("skipped {}: {why}", path.display()));
        }
        if tree.skipped.len() > 5 {
            table.notes.push(format!("… and {} more unreadable files", tree.skipped.len() - 5));
        }
        if key.is_some() {
            table.notes.push("patient ids are HMAC-SHA-256 pseudonyms under the user's key".into());
        }
        if simulated {
            table.notes.push("SIMULATED patients (the export says so): not real patients".into());
        }
        Ok(Output::Table(table))
    }
}

/// `T1=*T1*,T1C=*T1*C*` → roles and globs, as written.
fn parse_map(text: &str) -> Result<Vec<(String, String)>> {
    let roles: Vec<(String, String)> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| parse_pair(p, "--map"))
        .collect::<Result<_>>()?;
    if roles.is_empty() {
        return Err(Error::invalid("--map names no image role", Some(DEFAULT_MAP)));
    }
    for (i, (r, _)) in roles.iter().enumerate() {
        if roles[..i].iter().any(|(q, _)| q == r) {
            return Err(Error::invalid(format!("--map names {r} twice"), None));
        }
        if ["dose", "registration"].contains(&r.as_str()) {
            return Err(Error::invalid(format!("--map: `{r}` is not an MR sequence's role"), None));
        }
    }
    Ok(roles)
}

fn parse_pair(text: &str, flag: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((role, glob)) if !role.trim().is_empty() && !glob.trim().is_empty() => {
            let role = role.trim().to_string();
            if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::invalid(
                    format!("{flag}: role `{role}` must be letters, digits and _ (it names the image files)"),
                    None,
                ));
            }
            Ok((role, glob.trim().to_string()))
        }
        _ => Err(Error::invalid(format!("{flag}: `{text}` is not ROLE=GLOB"), Some("e.g. T1=*T1*"))),
    }
}

/// The order roles claim series in: most literal characters first.
fn claim_order(roles: &[(String, String)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..roles.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(roles[i].1.chars().filter(|c| *c != '*' && *c != '?').count()));
    order
}

/// What one patient's import reads.
struct Plan {
    /// One MR series per role, in the roles' order.
    series: Vec<SeriesEntry>,
    rtstruct: PathBuf,
    structure: String,
    dose: Entry,
    /// The registration into the first role's frame, when the dose or the
    /// structure set is in another frame.
    registration: Option<(PathBuf, Rigid)>,
}

impl Plan {
    fn dose_label(&self) -> String {
        format!("RT Dose {}", self.dose.dose_summation.as_deref().unwrap_or("(no summation type)"))
    }

    fn registration_label(&self) -> String {
        match &self.registration {
            Some((p, _)) => p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()),
            None => "same frame".into(),
        }
    }
}

/// What to read for one patient, or every reason it cannot be imported.
fn plan_patient(
    entries: &[Entry],
    roles: &[(String, String)],
    mask_role: &str,
    roi_glob: &str,
    has_clinical: bool,
) -> std::result::Result<Plan, Vec<String>> {
    let mut problems = Vec::new();
    if !has_clinical {
        problems.push("no row in the clinical table".to_string());
    }
    let series: Vec<SeriesEntry> = image_series(entries).into_iter().filter(|s| s.modality == "MR").collect();
    let mut claimed: Vec<Option<SeriesEntry>> = vec![None; roles.len()];
    let mut taken: Vec<String> = Vec::new();
    for i in claim_order(roles) {
        let (role, glob) = &roles[i];
        let found: Vec<&SeriesEntry> =
            series.iter().filter(|s| !taken.contains(&s.uid) && glob_match(glob, &s.description)).collect();
        match found.as_slice() {
            [] => problems.push(format!("no MR series for {role} ({glob})")),
            [one] => {
                if one.folders.len() > 1 {
                    problems.push(format!("{role}: series `{}` is spread over several folders", one.description));
                } else {
                    taken.push(one.uid.clone());
                    claimed[i] = Some((*one).clone());
                }
            }
            many => problems.push(format!(
                "{role} ({glob}) matches {} series: {}",
                many.len(),
                many.iter().map(|s| format!("`{}`", s.description)).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    // The structure: one ROI Name matching, in one structure set.
    let mut structures: Vec<(PathBuf, String, Option<String>)> = Vec::new();
    for e in entries.iter().filter(|e| e.sop_class == RTSTRUCT) {
        match crate::imaging::dicom::rtstruct::read_rtstruct(&e.path) {
            Ok(all) => structures.extend(
                all.into_iter()
                    .filter(|s| glob_match(roi_glob, &s.name) && !s.contours.is_empty())
                    .map(|s| (e.path.clone(), s.name, s.frame_of_reference)),
            ),
            Err(err) => problems.push(err.to_string()),
        }
    }
    if structures.len() > 1 {
        problems.push(format!(
            "{mask_role} ({roi_glob}) matches {} structures: {}",
            structures.len(),
            structures.iter().map(|s| format!("`{}`", s.1)).collect::<Vec<_>>().join(", ")
        ));
    } else if structures.is_empty() {
        problems.push(format!("no structure for {mask_role} ({roi_glob}) in an RT Structure Set"));
    }
    // The dose: the plan sum when there are several.
    let doses: Vec<&Entry> = entries.iter().filter(|e| e.sop_class == RTDOSE).collect();
    let plan_doses: Vec<&&Entry> = doses.iter().filter(|e| e.dose_summation.as_deref() == Some("PLAN")).collect();
    let dose = match (doses.as_slice(), plan_doses.as_slice()) {
        ([], _) => {
            problems.push("no RT Dose".into());
            None
        }
        ([one], _) => Some((*one).clone()),
        (_, [one]) => Some((**one).clone()),
        (many, _) => {
            problems.push(format!("{} RT Dose files and not one plan sum among them", many.len()));
            None
        }
    };
    // The registration, when the dose or the structures are in another frame than the MR.
    let mr_frame = claimed.first().cloned().flatten().and_then(|s| s.frame_of_reference);
    let mut registration = None;
    let other: Vec<String> = dose
        .iter()
        .filter_map(|d| d.frame_of_reference.clone())
        .chain(structures.iter().filter_map(|s| s.2.clone()))
        .filter(|f| Some(f) != mr_frame.as_ref())
        .collect();
    if let (Some(from), Some(mr)) = (other.first(), &mr_frame) {
        if other.iter().any(|f| f != from) {
            problems.push("the dose and the structures are in two frames other than the MR's".into());
        }
        let found = entries
            .iter()
            .filter(|e| e.sop_class == REG)
            .filter_map(|e| crate::imaging::registration::read(&e.path).ok().map(|r| (e.path.clone(), r)))
            .find(|(_, r)| {
                r.from_frame.as_deref() == Some(from.as_str()) && r.to_frame.as_deref() == Some(mr.as_str())
            });
        match found {
            Some(r) => registration = Some(r),
            None => problems.push(format!("no registration from the planning frame {from} into the MR frame {mr}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(dose), Some((rtstruct, structure, _))) = (dose, structures.pop()) else {
        return Err(vec!["incomplete".into()]);
    };
    Ok(Plan { series: claimed.into_iter().flatten().collect(), rtstruct, structure, dose, registration })
}

/// A patient id that can name a folder.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Leftovers of an interrupted import.
fn remove_partials(images: &Path) -> Result<()> {
    let entries = std::fs::read_dir(images).map_err(|e| io_error(images, e))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".partial-") {
            std::fs::remove_dir_all(entry.path()).map_err(|e| io_error(&entry.path(), e))?;
        }
    }
    Ok(())
}

/// Converts one patient into `images/ID/` through `images/.partial-ID/`.
fn write_patient(
    plan: &Plan,
    roles: &[(String, String)],
    images: &Path,
    id: &str,
    mask_role: &str,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let partial = images.join(format!(".partial-{id}"));
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
        let mut first: Option<crate::imaging::dicom::series::Series> = None;
        for (s, (role, _)) in plan.series.iter().zip(roles) {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let series = crate::imaging::dicom::series::read_series(&s.folders[0], Some(&s.uid))?;
            write(&partial.join(format!("{role}.nii.gz")), &series.volume, StoredType::F32, "radose cohort import")?;
            if first.is_none() {
                first = Some(series);
            }
        }
        let Some(first) = first else { return Err(Error::invalid("no image series", None)) };
        let rigid = plan.registration.as_ref().map(|r| &r.1);
        let structure = crate::imaging::dicom::rtstruct::structure(&plan.rtstruct, &plan.structure)?;
        let mask = crate::imaging::dicom::rtstruct::rasterise_onto(
            &structure,
            &first.volume,
            first.frame_of_reference.as_deref(),
            rigid,
        )?;
        write(&partial.join(format!("{mask_role}.nii.gz")), &mask, StoredType::U8, "radose cohort import")?;
        let mut dose = crate::imaging::read_image(&plan.dose.path)?.volume;
        if let Some(r) = rigid
            && plan.dose.frame_of_reference.as_deref() != first.frame_of_reference.as_deref()
        {
            dose = r.apply_volume(&dose);
        }
        write(&partial.join("dose.nii.gz"), &dose, StoredType::F32, "radose cohort import")?;
        let done = images.join(id);
        if done.exists() {
            std::fs::remove_dir_all(&done).map_err(|e| io_error(&done, e))?;
        }
        std::fs::rename(&partial, &done).map_err(|e| io_error(&done, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

/// The clinical table: its header and each patient's record by id.
struct ClinicalTable {
    path: PathBuf,
    header: Vec<String>,
    id_at: usize,
    rows: BTreeMap<String, Vec<String>>,
}

/// Reads the clinical CSV; the id and outcome columns must be there, ids unique.
fn read_clinical(path: &Path, id_col: &str, outcome_col: &str) -> Result<ClinicalTable> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| io_error(path, std::io::Error::other(e.to_string())))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display()), None))?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |col: &str, flag: &str| {
        header.iter().position(|h| h == col).ok_or_else(|| Error::Invalid {
            message: format!("{}: no column `{col}`; it has: {}", path.display(), header.join(", ")),
            hint: Some(format!("name it with {flag} COL")),
        })
    };
    let id_at = find(id_col, "--id")?;
    find(outcome_col, "--outcome")?;
    let mut rows = BTreeMap::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::invalid(format!("{}: row {}: {e}", path.display(), n + 2), None))?;
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        let id = cells.get(id_at).cloned().unwrap_or_default();
        if id.is_empty() {
            return Err(Error::invalid(format!("{}: row {}: no patient id", path.display(), n + 2), None));
        }
        if rows.insert(id.clone(), cells).is_some() {
            return Err(Error::invalid(
                format!("{}: row {}: patient `{id}` appears twice", path.display(), n + 2),
                None,
            ));
        }
    }
    Ok(ClinicalTable { path: path.to_path_buf(), header, id_at, rows })
}

impl ClinicalTable {
    /// The imported patients' rows as CSV, each id replaced by its cohort id.
    fn subset(&self, imported: &[(String, String)]) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| Error::invalid(format!("writing the clinical table: {e}"), None);
        w.write_record(&self.header).map_err(fail)?;
        for (source_id, cohort_id) in imported {
            if let Some(row) = self.rows.get(source_id) {
                let mut row = row.clone();
                row[self.id_at] = cohort_id.clone();
                w.write_record(&row).map_err(fail)?;
            }
        }
        w.into_inner().map_err(|e| Error::invalid(format!("writing the clinical table: {e}"), None))
    }

    /// Categorical and continuous columns: as given, else text columns and
    /// numeric ones with at most 5 distinct values are categorical, other
    /// numeric columns continuous.
    fn roles(&self, args: &Args, id_col: &str, outcome_col: &str) -> Result<(Vec<String>, Vec<String>)> {
        let list = |flag: &str| -> Result<Option<Vec<String>>> {
            let Some(t) = args.value(flag) else { return Ok(None) };
            let cols: Vec<String> = t.text.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
            if let Some(bad) = cols.iter().find(|c| !self.header.contains(c)) {
                return Err(Error::invalid(
                    format!("--{flag}: {} has no column `{bad}`", self.path.display()),
                    Some(&format!("its columns: {}", self.header.join(", "))),
                ));
            }
            Ok(Some(cols))
        };
        let (given_cat, given_cont) = (list("categorical")?, list("continuous")?);
        let (mut categorical, mut continuous) = (Vec::new(), Vec::new());
        for (c, col) in self.header.iter().enumerate() {
            if col == id_col || col == outcome_col {
                continue;
            }
            let values: Vec<&str> =
                self.rows.values().filter_map(|r| r.get(c)).map(String::as_str).filter(|v| !v.is_empty()).collect();
            let numeric = values.iter().all(|v| v.parse::<f64>().is_ok());
            let mut distinct = values.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let is_cat = match (&given_cat, &given_cont) {
                (Some(cat), _) if cat.contains(col) => true,
                (_, Some(cont)) if cont.contains(col) => false,
                (Some(_), Some(_)) => continue,
                _ => !numeric || distinct.len() <= 5,
            };
            if is_cat { categorical.push(col.clone()) } else { continuous.push(col.clone()) }
        }
        Ok((categorical, continuous))
    }
}

/// One hash over every DICOM file's path (relative to the root) and content.
fn tree_hash(root: &Path, tree: &crate::imaging::dicom::tree::Tree) -> Result<String> {
    let mut lines: Vec<String> = Vec::new();
    for e in tree.patients.values().flatten() {
        let rel = e.path.strip_prefix(root).unwrap_or(&e.path).display().to_string();
        lines.push(format!("{rel} {}", sha256_file(&e.path)?));
    }
    lines.sort();
    Ok(crate::provenance::sha256_bytes(lines.join("\n").as_bytes()))
}
