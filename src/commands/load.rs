//! `load NAME PATH`: a cohort folder (with `cohort.toml`) or a CSV/Parquet
//! table into a named frame, validated, hashed and recorded as a run.

use std::path::{Path, PathBuf};

use crate::core::cohort::{RawTable, Roles, type_and_validate};
use crate::data::csv_table::read_csv;
use crate::data::frame::{read_parquet_raw, to_dataframe};
use crate::data::manifest::{MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::provenance::sha256_file;
use crate::session::{Command, Frame, FrameOrigin, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::store::RunKind;
use crate::store::records::{FrameParams, LoadMetrics};
use crate::syntax::Token;

pub struct Load;

impl Command for Load {
    fn signature(&self) -> Signature {
        Signature::new("load", "data", "Load a cohort folder or a CSV/Parquet table into a named frame")
            .required("NAME", ArgKind::NewName, "the frame's name in this session")
            .optional("PATH", ArgKind::Path, "a cohort folder with cohort.toml, or a .csv/.parquet file")
            .named("id", "COL", ArgKind::Text, "the patient id column (required for a plain table)")
            .named("outcome", "COL", ArgKind::Text, "the binary 0/1 outcome column (required for a plain table)")
            .named("categorical", "COLS", ArgKind::Text, "comma-separated categorical columns")
            .named("continuous", "COLS", ArgKind::Text, "comma-separated continuous columns (must be numbers)")
            .switch("no-images", "load the clinical table without checking the manifest's image files")
            .named(
                "features",
                "DIR",
                ArgKind::Path,
                "also reattach the feature frames NAME.*.parquet that `extract` wrote in DIR",
            )
            .example("load A data/sim/A", "load cohort A from its folder (reads data/sim/A/cohort.toml)")
            .example(
                "load T data/sim/A/clinical.csv --id patient_id --outcome nn --continuous age",
                "load a plain table, naming the id and outcome columns",
            )
            .example(
                "load A data/pre/A --features data/feat/A",
                "cohort A and its extracted feature frames (A.T1, …) without extracting again",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        crate::workflow::lookup::check_frame_name(name)?;
        let mut outputs = Vec::new();
        match (args.positional(1), args.value("features")) {
            (None, None) => {
                return Err(Error::MissingArgument {
                    command: "load".into(),
                    arg: "PATH".into(),
                    span: crate::error::Span::new(args.statement.text.len(), args.statement.text.len() + 1),
                });
            }
            (Some(path_tok), _) => outputs.extend(load_one(args, session, &name.text, &path_tok.text)?),
            (None, Some(_)) => {
                session.frame(name).map_err(|_| {
                    Error::invalid(
                        format!("`load {} --features DIR` needs the cohort {} loaded first", name.text, name.text),
                        Some("give the cohort's folder too: `load A data/sim/A --features DIR`"),
                    )
                })?;
            }
        }
        if let Some(dir) = args.value("features") {
            let files = feature_files(&name.text, Path::new(&dir.text))?;
            for (frame, file) in files {
                outputs.extend(load_one(args, session, &frame, &file.display().to_string())?);
            }
        }
        Ok(Output::Many(outputs))
    }
}

/// The Parquet files `extract` wrote for cohort `name` in `dir`
/// (`NAME.SEQ.parquet`), as (frame name, path), sorted.
fn feature_files(name: &str, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| crate::provenance::io_error(dir, e))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        if let Some(stem) = file.strip_suffix(".parquet")
            && stem.strip_prefix(name).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
        {
            files.push((stem.to_string(), path.clone()));
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(
            format!("{}: no feature frames {name}.*.parquet here", dir.display()),
            Some("`extract` writes them to the folder its table lists under `parquet`"),
        ));
    }
    Ok(files)
}

/// Loads one table or cohort folder as the frame `name`.
fn load_one(args: &Args, session: &mut Session, name: &str, path_text: &str) -> Result<Vec<Output>> {
    {
        let path = PathBuf::from(path_text);
        if !path.exists() {
            return Err(Error::FileNotFound { path });
        }
        let manifest = if path.is_dir() {
            let manifest_path = path.join(MANIFEST_FILE);
            if !manifest_path.exists() {
                return Err(Error::invalid(
                    format!("{}: a cohort folder needs a {MANIFEST_FILE}", path.display()),
                    Some("load a table file directly with --id and --outcome, or add a cohort.toml"),
                ));
            }
            Some(Manifest::read(&path)?)
        } else {
            None
        };
        let table_path = match &manifest {
            Some(m) => path.join(&m.clinical.path),
            None => path.clone(),
        };
        // A feature frame NAME.SEQ next to its loaded cohort NAME takes the
        // cohort's id, outcome and images.
        let cohort = name.split_once('.').and_then(|(c, _)| session.frames().get(c)).filter(|_| manifest.is_none());
        let cohort_manifest = cohort.and_then(|c| c.origin.as_ref().and_then(|o| o.manifest.clone()));
        // Its roles follow from the file's columns once it is read; any other table's now.
        let cohort_roles =
            cohort.map(|c| c.roles.clone()).filter(|_| args.value("id").is_none() && args.value("outcome").is_none());
        let given = match &cohort_roles {
            Some(_) => None,
            None => Some(roles_from(args, manifest.as_ref()).map_err(|e| match name.split_once('.') {
                Some((c, _)) if manifest.is_none() && args.value("id").is_none() => Error::invalid(
                    format!("{e}"),
                    Some(&format!(
                        "a feature frame {name} takes its roles from its cohort: load the cohort {c} first, or give --id and --outcome"
                    )),
                ),
                _ => e,
            })?),
        };

        let run = session.begin_run(
            args,
            RunKind::Load,
            &FrameParams { path: Some(path_text.to_string()), ..FrameParams::of(name) },
            None,
        )?;
        let sha256 = sha256_file(&table_path)?;
        let raw = read_table(&table_path)?;
        let roles = given.unwrap_or_else(|| feature_roles(&cohort_roles.unwrap_or_default(), &raw.headers));
        session.check_cancel()?;
        let columns = type_and_validate(&raw, &roles)?;
        if let (Some(m), false) = (&manifest, args.has("no-images")) {
            check_images(&path, m, &raw, &roles)?;
        }
        let df = to_dataframe(&columns)?;

        let store = session.store();
        let rows = df.height() as i64;
        let mut dataset_ids =
            vec![store.record_dataset(run, name, &table_path.display().to_string(), &sha256, Some(rows))?];
        if manifest.is_some() {
            let manifest_path = path.join(MANIFEST_FILE);
            let sha = sha256_file(&manifest_path)?;
            dataset_ids.push(store.record_dataset(
                run,
                &format!("{}:manifest", name),
                &manifest_path.display().to_string(),
                &sha,
                None,
            )?);
        }
        store.log_metrics(run, None, &LoadMetrics { rows: rows as f64 })?;

        let summary = summarise(name, &table_path, &sha256, &df, &roles, manifest.as_ref());
        let manifest = manifest.or(cohort_manifest);
        let origin = FrameOrigin { path, table_path, sha256, dataset_ids, manifest };
        session.insert_frame(name, Frame { df, roles, origin: Some(origin) });
        Ok(vec![Output::Message(summary), Output::Note(format!("  recorded as run {run}"))])
    }
}

/// A feature frame's roles: its cohort's id and outcome columns, every
/// other column a continuous feature.
fn feature_roles(cohort: &Roles, headers: &[String]) -> Roles {
    let has = |c: &Option<String>| c.clone().filter(|c| headers.contains(c));
    let id = has(&cohort.id);
    let outcome = has(&cohort.outcome);
    let continuous =
        headers.iter().filter(|h| Some(*h) != id.as_ref() && Some(*h) != outcome.as_ref()).cloned().collect();
    Roles { id, outcome, categorical: Vec::new(), continuous }
}

fn split_list(tok: Option<&Token>) -> Option<Vec<String>> {
    tok.map(|t| t.text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
}

fn roles_from(args: &Args, manifest: Option<&Manifest>) -> Result<Roles> {
    let mut roles = manifest.map(Manifest::roles).unwrap_or_default();
    if let Some(t) = args.value("id") {
        roles.id = Some(t.text.clone());
    }
    if let Some(t) = args.value("outcome") {
        roles.outcome = Some(t.text.clone());
    }
    if let Some(c) = split_list(args.value("categorical")) {
        roles.categorical = c;
    }
    if let Some(c) = split_list(args.value("continuous")) {
        roles.continuous = c;
    }
    if roles.id.is_none() || roles.outcome.is_none() {
        return Err(Error::invalid(
            "a plain table needs its id and outcome columns",
            Some("add --id COL --outcome COL, e.g. `load A clinical.csv --id patient_id --outcome nn`"),
        ));
    }
    Ok(roles)
}

fn read_table(path: &Path) -> Result<RawTable> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("parquet") | Some("pq") => read_parquet_raw(path),
        Some("csv") | Some("txt") => read_csv(path),
        _ => Err(Error::invalid(
            format!("{}: unknown table format", path.display()),
            Some("use a .csv or .parquet file"),
        )),
    }
}

/// Every image the manifest declares must exist for every patient.
fn check_images(dir: &Path, manifest: &Manifest, raw: &RawTable, roles: &Roles) -> Result<()> {
    let Some(id_col) = roles.id.as_ref().and_then(|id| raw.headers.iter().position(|h| h == id)) else {
        return Ok(());
    };
    let mut missing = Vec::new();
    for row in &raw.rows {
        for role in manifest.images.keys() {
            if let Some(p) = manifest.image_path(dir, role, &row[id_col]) {
                let named = crate::imaging::series_path(&p).is_some() || crate::imaging::rtstruct_path(&p).is_some();
                if !p.exists() && !named {
                    missing.push((row[id_col].clone(), role.clone(), p));
                }
            }
        }
    }
    match missing.first() {
        None => Ok(()),
        Some((patient, role, path)) => Err(Error::invalid(
            format!(
                "{} image file(s) declared in {} are missing, first: {} (patient {patient}, {role})",
                missing.len(),
                dir.join(MANIFEST_FILE).display(),
                path.display()
            ),
            Some("fix the [images] paths, or add --no-images to load the clinical table alone"),
        )),
    }
}

/// What was loaded, including the table's content hash (so a replay notices
/// a changed input even when its shape did not change).
fn summarise(
    name: &str,
    table_path: &Path,
    sha256: &str,
    df: &crate::data::frame::FrameData,
    roles: &Roles,
    manifest: Option<&Manifest>,
) -> String {
    let mut s = format!(
        "loaded {name}: {} patients × {} columns from {} (sha256 {})",
        df.height(),
        df.width(),
        table_path.display(),
        crate::provenance::short_hash(sha256)
    );
    if let Some(outcome) = roles.outcome.as_deref()
        && let Some(col) = crate::data::frame::column(df, outcome)
        && let Some(values) = col.values.as_f64()
    {
        let events = values.iter().flatten().filter(|v| **v == 1.0).count();
        let pct = if df.height() > 0 { 100.0 * events as f64 / df.height() as f64 } else { 0.0 };
        s.push_str(&format!("\n  outcome `{outcome}`: {events} events ({pct:.1}%)"));
    }
    if let Some(m) = manifest {
        if !m.images.is_empty() {
            s.push_str(&format!("\n  images: {}", m.images.keys().cloned().collect::<Vec<_>>().join(", ")));
        }
        if m.cohort.simulated {
            s.push_str("\n  SIMULATED cohort (not real patients)");
        }
    }
    s
}
