//! `extract COHORT --sequences T1,T1C,T2 [--roi ptv] [--params FILE]`:
//! radiomics for every patient and sequence of a loaded cohort, parallel
//! over patients, cached by input hashes and settings; one feature frame
//! per sequence (`A.T1`, …) in the session and as Parquet.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::radiomics::ParamFile;
use crate::data::frame::{table_to_dataframe, write_parquet};
use crate::error::{Error, Result};
use crate::imaging::radiomics::{extract_files, read_params};
use crate::output::{Cell, Output, Table};
use crate::provenance::{io_error, sha256_bytes, sha256_file, write_atomic};
use crate::session::{Command, Frame, FrameOrigin, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{ExtractMetrics, ExtractParams};

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
            "to",
            "DIR",
            ArgKind::Path,
            "where the Parquet frames and cache go (default COHORT_FOLDER/radiomics/KEY)",
        )
        .named("jobs", "N", ArgKind::Int, "patients processed at once (default: the number of cores)")
        .table()
        .example("extract A --sequences T1,T2 --roi rgtv", "frames A.T1 and A.T2 of rGTV radiomics")
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
        let params = match args.value("params") {
            Some(t) => read_params(&PathBuf::from(&t.text))?,
            None => ParamFile::default(),
        };
        let ibsi = args.has("ibsi");
        let jobs = args.parsed::<usize>("jobs", "a number of patients")?.unwrap_or_else(crate::threads::count);
        let setup = serde_json::json!({"settings": params.settings.to_json(), "classes": format!("{:?}", params.classes), "ibsi": ibsi, "roi": roi, "version": env!("CARGO_PKG_VERSION")});
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
        type Outcome = std::result::Result<(Vec<(String, f64)>, bool), String>;
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; items.len()]);
        let dir = origin.path.clone();
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
                        let outcome = one(&image, &mask, &params, ibsi, &key, &cache.join(format!("{id}.{seq}.json")));
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
                .with_title(format!("extract {} ({roi})", cohort.text))
                // The frame's values (its Parquet file's hash) are the result,
                // however many came from the cache and wherever it was written.
                .with_incidental(["cached", "parquet"]);
        let mut failures = Vec::new();
        for seq in &sequences {
            let mut rows: BTreeMap<usize, Vec<(String, f64)>> = BTreeMap::new();
            let mut cached = 0;
            for (i, (p, s)) in items.iter().enumerate() {
                if s != seq {
                    continue;
                }
                match &results[i] {
                    Some(Ok((f, hit))) => {
                        cached += usize::from(*hit);
                        rows.insert(*p, f.clone());
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
            let name = format!("{}.{seq}", cohort.text);
            let parquet = out_root.join(format!("{name}.parquet"));
            write_parquet(&t, &parquet)?;
            let sha = sha256_file(&parquet)?;
            let dataset = session.store().record_dataset(
                run,
                &name,
                &parquet.display().to_string(),
                &sha,
                Some(t.rows.len() as i64),
            )?;
            session.store().log_artifact(run, &parquet.display().to_string(), &sha)?;
            let df = table_to_dataframe(&t)?;
            let roles = crate::core::cohort::Roles {
                id: Some(id_col.clone()),
                outcome: Some(outcome_col.clone()),
                categorical: Vec::new(),
                continuous: names.clone(),
            };
            let mut dataset_ids = origin.dataset_ids.clone();
            dataset_ids.push(dataset);
            let fo = FrameOrigin {
                path: parquet.clone(),
                table_path: parquet.clone(),
                sha256: sha.clone(),
                dataset_ids,
                manifest: Some(manifest.clone()),
            };
            session.insert_frame(&name, Frame { df, roles, origin: Some(fo) });
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
        session.store().log_metrics(run, None, &ExtractMetrics { failed: failures.len() as f64 })?;
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

/// One image's features, from the cache when its inputs and settings match.
/// Values are cached as their bits: JSON's decimal floats do not always read
/// back to the same f64, and a cached frame must equal a computed one.
fn one(
    image: &std::path::Path,
    mask: &std::path::Path,
    params: &ParamFile,
    ibsi: bool,
    key: &str,
    cache: &std::path::Path,
) -> std::result::Result<(Vec<(String, f64)>, bool), String> {
    let hashes = (sha256_file(image).map_err(|e| e.to_string())?, sha256_file(mask).map_err(|e| e.to_string())?);
    let entry_key = format!("f64-bits {key} {} {}", hashes.0, hashes.1);
    if let Ok(text) = std::fs::read_to_string(cache)
        && let Ok((k, f)) = serde_json::from_str::<(String, Vec<(String, Option<u64>)>)>(&text)
        && k == entry_key
    {
        return Ok((f.into_iter().map(|(n, v)| (n, v.map_or(f64::NAN, f64::from_bits))).collect(), true));
    }
    let x = extract_files(image, mask, params, ibsi).map_err(|e| e.to_string())?;
    let stored: Vec<(String, Option<u64>)> =
        x.features.iter().map(|(n, v)| (n.clone(), v.is_finite().then_some(v.to_bits()))).collect();
    if let Ok(json) = serde_json::to_vec(&(entry_key, stored)) {
        let _ = write_atomic(cache, &json);
    }
    Ok((x.features, false))
}
