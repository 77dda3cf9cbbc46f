//! `extract COHORT --sequences T1,T1C,T2 [--roi ptv] [--params FILE]
//! [--perturb SPEC --as NAME]`: radiomics for every patient and sequence of
//! a loaded cohort, parallel over patients, cached by input hashes and
//! settings; one feature frame per sequence (`A.T1`, …) in the session and
//! as Parquet. With `--perturb`, each mask is dilated, eroded or shifted on
//! its own grid first, giving the second extraction of a robustness (ICC)
//! study as frames `NAME.T1`, ….

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::masks::{MaskChange, MaskPerturbation};
use crate::core::radiomics::ParamFile;
use crate::core::volume::Volume;
use crate::data::frame::{table_to_dataframe, write_parquet};
use crate::error::{Error, Result};
use crate::imaging::radiomics::{extract_files_with, read_params};
use crate::output::{Cell, Output, Table};
use crate::provenance::{io_error, sha256_bytes, sha256_file, write_atomic};
use crate::session::{Command, Frame, FrameOrigin, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{ExtractMetrics, ExtractParams};
use crate::syntax::Token;

pub struct Extract;

impl Command for Extract {
    fn signature(&self) -> Signature {
        Signature::new(
            "extract",
            "imaging",
            "Radiomics of every patient and sequence of a cohort → one feature frame per sequence",
        )
        .required("COHORT", ArgKind::Frame, "a frame loaded from a cohort folder")
        .named("sequences", "ROLES", ArgKind::Text, "comma-separated image roles (default: every MR role)")
        .named("roi", "ROLE", ArgKind::Text, "the mask role (default ptv if the cohort has one, else rgtv)")
        .named("params", "FILE", ArgKind::Path, "a PyRadiomics parameter file (YAML or JSON)")
        .switch("ibsi", "IBSI definitions where PyRadiomics departs")
        .named(
            "perturb",
            "SPEC",
            ArgKind::Text,
            "perturb each mask first: dilate:MM, erode:MM or shift:X,Y,Z (mm along LPS x,y,z); needs --as",
        )
        .named("as", "NAME", ArgKind::NewName, "name the frames NAME.T1, … instead of COHORT.T1, …")
        .named(
            "to",
            "DIR",
            ArgKind::Path,
            "where the Parquet frames and cache go (default COHORT_FOLDER/radiomics/KEY)",
        )
        .named("jobs", "N", ArgKind::Int, "patients processed at once (default: the number of cores)")
        .named(
            "dvh",
            "METRICS",
            ArgKind::Text,
            "dose-volume figures instead of radiomics: the dose in the ROI (volume, mean/min/max and e.g. D95,D2cc,V20Gy) as frame COHORT.DVH",
        )
        .table()
        .example("extract A --sequences T1,T2 --roi rgtv", "frames A.T1 and A.T2 of rGTV radiomics")
        .example("extract A --dvh D95,D2cc,V5Gy --roi rgtv", "frame A.DVH: each patient's dose figures in the rGTV")
        .example(
            "extract A --sequences T1 --roi rgtv --perturb erode:2 --as Ap",
            "frame Ap.T1: T1 radiomics inside each rGTV eroded by 2 mm, the second extraction for `icc A.T1 Ap.T1`",
        )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let cohort = args.required(0)?;
        let frame = session.frame(cohort)?.clone();
        let (origin, manifest) = crate::workflow::lookup::cohort_of(&frame, cohort)?;
        let (origin, manifest) = (&origin, &manifest);
        let roles: Vec<String> = manifest.images.keys().cloned().collect();
        let roi = match args.value("roi") {
            Some(t) => t.text.clone(),
            None if roles.iter().any(|r| r == "ptv") => "ptv".into(),
            None => "rgtv".into(),
        };
        if !roles.contains(&roi) {
            return Err(Error::invalid(
                format!("cohort `{}` has no `{roi}` images (it has {})", cohort.text, roles.join(", ")),
                Some("name a mask role with --roi, or run `preprocess` to make the PTV"),
            ));
        }
        if let Some(list) = args.value("dvh") {
            return extract_dvh(args, session, cohort, &frame, (origin, manifest), &roi, list);
        }
        let sequences: Vec<String> = match args.value("sequences") {
            Some(t) => t.text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            None => roles
                .iter()
                .filter(|r| !["ptv", "rgtv", "gtv", "mask", "dose"].contains(&r.as_str()))
                .cloned()
                .collect(),
        };
        if let Some(bad) = sequences.iter().find(|s| !roles.contains(s)) {
            let tok = args.value("sequences").cloned();
            return Err(Error::InvalidValue {
                token: bad.clone(),
                what: "--sequences".into(),
                reason: format!("cohort `{}` has images {}", cohort.text, roles.join(", ")),
                span: tok.map_or(crate::error::Span::new(0, 0), |t| t.span),
            });
        }
        let perturbation = args.value("perturb").map(parse_perturbation).transpose()?;
        let base = frames_base(args, cohort)?;
        let params = match args.value("params") {
            Some(t) => read_params(&PathBuf::from(&t.text))?,
            None => ParamFile::default(),
        };
        let ibsi = args.has("ibsi");
        let jobs = args.parsed::<usize>("jobs", "a number of patients")?.unwrap_or_else(crate::threads::count);
        let mut setup = serde_json::json!({"settings": params.settings.to_json(), "classes": format!("{:?}", params.classes), "ibsi": ibsi, "roi": roi, "version": env!("CARGO_PKG_VERSION")});
        // Only a perturbed extraction has the key, so the original's key
        // (and cache) stay as they were, and the two never share features.
        if let Some(p) = &perturbation {
            setup["perturb"] = serde_json::json!(p.to_string());
        }
        let key = sha256_bytes(setup.to_string().as_bytes())[..12].to_string();
        let out_root =
            args.value("to").map_or_else(|| origin.path.join("radiomics").join(&key), |t| PathBuf::from(&t.text));
        let cache = out_root.join("cache");
        std::fs::create_dir_all(&cache).map_err(|e| io_error(&cache, e))?;

        let id_col = frame.roles.id.clone().unwrap_or_default();
        let outcome_col = frame.roles.outcome.clone().unwrap_or_default();
        let ids: Vec<String> = crate::data::frame::column(&frame.df, &id_col)
            .map(|c| c.values.as_text().into_iter().flatten().collect())
            .unwrap_or_default();
        let outcome: Vec<Option<f64>> =
            crate::data::frame::column(&frame.df, &outcome_col).and_then(|c| c.values.as_f64()).unwrap_or_default();

        let run = session.begin_run(
            args,
            RunKind::Extract,
            &ExtractParams {
                cohort: cohort.text.clone(),
                sequences: sequences.join(","),
                roi: roi.clone(),
                settings: params.settings.to_json(),
                ibsi,
                key: key.clone(),
                perturb: perturbation.map(|p| p.to_string()),
                dvh: None,
            },
            None,
        )?;
        for &d in &origin.dataset_ids {
            session.store().link_dataset(run, d)?;
        }

        // Work items: (patient index, sequence).
        let items: Vec<(usize, String)> =
            (0..ids.len()).flat_map(|p| sequences.iter().map(move |s| (p, s.clone()))).collect();
        let cancel = session.cancel_flag();
        let progress = session.progress(items.len() as u64, "images", format!("extract {}", cohort.text));
        let next = AtomicUsize::new(0);
        type Outcome = std::result::Result<Computed, String>;
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; items.len()]);
        let dir = origin.path.clone();
        let job = ImageJob {
            params: &params,
            ibsi,
            key: &key,
            perturbation: perturbation.as_ref(),
            label: params.settings.label,
        };
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, items.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= items.len() || cancel.is_cancelled() {
                            break;
                        }
                        let (p, seq) = &items[i];
                        let id = &ids[*p];
                        let image = manifest.image_path(&dir, seq, id).unwrap_or_default();
                        let mask = manifest.image_path(&dir, &roi, id).unwrap_or_default();
                        let outcome = one(&image, &mask, &job, &cache.join(format!("{id}.{seq}.json")));
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some(outcome);
                        }
                        progress.inc(1);
                    }
                });
            }
        });
        drop(progress);
        session.check_cancel()?;
        let results = results.into_inner().unwrap_or_default();

        let mut summary =
            Table::new(["sequence", "patients", "features", "cached", "failed", "frame", "parquet", "sha256"])
                .with_title(match &perturbation {
                    Some(p) => format!("extract {} ({roi}, perturbed {p})", cohort.text),
                    None => format!("extract {} ({roi})", cohort.text),
                })
                // The frame's values (its Parquet file's hash) are the result,
                // however many came from the cache and wherever it was written.
                .with_incidental(["cached", "parquet"]);
        let mut failures = Vec::new();
        // How each patient's mask changed (the same for all its sequences).
        let mut changes: BTreeMap<usize, MaskChange> = BTreeMap::new();
        for seq in &sequences {
            let mut rows: BTreeMap<usize, Vec<(String, f64)>> = BTreeMap::new();
            let mut cached = 0;
            for (i, (p, s)) in items.iter().enumerate() {
                if s != seq {
                    continue;
                }
                match &results[i] {
                    Some(Ok(c)) => {
                        cached += usize::from(c.cached);
                        rows.insert(*p, c.features.clone());
                        if let Some(change) = c.mask_change {
                            changes.entry(*p).or_insert(change);
                        }
                    }
                    Some(Err(e)) => failures.push(format!("{} {seq}: {e}", ids[*p])),
                    None => failures.push(format!("{} {seq}: not processed", ids[*p])),
                }
            }
            let Some(first) = rows.values().next() else { continue };
            let names: Vec<String> = first.iter().map(|(k, _)| k.clone()).collect();
            let mut t = Table::new([id_col.clone(), outcome_col.clone()].into_iter().chain(names.iter().cloned()));
            for (p, f) in &rows {
                let mut row = vec![
                    Cell::Text(ids[*p].clone()),
                    outcome.get(*p).copied().flatten().map_or(Cell::Null, |v| Cell::Int(v as i64)),
                ];
                row.extend(f.iter().map(|(_, v)| if v.is_finite() { Cell::Float(*v) } else { Cell::Null }));
                t.push(row);
            }
            let name = format!("{base}.{seq}");
            let parquet = out_root.join(format!("{name}.parquet"));
            let sha = publish_frame(session, run, &name, &t, &parquet, (&id_col, &outcome_col), (origin, manifest))?;
            summary.push(vec![
                seq.as_str().into(),
                Cell::Int(rows.len() as i64),
                Cell::Int(names.len() as i64),
                Cell::Int(cached as i64),
                Cell::Int((ids.len() - rows.len()) as i64),
                name.into(),
                parquet.display().to_string().into(),
                crate::provenance::short_hash(&sha).into(),
            ]);
        }
        if let (Some(spec), true) = (args.value("perturb"), summary.rows.is_empty()) {
            // Every extraction failed: most likely the perturbation itself
            // (an erosion deeper than the masks), so say so at its token.
            return Err(Error::InvalidValue {
                token: spec.text.clone(),
                what: "--perturb".into(),
                reason: format!(
                    "no patient could be extracted with it ({} failed), e.g. {}",
                    failures.len(),
                    failures.first().map_or("no patients", String::as_str)
                ),
                span: spec.span,
            });
        }
        session.store().log_metrics(run, None, &ExtractMetrics { failed: failures.len() as f64 })?;
        if let Some(p) = &perturbation {
            summary.notes.push(perturbation_note(p, &roi, &changes));
        }
        for f in &failures {
            summary.notes.push(format!("failed: {f}"));
        }
        if !failures.is_empty() {
            summary.notes.push("failed patients are left out of their sequence's frame".into());
        }
        if manifest.cohort.simulated {
            summary.notes.push("SIMULATED cohort: not real patients".into());
        }
        Ok(Output::Table(summary))
    }
}

/// Writes a feature table as Parquet, records it as the run's dataset and
/// artifact, and puts it in the session as frame `name` (the id and outcome
/// columns keep their roles, every other column is a continuous feature);
/// the file's hash.
fn publish_frame(
    session: &mut Session,
    run: i64,
    name: &str,
    t: &Table,
    parquet: &std::path::Path,
    (id_col, outcome_col): (&str, &str),
    (origin, manifest): (&FrameOrigin, &crate::data::manifest::Manifest),
) -> Result<String> {
    write_parquet(t, parquet)?;
    let sha = sha256_file(parquet)?;
    let dataset =
        session.store().record_dataset(run, name, &parquet.display().to_string(), &sha, Some(t.rows.len() as i64))?;
    session.store().log_artifact(run, &parquet.display().to_string(), &sha)?;
    let df = table_to_dataframe(t)?;
    let names: Vec<String> = t.columns.iter().skip(2).cloned().collect();
    let roles = crate::core::cohort::Roles {
        id: Some(id_col.to_string()),
        outcome: Some(outcome_col.to_string()),
        categorical: Vec::new(),
        continuous: names,
    };
    let mut dataset_ids = origin.dataset_ids.clone();
    dataset_ids.push(dataset);
    let fo = FrameOrigin {
        path: parquet.to_path_buf(),
        table_path: parquet.to_path_buf(),
        sha256: sha.clone(),
        dataset_ids,
        manifest: Some(manifest.clone()),
    };
    session.insert_frame(name, Frame { df, roles, origin: Some(fo) });
    Ok(sha)
}

/// `extract COHORT --dvh METRICS [--roi ROLE] [--as NAME] [--to DIR]`: each
/// patient's dose-volume figures in the ROI (the cohort's `dose` image; the
/// mask on the dose grid, resampled onto it by nearest neighbour, or a
/// structure rasterised onto it) as frame `COHORT.DVH`, features `dvh_…`.
fn extract_dvh(
    args: &Args,
    session: &mut Session,
    cohort: &Token,
    frame: &Frame,
    (origin, manifest): (&FrameOrigin, &crate::data::manifest::Manifest),
    roi: &str,
    list: &Token,
) -> Result<Output> {
    for flag in ["sequences", "params", "perturb"] {
        if let Some(t) = args.value(flag) {
            return Err(Error::InvalidValue {
                token: t.text.clone(),
                what: format!("--{flag}"),
                reason: "--dvh extracts dose figures only; run radiomics in an extract of its own".into(),
                span: t.span,
            });
        }
    }
    if !manifest.images.contains_key("dose") {
        return Err(Error::invalid(
            format!("cohort `{}` has no `dose` images", cohort.text),
            Some("name the dose in cohort.toml ([images] dose = …), or run `preprocess` with a dose"),
        ));
    }
    let metrics = crate::workflow::dvh::metrics(&list.text).map_err(|e| Error::InvalidValue {
        token: list.text.clone(),
        what: "--dvh".into(),
        reason: e.to_string(),
        span: list.span,
    })?;
    let base = frames_base(args, cohort)?;
    let bin_gy = 0.01;
    let setup =
        serde_json::json!({"dvh": list.text, "bin_gy": bin_gy, "roi": roi, "version": env!("CARGO_PKG_VERSION")});
    let key = sha256_bytes(setup.to_string().as_bytes())[..12].to_string();
    let out_root = args.value("to").map_or_else(|| origin.path.join("dvh").join(&key), |t| PathBuf::from(&t.text));
    std::fs::create_dir_all(&out_root).map_err(|e| io_error(&out_root, e))?;
    let id_col = frame.roles.id.clone().unwrap_or_default();
    let outcome_col = frame.roles.outcome.clone().unwrap_or_default();
    let ids: Vec<String> = crate::data::frame::column(&frame.df, &id_col)
        .map(|c| c.values.as_text().into_iter().flatten().collect())
        .unwrap_or_default();
    let outcome: Vec<Option<f64>> =
        crate::data::frame::column(&frame.df, &outcome_col).and_then(|c| c.values.as_f64()).unwrap_or_default();
    let run = session.begin_run(
        args,
        RunKind::Extract,
        &ExtractParams {
            cohort: cohort.text.clone(),
            sequences: String::new(),
            roi: roi.to_string(),
            settings: setup.to_string(),
            ibsi: false,
            key,
            perturb: None,
            dvh: Some(metrics.iter().map(|m| m.0.clone()).collect::<Vec<_>>().join(",")),
        },
        None,
    )?;
    for &d in &origin.dataset_ids {
        session.store().link_dataset(run, d)?;
    }
    let names = crate::workflow::dvh::feature_names(&metrics);
    let mut t = Table::new([id_col.clone(), outcome_col.clone()].into_iter().chain(names.iter().cloned()));
    let mut failures = Vec::new();
    let progress = session.progress(ids.len() as u64, "patients", format!("extract {} --dvh", cohort.text));
    for (p, id) in ids.iter().enumerate() {
        session.check_cancel()?;
        let dose = manifest.image_path(&origin.path, "dose", id).unwrap_or_default();
        let mask = manifest.image_path(&origin.path, roi, id).unwrap_or_default();
        match crate::workflow::dvh::patient_features(&dose, &mask, &metrics, bin_gy) {
            Ok(values) => {
                let mut row = vec![
                    Cell::Text(id.clone()),
                    outcome.get(p).copied().flatten().map_or(Cell::Null, |v| Cell::Int(v as i64)),
                ];
                row.extend(values.iter().map(|(_, v)| if v.is_finite() { Cell::Float(*v) } else { Cell::Null }));
                t.push(row);
            }
            Err(e) => failures.push(format!("{id}: {e}")),
        }
        progress.inc(1);
    }
    drop(progress);
    session.store().log_metrics(run, None, &ExtractMetrics { failed: failures.len() as f64 })?;
    let mut summary = Table::new(["sequence", "patients", "features", "failed", "frame", "parquet", "sha256"])
        .with_title(format!("extract {} --dvh {} ({roi})", cohort.text, list.text))
        .with_incidental(["parquet"]);
    if !t.rows.is_empty() {
        let name = format!("{base}.DVH");
        let parquet = out_root.join(format!("{name}.parquet"));
        let rows = t.rows.len();
        let sha = publish_frame(session, run, &name, &t, &parquet, (&id_col, &outcome_col), (origin, manifest))?;
        summary.push(vec![
            "DVH".into(),
            Cell::Int(rows as i64),
            Cell::Int(names.len() as i64),
            Cell::Int(failures.len() as i64),
            name.into(),
            parquet.display().to_string().into(),
            crate::provenance::short_hash(&sha).into(),
        ]);
    }
    summary.notes.push(format!(
        "doses in Gy on the dose grid, {bin_gy} Gy bins; D metrics the dose the hottest part reaches, V metrics in % of the {roi}"
    ));
    let missing = t.rows.iter().filter(|r| r.iter().any(|c| *c == Cell::Null)).count();
    if missing > 0 {
        summary.notes.push(format!(
            "{missing} patient(s) with a missing figure: Dxcc is missing where the ROI is smaller than x cm³ (impute or drop it before learning)"
        ));
    }
    for f in &failures {
        summary.notes.push(format!("failed: {f}"));
    }
    if manifest.cohort.simulated {
        summary.notes.push("SIMULATED cohort: not real patients".into());
    }
    Ok(Output::Table(summary))
}

/// `--perturb SPEC` read into a perturbation, or an error pointing at the
/// token: `dilate:MM` and `erode:MM` take 0 < MM ≤ 100, `shift:X,Y,Z` three
/// millimetre offsets along LPS x, y, z, not all zero.
fn parse_perturbation(tok: &Token) -> Result<MaskPerturbation> {
    let bad = |reason: String| Error::InvalidValue {
        token: tok.text.clone(),
        what: "--perturb".into(),
        reason,
        span: tok.span,
    };
    let kinds = "dilate:MM, erode:MM or shift:X,Y,Z (millimetres)";
    let (kind, value) =
        tok.text.split_once(':').ok_or_else(|| bad(format!("expected a perturbation and its amount: {kinds}")))?;
    let number = |text: &str| -> Result<f64> {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad(format!("`{text}` is not a number of millimetres")))
    };
    let margin = |text: &str| -> Result<f64> {
        let mm = number(text)?;
        if mm > 0.0 && mm <= 100.0 { Ok(mm) } else { Err(bad(format!("{kind} takes 0 < MM ≤ 100, not {mm}"))) }
    };
    match kind {
        "dilate" => Ok(MaskPerturbation::Dilate(margin(value)?)),
        "erode" => Ok(MaskPerturbation::Erode(margin(value)?)),
        "shift" => {
            let parts: Vec<&str> = value.split(',').collect();
            let [x, y, z] = parts.as_slice() else {
                return Err(bad(format!("shift takes three offsets X,Y,Z in millimetres, not {}", parts.len())));
            };
            let mm = [number(x)?, number(y)?, number(z)?];
            if mm == [0.0; 3] {
                return Err(bad("a shift of 0,0,0 mm moves nothing".into()));
            }
            Ok(MaskPerturbation::Shift(mm))
        }
        other => Err(bad(format!("`{other}` is not a perturbation; use {kinds}"))),
    }
}

/// The frames' name before `.SEQ`: `--as NAME` (checked like every new
/// frame name), else the cohort's. A perturbed extraction must be named,
/// and not as the cohort, so the original frames are never replaced.
fn frames_base(args: &Args, cohort: &Token) -> Result<String> {
    let perturb = args.value("perturb");
    let Some(name) = args.value("as") else {
        return match perturb {
            Some(spec) => Err(Error::InvalidValue {
                token: spec.text.clone(),
                what: "--perturb".into(),
                reason: format!(
                    "needs --as NAME for the perturbed frames (NAME.T1, …), so {}.T1, … keep the original features",
                    cohort.text
                ),
                span: spec.span,
            }),
            None => Ok(cohort.text.clone()),
        };
    };
    crate::workflow::lookup::check_frame_name(name)?;
    if perturb.is_some() && name.text == cohort.text {
        return Err(Error::InvalidValue {
            token: name.text.clone(),
            what: "--as".into(),
            reason: "perturbed frames need a name of their own, so the cohort's frames keep the original features"
                .into(),
            span: name.span,
        });
    }
    Ok(name.text.clone())
}

/// What `--perturb` did to the masks, averaged over the patients extracted.
fn perturbation_note(p: &MaskPerturbation, roi: &str, changes: &BTreeMap<usize, MaskChange>) -> String {
    let n = changes.len().max(1) as f64;
    let mean = |count: fn(&MaskChange) -> usize| changes.values().map(|c| count(c) as f64).sum::<f64>() / n;
    let (before, gained, lost) = (mean(|c| c.before), mean(|c| c.gained), mean(|c| c.lost));
    let how = match p {
        MaskPerturbation::Dilate(mm) => format!("dilated by {mm} mm"),
        MaskPerturbation::Erode(mm) => format!("eroded by {mm} mm"),
        MaskPerturbation::Shift(mm) => {
            let shifts: std::collections::BTreeSet<[i64; 3]> = changes.values().filter_map(|c| c.voxel_shift).collect();
            let shifts: Vec<String> = shifts.iter().map(|s| format!("({}, {}, {})", s[0], s[1], s[2])).collect();
            format!(
                "shifted by ({}, {}, {}) mm (LPS), rounded per axis to whole voxels: {} voxels",
                mm[0],
                mm[1],
                mm[2],
                shifts.join(", ")
            )
        }
    };
    let relative = if before > 0.0 { 100.0 * (gained - lost) / before } else { 0.0 };
    format!(
        "perturbed ({p}): each {roi} mask {how}, on its own grid before resampling; per mask on average \
         {gained:.1} voxels gained and {lost:.1} lost of {before:.1} ({relative:+.1} %)"
    )
}

/// What one extraction needs besides its files.
struct ImageJob<'a> {
    params: &'a ParamFile,
    ibsi: bool,
    /// The settings' cache key (it includes the perturbation).
    key: &'a str,
    perturbation: Option<&'a MaskPerturbation>,
    /// The mask label the features are taken from.
    label: i64,
}

/// One image's features, whether they came from the cache, and how its
/// mask was perturbed (with `--perturb`).
#[derive(Clone)]
struct Computed {
    features: Vec<(String, f64)>,
    cached: bool,
    mask_change: Option<MaskChange>,
}

/// Features as cached: each value's bits, `None` for a non-finite one.
type StoredFeatures = Vec<(String, Option<u64>)>;

/// One image's features, from the cache when its inputs and settings match.
/// Values are cached as their bits: JSON's decimal floats do not always read
/// back to the same f64, and a cached frame must equal a computed one.
fn one(
    image: &std::path::Path,
    mask: &std::path::Path,
    job: &ImageJob,
    cache: &std::path::Path,
) -> std::result::Result<Computed, String> {
    let hashes = (sha256_file(image).map_err(|e| e.to_string())?, sha256_file(mask).map_err(|e| e.to_string())?);
    let entry_key = format!("f64-bits {} {} {}", job.key, hashes.0, hashes.1);
    if let Some((stored, mask_change)) = read_cached(cache, &entry_key, job.perturbation.is_some()) {
        let features = stored.into_iter().map(|(n, v)| (n, v.map_or(f64::NAN, f64::from_bits))).collect();
        return Ok(Computed { features, cached: true, mask_change });
    }
    let mut mask_change = None;
    let x = extract_files_with(image, mask, job.params, job.ibsi, |m| match job.perturbation {
        None => Ok(m),
        Some(p) => {
            let (perturbed, change) = perturb_roi(m, job.label, p)?;
            mask_change = Some(change);
            Ok(perturbed)
        }
    })
    .map_err(|e| e.to_string())?;
    let stored: StoredFeatures =
        x.features.iter().map(|(n, v)| (n.clone(), v.is_finite().then_some(v.to_bits()))).collect();
    let json = match mask_change {
        Some(change) => serde_json::to_vec(&(entry_key, stored, change)),
        None => serde_json::to_vec(&(entry_key, stored)),
    };
    if let Ok(json) = json {
        let _ = write_atomic(cache, &json);
    }
    Ok(Computed { features: x.features, cached: false, mask_change })
}

/// A cache entry for `entry_key`: `[key, features]`, or with a perturbed
/// mask `[key, features, mask change]`; `None` when absent or stale.
fn read_cached(
    cache: &std::path::Path,
    entry_key: &str,
    perturbed: bool,
) -> Option<(StoredFeatures, Option<MaskChange>)> {
    let text = std::fs::read_to_string(cache).ok()?;
    let (key, stored, change) = if perturbed {
        let (k, f, c) = serde_json::from_str::<(String, StoredFeatures, MaskChange)>(&text).ok()?;
        (k, f, Some(c))
    } else {
        let (k, f) = serde_json::from_str::<(String, StoredFeatures)>(&text).ok()?;
        (k, f, None)
    };
    (key == entry_key).then_some((stored, change))
}

/// The ROI label's voxels perturbed on the mask's grid, carrying the label
/// again; other labels are dropped, as extraction reads only this one.
fn perturb_roi(mask: Volume, label: i64, p: &MaskPerturbation) -> Result<(Volume, MaskChange)> {
    let label = label as f32;
    let roi = Volume { data: mask.data.iter().map(|&v| if v == label { 1.0 } else { 0.0 }).collect(), ..mask };
    let (perturbed, change) = p.apply(&roi)?;
    let data = perturbed.data.iter().map(|&v| if v > 0.5 { label } else { 0.0 }).collect();
    Ok((Volume { data, ..perturbed }, change))
}
