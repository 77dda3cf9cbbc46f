//! `train --backend slurm`: a grid search's folds as work items that
//! `radose worker` processes claim from the run store, submitted to Slurm
//! as a job array with a collect job after it.
//!
//! The submitting process gathers the cohort's inputs once and freezes
//! them into one file on the shared filesystem (`inputs.bin`, its SHA-256
//! in every item), records the parent and configuration runs, and writes
//! one item per (configuration, fold) holding everything a worker needs:
//! the model declaration, the fold's training settings with its seed, the
//! training and validation patients, the inputs' path and hash, the
//! artifact folder. A worker trains the fold exactly as the local path does
//! (same inputs, same seed, same code), so its predictions are bit for bit
//! the local ones; its results are written under its claim. The collector
//! ends the run with [`crate::workflow::grid`], the local path's own code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::core::learn::cv::Fold;
use crate::core::learn::matrix::Matrix;
use crate::core::learn::metrics::auc;
use crate::error::{Error, Result};
use crate::ml::fit::{CohortInputs, fit};
use crate::ml::spec::ModelSpec;
use crate::ml::train::{Checkpointing, TrainConfig};
use crate::output::{Output, Table};
use crate::session::Session;
use crate::store::records::{Metrics, Params, TrainFoldParams, TrainParams, curve};
use crate::store::work::{Claim, ItemCounts, ItemRecord, ItemStatus};
use crate::store::{NewRun, ParamValue, RunId, RunKind, RunStatus, Store};
use crate::workflow::grid::{self, ConfigResult};

/// Where a `train` run's folds (or a `test` run's retraining) are trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Slurm,
    Queue,
}

impl Backend {
    pub fn of(args: &crate::signature::Args) -> Result<Backend> {
        let Some(t) = args.value("backend") else {
            for flag in ["max-parallel", "sbatch", "lease", "attempts", "wait"] {
                if args.has(flag) {
                    return Err(Error::invalid(format!("--{flag} is for --backend slurm or queue"), None));
                }
            }
            return Ok(Backend::Local);
        };
        match t.text.as_str() {
            "local" => Ok(Backend::Local),
            "slurm" => Ok(Backend::Slurm),
            "queue" => Ok(Backend::Queue),
            _ => Err(Error::InvalidValue {
                token: t.text.clone(),
                what: "--backend".into(),
                reason: "local, slurm or queue".into(),
                span: t.span,
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Slurm => "slurm",
            Backend::Queue => "queue",
        }
    }
}

/// The first bytes of an inputs file, with its format version.
const INPUTS_MAGIC: &[u8; 8] = b"RADOSEI1";

/// Writes `inputs` to `path` (through a temporary file, renamed) and
/// returns the file's SHA-256. Numbers are stored as their bits, so a
/// worker reads exactly what was gathered.
pub fn write_inputs(path: &Path, inputs: &CohortInputs) -> Result<String> {
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(INPUTS_MAGIC);
    let put_str = |b: &mut Vec<u8>, s: &str| {
        b.extend_from_slice(&(s.len() as u64).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    };
    b.extend_from_slice(&(inputs.ids.len() as u64).to_le_bytes());
    for id in &inputs.ids {
        put_str(&mut b, id);
    }
    b.extend_from_slice(&inputs.y);
    b.push(u8::from(inputs.simulated));
    b.extend_from_slice(&(inputs.frames.len() as u64).to_le_bytes());
    for (name, m, columns) in &inputs.frames {
        put_str(&mut b, name);
        b.extend_from_slice(&(m.rows as u64).to_le_bytes());
        b.extend_from_slice(&(m.cols as u64).to_le_bytes());
        for v in &m.data {
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        b.extend_from_slice(&(columns.len() as u64).to_le_bytes());
        for c in columns {
            put_str(&mut b, c);
        }
    }
    match &inputs.dose {
        None => b.push(0),
        Some(crops) => {
            b.push(1);
            b.extend_from_slice(&(crops.len() as u64).to_le_bytes());
            for crop in crops {
                b.extend_from_slice(&(crop.len() as u64).to_le_bytes());
                for v in crop {
                    b.extend_from_slice(&v.to_bits().to_le_bytes());
                }
            }
        }
    }
    b.extend_from_slice(&(inputs.dataset_ids.len() as u64).to_le_bytes());
    for d in &inputs.dataset_ids {
        b.extend_from_slice(&d.to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.to_path_buf(), message: e.to_string() })?;
    }
    crate::provenance::write_atomic(path, &b)?;
    Ok(crate::provenance::sha256_bytes(&b))
}

/// A reader over an inputs file's bytes that names the file on any flaw.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| Error::Io {
            path: self.path.to_path_buf(),
            message: format!("the inputs file ends early (at byte {})", self.at),
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// A count of items of at least `each` bytes, checked against what is left.
    fn count(&mut self, each: usize) -> Result<usize> {
        let n = self.u64()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(each.max(1) as u64) > left {
            return Err(Error::Io {
                path: self.path.to_path_buf(),
                message: format!("a count of {n} at byte {} is more than the file holds", self.at - 8),
            });
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String> {
        let n = self.count(1)?;
        let path = self.path.to_path_buf();
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| Error::Io { path, message: "a name in the inputs file is not UTF-8".into() })
    }
}

/// Reads an inputs file written by [`write_inputs`], refusing it unless
/// its SHA-256 is `sha256` (the file on the shared filesystem changed, or
/// this node sees another file at that path).
pub fn read_inputs(path: &Path, sha256: &str) -> Result<CohortInputs> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.to_path_buf(), message: e.to_string() })?;
    let found = crate::provenance::sha256_bytes(&bytes);
    if found != sha256 {
        return Err(Error::Io {
            path: path.to_path_buf(),
            message: format!(
                "its SHA-256 is {found}, the work item was written for {sha256}: every node must see the submitting \
                 node's file (a shared filesystem)"
            ),
        });
    }
    let mut c = Cursor { bytes: &bytes, at: 0, path };
    if c.take(8)? != INPUTS_MAGIC {
        return Err(Error::Io { path: path.to_path_buf(), message: "not a radose inputs file".into() });
    }
    let n = c.count(8)?;
    let ids = (0..n).map(|_| c.string()).collect::<Result<Vec<_>>>()?;
    let y = c.take(n)?.to_vec();
    let simulated = c.take(1)?[0] != 0;
    let frames_n = c.count(24)?;
    let mut frames = Vec::with_capacity(frames_n);
    for _ in 0..frames_n {
        let name = c.string()?;
        let (rows, cols) = (c.u64()? as usize, c.u64()? as usize);
        let len = rows.checked_mul(cols).filter(|l| l.saturating_mul(8) <= bytes.len()).ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            message: format!("frame {name}: {rows}×{cols} is more than the file holds"),
        })?;
        let data = c
            .take(len * 8)?
            .chunks_exact(8)
            .map(|w| f64::from_bits(u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))))
            .collect();
        let cn = c.count(8)?;
        let columns = (0..cn).map(|_| c.string()).collect::<Result<Vec<_>>>()?;
        frames.push((name, Matrix { rows, cols, data }, columns));
    }
    let dose = match c.take(1)?[0] {
        0 => None,
        _ => {
            let m = c.count(8)?;
            let mut crops = Vec::with_capacity(m);
            for _ in 0..m {
                let len = c.count(4)?;
                crops.push(
                    c.take(len * 4)?
                        .chunks_exact(4)
                        .map(|w| f32::from_bits(u32::from_le_bytes(w.try_into().unwrap_or([0; 4]))))
                        .collect(),
                );
            }
            Some(crops)
        }
    };
    let dn = c.count(8)?;
    let dataset_ids = (0..dn).map(|_| c.u64().map(|v| v as i64)).collect::<Result<Vec<_>>>()?;
    Ok(CohortInputs { ids, y, frames, dose, dataset_ids, simulated })
}

/// Everything a worker needs for one (configuration, fold), frozen when
/// the run was submitted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemSpec {
    pub format: u32,
    pub parent: RunId,
    pub config_run: RunId,
    pub config: usize,
    pub fold: usize,
    /// The statement that started the run (the fold run's command).
    pub command: String,
    /// The model declaration (`ModelSpec` as JSON).
    pub model_json: String,
    /// The configuration's settings with the run's seed (`TrainConfig` as JSON).
    pub config_json: String,
    /// The fold's seed (initial weights, batches, SMOTE).
    pub seed: u64,
    pub train_ids: Vec<String>,
    pub test_ids: Vec<String>,
    pub inputs: String,
    pub inputs_sha256: String,
    /// Where the fold's model files go (`BASE/run-ID/model`).
    pub artifacts: String,
    pub device: String,
}

/// The format of the item specifications this radose writes and reads.
pub const SPEC_FORMAT: u32 = 1;

impl ItemSpec {
    pub fn parse(text: &str, item: i64) -> Result<ItemSpec> {
        let spec: ItemSpec = serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("work item {item}: its specification does not read: {e}"), None))?;
        if spec.format != SPEC_FORMAT {
            return Err(Error::invalid(
                format!("work item {item} was written by another radose (format {})", spec.format),
                Some("run the workers with the radose that submitted the run"),
            ));
        }
        Ok(spec)
    }

    pub fn train_config(&self) -> Result<TrainConfig> {
        exact_train_config(&self.config_json, self.parent)
    }

    pub fn model(&self) -> Result<ModelSpec> {
        model_of(&self.model_json, self.parent)
    }

    /// The fold as row positions in `ids`.
    pub fn fold_rows(&self, ids: &[String]) -> Result<Fold> {
        let at: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let rows = |list: &[String]| {
            list.iter()
                .map(|id| {
                    at.get(id.as_str()).copied().ok_or_else(|| {
                        Error::invalid(
                            format!("work item for run {}: patient {id} is not in its inputs", self.parent),
                            None,
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()
        };
        Ok(Fold { train: rows(&self.train_ids)?, test: rows(&self.test_ids)? })
    }
}

/// Training settings written into a work item for run `run`, checked to be
/// exactly the ones submitted: JSON holds a float as its shortest text,
/// which reads back to the same bits only when the parser rounds
/// correctly; writing it again must give the same text.
fn exact_train_config(json: &str, run: RunId) -> Result<TrainConfig> {
    let bad = |why: String| Error::invalid(format!("work item for run {run}: {why}"), None);
    let cfg: TrainConfig = serde_json::from_str(json).map_err(|e| bad(format!("its training settings: {e}")))?;
    if serde_json::to_string(&cfg).ok().as_deref() != Some(json) {
        return Err(bad("its training settings do not read back exactly".into()));
    }
    Ok(cfg)
}

/// The model declaration written into a work item for run `run`.
fn model_of(json: &str, run: RunId) -> Result<ModelSpec> {
    serde_json::from_str(json).map_err(|e| Error::invalid(format!("work item for run {run}: its model: {e}"), None))
}

/// The store as a worker opens it (see `Store::location_for_workers`).
pub fn workers_db(session: &Session) -> Result<String> {
    session.store().location_for_workers().ok_or_else(|| {
        Error::invalid(
            "a private in-memory store cannot be shared with workers",
            Some("give --db runs.db (one machine) or --db postgres://… (a cluster)"),
        )
    })
}

/// How one claimed item ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemEnd {
    Done {
        run: RunId,
        auc: f64,
    },
    /// The lease ran out and another worker took the item: nothing written.
    LostLease {
        run: RunId,
    },
    /// Cancelled (Ctrl-C, SIGTERM): the item is pending again.
    Cancelled,
    /// Training failed: the item is retried while attempts remain.
    Failed {
        error: String,
        status: Option<ItemStatus>,
    },
}

/// The inputs files a worker has read, by hash (a worker often takes
/// several items of one run).
#[derive(Default)]
pub struct InputsCache {
    files: HashMap<String, CohortInputs>,
}

impl InputsCache {
    /// Reads the file unless it is held already.
    fn load(&mut self, path: &str, sha256: &str) -> Result<()> {
        if !self.files.contains_key(sha256) {
            let inputs = read_inputs(Path::new(path), sha256)?;
            self.files.insert(sha256.to_string(), inputs);
        }
        Ok(())
    }

    /// A file [`InputsCache::load`] read.
    fn held(&self, sha256: &str) -> Result<&CohortInputs> {
        self.files.get(sha256).ok_or_else(|| Error::invalid(format!("inputs {sha256} were not read"), None))
    }

    fn get(&mut self, path: &str, sha256: &str) -> Result<&CohortInputs> {
        self.load(path, sha256)?;
        self.held(sha256)
    }
}

/// What the scheduler says about the task running this worker, recorded
/// on its fold run.
fn scheduler_params(host: &str) -> Vec<(String, ParamValue)> {
    let mut p = vec![("worker_host".to_string(), ParamValue::Text(host.to_string()))];
    for (var, key) in [
        ("SLURM_JOB_ID", "slurm_job_id"),
        ("SLURM_ARRAY_JOB_ID", "slurm_array_job_id"),
        ("SLURM_ARRAY_TASK_ID", "slurm_array_task_id"),
    ] {
        if let Ok(v) = std::env::var(var) {
            p.push((key.to_string(), ParamValue::Text(v)));
        }
    }
    p
}

/// A test-only hook: with `RADOSE_TEST_KILL_ONCE=FILE`, the first worker to
/// finish an epoch (the one that creates FILE) kills itself with SIGKILL,
/// as a node lost mid-fold would die.
fn kill_hook() {
    let Ok(marker) = std::env::var("RADOSE_TEST_KILL_ONCE") else { return };
    if std::fs::OpenOptions::new().write(true).create_new(true).open(&marker).is_ok() {
        let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Trains one claimed item's fold and records it: the fold run (a child of
/// its configuration run, with the scheduler's job and task), its curves
/// as they come, and at the end — under the claim — its held-out
/// predictions and metrics. The lease is renewed after every epoch.
pub fn run_item(session: &mut Session, claim: &Claim, cache: &mut InputsCache) -> Result<ItemEnd> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        kind: Option<String>,
    }
    let probe: Probe = serde_json::from_str(&claim.spec)
        .map_err(|e| Error::invalid(format!("work item {}: its specification does not read: {e}", claim.item), None))?;
    if probe.kind.as_deref() == Some(RETRAIN) {
        return run_retrain(session, claim, cache);
    }
    let spec = ItemSpec::parse(&claim.spec, claim.item)?;
    let model = spec.model()?;
    let cfg = spec.train_config()?.with_seed(spec.seed);
    let device = crate::ml::device::DeviceChoice::parse(&spec.device)?.device()?;
    let inputs = cache.get(&spec.inputs, &spec.inputs_sha256)?;
    let fold = spec.fold_rows(&inputs.ids)?;
    let f = spec.fold;
    let mut fold_params = TrainFoldParams {
        config: spec.config,
        fold: f,
        train: fold.train.len(),
        test: fold.test.len(),
        reused_from: None,
        selected: None,
        synthetic: None,
        resumed_at_epoch: None,
    };
    let mut params = fold_params.to_params();
    params.extend(scheduler_params(&session.store().provenance().host));
    params.push(("work_item".into(), ParamValue::Int(claim.item)));
    params.push(("attempt".into(), ParamValue::Int(claim.attempt)));
    let new = NewRun::new(RunKind::TrainFold, spec.command.clone(), params)
        .with_seed(Some(cfg.seed))
        .child_of(spec.config_run);
    let store = session.store_mut();
    let fold_run = store.begin_run(&new)?;
    if !store.set_work_item_run(claim, fold_run)? {
        store.finish_run(fold_run, RunStatus::Cancelled, Some("the work item was taken by another worker"))?;
        return Ok(ItemEnd::LostLease { run: fold_run });
    }
    let cancel = session.cancel_flag();
    let lost = std::cell::Cell::new(false);
    let store = session.store();
    let trained = fit(
        &model,
        inputs,
        &fold.train,
        Some(&fold.test),
        &cfg,
        &device,
        &|| cancel.is_cancelled() || lost.get(),
        &mut |log| {
            crate::workflow::grid::log_fold_epoch(store, fold_run, f, log)?;
            if !store.renew_lease(claim)? {
                lost.set(true);
            }
            kill_hook();
            Ok(())
        },
        &mut Checkpointing { resume: None, dir: None, every: Duration::ZERO, written: None },
    );
    let store = session.store_mut();
    let (fitted, probs) = match trained {
        _ if lost.get() => {
            store.finish_run(
                fold_run,
                RunStatus::Cancelled,
                Some("its lease ran out and another worker took the item"),
            )?;
            return Ok(ItemEnd::LostLease { run: fold_run });
        }
        Err(Error::Cancelled) => {
            store.release_work_item(claim)?;
            store.finish_run(fold_run, RunStatus::Cancelled, None)?;
            return Ok(ItemEnd::Cancelled);
        }
        Err(e) => {
            let error = e.to_string();
            let status = store.fail_work_item(claim, &error)?;
            store.finish_run(fold_run, RunStatus::Failed, Some(&error))?;
            return Ok(ItemEnd::Failed { error, status });
        }
        Ok(t) => t,
    };
    let probs = probs.unwrap_or_default();
    fold_params.selected = serde_json::to_string(&fitted.features.selected).ok();
    fold_params.synthetic = Some(fitted.synthetic);
    store.log_params(fold_run, &fold_params)?;
    let base = PathBuf::from(&spec.artifacts);
    let dir = crate::workflow::deep::save_artifacts(store, &base, fold_run, &fitted, "model")?;
    let rows = grid::held_out(f, &fold.test, &probs, &inputs.ids, &inputs.y);
    let truth: Vec<u8> = fold.test.iter().map(|&i| inputs.y[i]).collect();
    let metrics = crate::workflow::grid::fold_metrics(&probs, &truth);
    let metric_rows: Vec<_> =
        metrics.to_metrics().into_iter().map(|(k, v)| (k.to_string(), v, None, Some(f as i64))).collect();
    if !store.complete_work_item(claim, fold_run, &rows, &metric_rows)? {
        store.forget_artifacts_under(fold_run, "")?;
        let _ = std::fs::remove_dir_all(&dir);
        store.finish_run(fold_run, RunStatus::Cancelled, Some("its lease ran out and another worker took the item"))?;
        return Ok(ItemEnd::LostLease { run: fold_run });
    }
    store.finish_run(fold_run, RunStatus::Finished, None)?;
    Ok(ItemEnd::Done { run: fold_run, auc: metrics.auc })
}

/// Claims and runs items (of `parent`, or of any run) until none is left
/// to claim or the worker is cancelled. Returns one line per item.
pub fn work(session: &mut Session, parent: Option<RunId>, worker: &str) -> Result<Vec<(Claim, ItemEnd)>> {
    let mut cache = InputsCache::default();
    let mut done = Vec::new();
    while !session.cancel_flag().is_cancelled() {
        let Some(claim) = session.store_mut().claim_work_item(parent, worker)? else { break };
        let end = match run_item(session, &claim, &mut cache) {
            Ok(end) => end,
            // A flaw in the item itself (a missing inputs file, another
            // format): the attempt fails and is counted.
            Err(e) => {
                let error = e.to_string();
                let status = session.store().fail_work_item(&claim, &error)?;
                ItemEnd::Failed { error, status }
            }
        };
        let cancelled = end == ItemEnd::Cancelled;
        done.push((claim, end));
        if cancelled {
            return Err(Error::Cancelled);
        }
    }
    Ok(done)
}

/// A worker's report: one row per item it took.
pub fn work_table(done: &[(Claim, ItemEnd)]) -> Table {
    let mut t = Table::new(["item", "run", "position", "attempt", "ended", "fold run", "fold auc"]);
    for (c, end) in done {
        let (ended, run, fold_auc) = match end {
            ItemEnd::Done { run, auc } => ("done".to_string(), Some(*run), Some(*auc)),
            ItemEnd::LostLease { run } => ("lease lost, nothing written".to_string(), Some(*run), None),
            ItemEnd::Cancelled => ("cancelled, given back".to_string(), None, None),
            ItemEnd::Failed { error, status } => {
                (format!("failed ({}): {error}", status.map_or("no longer held", ItemStatus::as_str)), None, None)
            }
        };
        t.push(vec![
            c.item.into(),
            c.parent.into(),
            (c.position + 1).into(),
            c.attempt.into(),
            ended.into(),
            run.map_or_else(|| "".into(), Into::into),
            fold_auc.map_or_else(|| "".into(), Into::into),
        ]);
    }
    t
}

/// The collector: works on `parent`'s items itself while any is claimable,
/// waits for the ones other workers hold (taking those whose lease runs
/// out), then ends the run as the local path does. A run with a failed
/// item ends `failed`, naming it.
pub fn collect(session: &mut Session, parent: RunId, worker: &str, poll: Duration) -> Result<Output> {
    let detail = session.store().run_detail(parent)?;
    if detail.summary.kind == RunKind::Test {
        return collect_test(session, parent, worker, poll);
    }
    if detail.summary.kind != RunKind::Train {
        return Err(Error::invalid(
            format!("run {parent} is a {} run, not a `train` or `test` run", detail.summary.kind),
            None,
        ));
    }
    if detail.summary.status != RunStatus::Running {
        return Err(Error::invalid(
            format!("run {parent} is already {}; nothing to collect", detail.summary.status),
            Some("`runs --resume ID` submits what a failed run is missing"),
        ));
    }
    let mut done = work(session, Some(parent), worker)?;
    loop {
        let counts = session.store().work_counts(parent)?;
        if counts.settled() {
            break;
        }
        if session.cancel_flag().is_cancelled() {
            return Err(Error::Cancelled);
        }
        std::thread::sleep(poll);
        done.extend(work(session, Some(parent), worker)?);
    }
    let items = session.store().work_items(parent)?;
    let mut out = Vec::new();
    if !done.is_empty() {
        let mut t = work_table(&done);
        t.title = Some(format!("the collector trained {} of the items itself", done.len()));
        out.push(Output::Table(t));
    }
    let failed: Vec<&ItemRecord> = items.iter().filter(|i| i.status == ItemStatus::Failed).collect();
    if !failed.is_empty() {
        let mut names = Vec::new();
        for i in &failed {
            let spec = ItemSpec::parse(&i.spec, i.id)?;
            names.push(format!(
                "work item {} (configuration {}, fold {}) failed after {} attempts: {}",
                i.id,
                spec.config + 1,
                spec.fold + 1,
                i.attempts,
                i.error.as_deref().unwrap_or("no reason recorded")
            ));
        }
        let error = names.join("; ");
        let store = session.store();
        for i in &failed {
            if let Ok(spec) = ItemSpec::parse(&i.spec, i.id) {
                store.finish_run(spec.config_run, RunStatus::Failed, Some(&error))?;
            }
        }
        store.finish_run(parent, RunStatus::Failed, Some(&error))?;
        return Err(Error::invalid(
            format!("run {parent} failed: {error}"),
            Some(&format!("fix the cause, then `runs --resume {parent}` submits only the missing items")),
        ));
    }
    let tables = conclude(session.store_mut(), parent, &items)?;
    out.extend(tables.into_iter().map(Output::Table));
    Ok(Output::Many(out))
}

/// Ends a run whose items are all done: each configuration's estimate from
/// its folds' recorded predictions, the best configuration, the run's
/// records ([`grid`], the local path's code) and its tables.
fn conclude(store: &mut Store, parent: RunId, items: &[ItemRecord]) -> Result<Vec<Table>> {
    let specs = items.iter().map(|i| ItemSpec::parse(&i.spec, i.id)).collect::<Result<Vec<_>>>()?;
    let first = specs.first().ok_or_else(|| Error::invalid(format!("run {parent} has no work items"), None))?;
    let inputs = read_inputs(Path::new(&first.inputs), &first.inputs_sha256)?;
    let n_configs = specs.iter().map(|s| s.config + 1).max().unwrap_or(0);
    let mut configs = Vec::with_capacity(n_configs);
    for c in 0..n_configs {
        let s = specs
            .iter()
            .find(|s| s.config == c)
            .ok_or_else(|| Error::invalid(format!("configuration {c} has no items"), None))?;
        configs.push(s.train_config()?);
    }
    let mut grid_results: Vec<ConfigResult> = Vec::new();
    for (c, _) in configs.iter().enumerate() {
        let mut members: Vec<(&ItemSpec, &ItemRecord)> =
            specs.iter().zip(items).filter(|(s, _)| s.config == c).collect();
        members.sort_by_key(|(s, _)| s.fold);
        let mut rows = Vec::with_capacity(members.len());
        let mut found = Vec::with_capacity(members.len());
        for (s, i) in &members {
            let run =
                i.run.ok_or_else(|| Error::invalid(format!("work item {} is done but names no run", i.id), None))?;
            let fold = s.fold_rows(&inputs.ids)?;
            let probs = grid::recorded_probabilities(store, run, &fold.test, &inputs.ids)?
                .ok_or_else(|| Error::invalid(format!("fold run {run} lacks a held-out prediction"), None))?;
            let selected = grid::selected_count(&TrainFoldParams::from_params(run, &store.params(run)?)?);
            rows.push(fold);
            found.push((s.fold, probs, selected));
        }
        let config_run = members.first().map(|(s, _)| s.config_run).unwrap_or_default();
        let outcomes: Vec<(usize, usize, &Fold, Vec<f64>, usize)> =
            rows.iter().zip(found).map(|(fold, (f, probs, selected))| (c, f, fold, probs, selected)).collect();
        grid_results.push(grid::finish_config(store, config_run, c, &inputs.y, &inputs.ids, &outcomes, 0)?);
    }
    let best = grid::best_of(&grid_results)?;
    let detail = store.run_detail(parent)?;
    let mut params = TrainParams::from_params(parent, &detail.params)?;
    let folds_table = grid::record_best(store, &configs, &inputs.y, parent, &mut params, best, None)?;
    let mut summary = grid::summary_table(&configs, &grid_results);
    summary.title = Some(format!(
        "train {} ({}) on {} — {} folds × {} configurations through work items, run {parent}",
        params.model,
        params.preset,
        params.cohort,
        params.folds,
        configs.len()
    ));
    summary.notes.push(format!(
        "best by mean fold AUC: configuration {} ({})",
        best.index + 1,
        grid::config_text(&configs[best.index])
    ));
    store.finish_run(parent, RunStatus::Finished, None)?;
    Ok(vec![summary, folds_table])
}

/// How a run's items stand, for `run show` and `train --wait`.
pub fn progress_line(counts: &ItemCounts) -> String {
    format!(
        "work items: {} pending, {} running, {} done, {} failed (of {})",
        counts.pending,
        counts.claimed,
        counts.done,
        counts.failed,
        counts.total()
    )
}

/// `sbatch` options for the job array and the collect job.
pub struct Submission<'a> {
    pub parent: RunId,
    pub items: usize,
    pub max_parallel: Option<usize>,
    /// Options passed through to both jobs (partition, GPUs, time, account).
    pub extra: &'a [String],
    /// `--db` as the workers open it (a server URL or the SQLite file's
    /// absolute path); handed to the jobs in their environment, never
    /// written to a file.
    pub db: &'a str,
    /// Where the jobs' scripts and logs go (shared).
    pub dir: &'a Path,
}

/// The Slurm job ids of a submitted run.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub array: String,
    pub collect: String,
}

/// `text` as one word of a POSIX shell line: single-quoted, each `'`
/// written as `'\''`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Submits the job array of `radose worker` tasks and the collect job that
/// runs after it (`afterany`: it also ends a run whose tasks were killed).
pub fn submit_slurm(s: &Submission<'_>) -> Result<Submitted> {
    let exe = std::env::var("RADOSE_BIN").map(PathBuf::from).or_else(|_| std::env::current_exe()).map_err(|e| {
        Error::invalid(format!("cannot name this radose binary for the workers: {e}"), Some("set RADOSE_BIN"))
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| Error::Io { path: path.clone(), message: e.to_string() }
    };
    std::fs::create_dir_all(s.dir).map_err(io(s.dir))?;
    let script = |name: &str, args: &str| -> Result<PathBuf> {
        let path = s.dir.join(name);
        let text = format!(
            "#!/bin/sh\n# radose run {}: written by train --backend slurm; the database is in $RADOSE_DB.\n\
             exec {} --db \"$RADOSE_DB\" worker {args}\n",
            s.parent,
            sh_quote(&exe.to_string_lossy())
        );
        crate::provenance::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    };
    let worker = script("worker.sh", &format!("--parent {}", s.parent))?;
    let collector = script("collect.sh", &format!("--collect {}", s.parent))?;
    let cwd = std::env::current_dir().map_err(io(Path::new(".")))?;
    let array = match s.max_parallel {
        Some(k) => format!("--array=0-{}%{k}", s.items.saturating_sub(1)),
        None => format!("--array=0-{}", s.items.saturating_sub(1)),
    };
    let sbatch = |args: Vec<String>| -> Result<String> {
        let out = std::process::Command::new("sbatch").args(&args).env("RADOSE_DB", s.db).output().map_err(|e| {
            Error::invalid(format!("cannot run sbatch: {e}"), Some("run on a Slurm login node, or --backend local"))
        })?;
        if !out.status.success() {
            return Err(Error::invalid(
                format!("sbatch {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
                None,
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let id = text.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(format!("sbatch answered `{}`, not a job id", text.trim()), None));
        }
        Ok(id)
    };
    let mut args = vec![
        "--parsable".to_string(),
        array,
        format!("--job-name=radose-{}", s.parent),
        format!("--output={}", s.dir.join("worker-%A_%a.log").display()),
        format!("--chdir={}", cwd.display()),
        "--export=ALL".to_string(),
    ];
    args.extend(s.extra.iter().cloned());
    args.push(worker.display().to_string());
    let array_id = sbatch(args)?;
    let mut args = vec![
        "--parsable".to_string(),
        format!("--dependency=afterany:{array_id}"),
        format!("--job-name=radose-{}-collect", s.parent),
        format!("--output={}", s.dir.join("collect-%j.log").display()),
        format!("--chdir={}", cwd.display()),
        "--export=ALL".to_string(),
    ];
    args.extend(s.extra.iter().cloned());
    args.push(collector.display().to_string());
    let collect_id = sbatch(args)?;
    Ok(Submitted { array: array_id, collect: collect_id })
}

/// Blocks until `parent` is closed (its collector ended it), reporting the
/// items' progress; returns its final status. When the run's Slurm collect
/// job has left the queue and the run is still open (the job was killed or
/// cancelled before it could close it), waiting stops with what to do.
pub fn wait_for(session: &Session, parent: RunId, poll: Duration) -> Result<RunStatus> {
    let total = session.store().work_counts(parent)?.total() as u64;
    let bar = session.progress(total, "items", format!("run {parent} on the cluster"));
    let started = Instant::now();
    let mut shown = 0;
    let mut gone_since: Option<Instant> = None;
    loop {
        let counts = session.store().work_counts(parent)?;
        let settled = (counts.done + counts.failed) as u64;
        bar.inc(settled.saturating_sub(shown));
        shown = shown.max(settled);
        bar.set_message(format!("run {parent}: {} ({} s)", progress_line(&counts), started.elapsed().as_secs()));
        let detail = session.store().run_detail(parent)?;
        if detail.summary.status != RunStatus::Running {
            return Ok(detail.summary.status);
        }
        if session.cancel_flag().is_cancelled() {
            return Err(Error::Cancelled);
        }
        let collect = detail.params.iter().find(|(k, _)| k == "slurm_collect_job").map(|(_, v)| v.display());
        match collect {
            Some(job) if !slurm_job_queued(&job) => {
                // The run may be closing this very moment: look again a few
                // seconds later before giving up.
                let since = *gone_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(10) {
                    return Err(Error::invalid(
                        format!("run {parent}: its collect job {job} has ended but the run is still open"),
                        Some(&format!(
                            "the job was cancelled or killed; `radose worker --collect {parent}` finishes the run \
                             (its log is in the run's slurm/ folder)"
                        )),
                    ));
                }
            }
            _ => gone_since = None,
        }
        std::thread::sleep(poll);
    }
}

/// Whether Slurm still holds job `id` pending, running or completing
/// (`true` when squeue cannot be asked: never give up on a guess).
fn slurm_job_queued(id: &str) -> bool {
    match std::process::Command::new("squeue").args(["-h", "-o", "%i", "-t", "PD,R,CG,CF,S", "-j", id]).output() {
        Ok(out) if out.status.success() => !String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        // squeue refuses a job id it no longer knows.
        Ok(out) => !String::from_utf8_lossy(&out.stderr).contains("Invalid job id"),
        Err(_) => true,
    }
}

/// A collected run's grid as recorded: one row per configuration run.
pub fn recorded_grid(store: &Store, parent: RunId) -> Result<Table> {
    let mut t = Table::new(["config", "lr", "batch", "epochs", "weight decay", "auc mean", "auc sd", "auc pooled"]);
    for child in store.children_of(parent)? {
        if child.kind != RunKind::TrainConfig {
            continue;
        }
        let d = store.run_detail(child.id)?;
        let p = crate::store::records::TrainConfigParams::from_params(child.id, &d.params)?;
        let metric =
            |key: &str| d.metrics.iter().rev().find(|m| m.key == key && m.step.is_none()).map_or(f64::NAN, |m| m.value);
        t.push(vec![
            (p.config + 1).into(),
            p.lr.into(),
            p.batch.into(),
            p.epochs.into(),
            p.weight_decay.into(),
            metric("auc_mean").into(),
            metric("auc_sd").into(),
            metric("auc_pooled").into(),
        ]);
    }
    t.title = Some(format!("run {parent}: the grid as collected"));
    Ok(t)
}

/// `runs --resume ID` of a run trained through work items: its failed
/// items get their attempts back, the run and its unfinished
/// configuration runs are opened again, and (slurm) a job array sized to
/// what is missing is submitted with a new collect job. Items already done
/// are not trained again.
pub fn resubmit(session: &mut Session, parent: RunId) -> Result<Output> {
    let store = session.store();
    let detail = store.run_detail(parent)?;
    let retried = store.retry_failed_work_items(parent)?;
    store.reopen_run(parent)?;
    for child in store.children_of(parent)? {
        if child.kind == RunKind::TrainConfig && child.status.is_unfinished() {
            store.reopen_run(child.id)?;
        }
    }
    let counts = store.work_counts(parent)?;
    let missing = (counts.pending + counts.claimed) as usize;
    let param = |key: &str| detail.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.display());
    let mut lines = vec![format!(
        "resuming run {parent}: {retried} failed items given their attempts back; {}",
        progress_line(&counts)
    )];
    match param("backend").as_deref() {
        Some("slurm") => {
            let db = store
                .location_for_workers()
                .ok_or_else(|| Error::invalid("an in-memory store has no workers", None))?;
            let extra: Vec<String> =
                param("sbatch").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
            let max_parallel = param("max_parallel").and_then(|v| v.parse().ok());
            let inputs = detail
                .artifacts
                .iter()
                .find(|(p, _)| p.ends_with("inputs.bin"))
                .map(|(p, _)| PathBuf::from(p))
                .ok_or_else(|| Error::invalid(format!("run {parent} recorded no inputs file"), None))?;
            let dir = inputs.parent().unwrap_or(Path::new(".")).join("slurm");
            let submitted = submit_slurm(&Submission {
                parent,
                items: missing.max(1),
                max_parallel,
                extra: &extra,
                db: &db,
                dir: &dir,
            })?;
            store.log_param(parent, "slurm_array_job", &ParamValue::Text(submitted.array.clone()))?;
            store.log_param(parent, "slurm_collect_job", &ParamValue::Text(submitted.collect.clone()))?;
            lines.push(format!(
                "submitted: job array {} ({} tasks), collect job {} after it",
                submitted.array,
                missing.max(1),
                submitted.collect
            ));
        }
        _ => lines.push(format!(
            "start workers (`radose worker --parent {parent}`) and the collector (`radose worker --collect {parent}`)"
        )),
    }
    session.keep_open(&[parent]);
    Ok(Output::Message(lines.join("\n")))
}

/// A run's work items as a table (`run show`), with the progress line.
pub fn items_table(store: &Store, parent: RunId) -> Result<Option<Table>> {
    let items = store.work_items(parent)?;
    if items.is_empty() {
        return Ok(None);
    }
    let mut t =
        Table::new(["item", "config", "fold", "status", "attempts", "worker", "fold run", "lease left s", "error"]);
    for i in &items {
        let spec = ItemSpec::parse(&i.spec, i.id).ok();
        t.push(vec![
            i.id.into(),
            spec.as_ref().map_or_else(|| "".into(), |s| (s.config + 1).into()),
            spec.as_ref().map_or_else(|| "".into(), |s| (s.fold + 1).into()),
            i.status.as_str().into(),
            format!("{}/{}", i.attempts, i.max_attempts).into(),
            i.worker.clone().unwrap_or_default().into(),
            i.run.map_or_else(|| "".into(), Into::into),
            i.lease_left.map_or_else(|| "".into(), |l| format!("{l:.0}").into()),
            i.error.clone().unwrap_or_default().into(),
        ]);
    }
    t.title = Some("work items".into());
    t.notes.push(progress_line(&store.work_counts(parent)?));
    Ok(Some(t))
}

/// The kind of a retrain item (`test … --backend slurm`).
const RETRAIN: &str = "retrain";

/// A `test` run's retraining on the whole training cohort and its
/// evaluation on the test cohort, as one work item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrainSpec {
    pub format: u32,
    /// Always `retrain`.
    pub kind: String,
    /// The `test` run, which the worker writes and closes.
    pub run: RunId,
    pub model_json: String,
    /// The final training settings with their seed.
    pub config_json: String,
    pub train_inputs: String,
    pub train_sha256: String,
    pub test_inputs: String,
    pub test_sha256: String,
    /// A fixed threshold, or `None`: Youden's J on the training patients.
    pub threshold: Option<f64>,
    pub artifacts: String,
    pub device: String,
    /// The result table's title and note, as the local path writes them.
    pub title: String,
    pub note: String,
}

/// Trains a retrain item: the model on every training patient (its loss
/// curve on the test run, the lease renewed each epoch), the threshold, the
/// test cohort's probabilities written under the claim, then the test
/// metrics as `test` records them, and the run closed.
fn run_retrain(session: &mut Session, claim: &Claim, cache: &mut InputsCache) -> Result<ItemEnd> {
    use crate::core::learn::metrics::youden_threshold;
    let spec: RetrainSpec = serde_json::from_str(&claim.spec)
        .map_err(|e| Error::invalid(format!("work item {}: its specification does not read: {e}", claim.item), None))?;
    let model = model_of(&spec.model_json, spec.run)?;
    let cfg = exact_train_config(&spec.config_json, spec.run)?;
    let device = crate::ml::device::DeviceChoice::parse(&spec.device)?.device()?;
    let run = spec.run;
    cache.load(&spec.train_inputs, &spec.train_sha256)?;
    cache.load(&spec.test_inputs, &spec.test_sha256)?;
    let (train, test) = (cache.held(&spec.train_sha256)?, cache.held(&spec.test_sha256)?);
    let store = session.store();
    store.log_param(run, "work_item", &ParamValue::Int(claim.item))?;
    for (key, value) in scheduler_params(&store.provenance().host) {
        store.log_param(run, &key, &value)?;
    }
    if !store.set_work_item_run(claim, run)? {
        return Ok(ItemEnd::LostLease { run });
    }
    let cancel = session.cancel_flag();
    let lost = std::cell::Cell::new(false);
    let all: Vec<usize> = (0..train.ids.len()).collect();
    let trained = fit(
        &model,
        train,
        &all,
        None,
        &cfg,
        &device,
        &|| cancel.is_cancelled() || lost.get(),
        &mut |log| {
            store.log_metric(run, curve::TRAIN_LOSS, log.train_loss, Some(log.epoch as i64), None)?;
            if !store.renew_lease(claim)? {
                lost.set(true);
            }
            kill_hook();
            Ok(())
        },
        &mut Checkpointing { resume: None, dir: None, every: Duration::ZERO, written: None },
    );
    let fitted = match trained {
        _ if lost.get() => return Ok(ItemEnd::LostLease { run }),
        Err(Error::Cancelled) => {
            store.release_work_item(claim)?;
            return Ok(ItemEnd::Cancelled);
        }
        Err(e) => {
            let error = e.to_string();
            let status = store.fail_work_item(claim, &error)?;
            if status == Some(ItemStatus::Failed) {
                store.finish_run(run, RunStatus::Failed, Some(&error))?;
            }
            return Ok(ItemEnd::Failed { error, status });
        }
        Ok((fitted, _)) => fitted,
    };
    let inference = crate::ml::device::without_autodiff(&device);
    let threshold = match spec.threshold {
        Some(t) => t,
        None => {
            let p = fitted.predict(train, &inference)?;
            youden_threshold(&p, &train.y)
                .ok_or_else(|| Error::invalid("the training cohort has one class only", None))?
        }
    };
    let p = fitted.predict(test, &inference)?;
    let rows = crate::store::Prediction::all(None, &test.ids, &test.y, &p);
    let store = session.store_mut();
    let weights = crate::workflow::deep::save_artifacts(store, Path::new(&spec.artifacts), run, &fitted, "model")?;
    if !store.complete_work_item(claim, run, &rows, &[])? {
        store.forget_artifacts_under(run, &weights.to_string_lossy())?;
        return Ok(ItemEnd::LostLease { run });
    }
    let note = format!("{}; weights in {}", spec.note, weights.display());
    crate::workflow::lookup::record_test_metrics(session, run, &p, &test.y, threshold, spec.title.clone(), note)?;
    session.store().finish_run(run, RunStatus::Finished, None)?;
    Ok(ItemEnd::Done { run, auc: auc(&p, &test.y) })
}

/// The collect job of `test … --backend slurm`: takes over the retrain item
/// if its worker died, waits for it, and fails the run when the item failed.
fn collect_test(session: &mut Session, run: RunId, worker: &str, poll: Duration) -> Result<Output> {
    let mut done = work(session, Some(run), worker)?;
    while !session.store().work_counts(run)?.settled() {
        if session.cancel_flag().is_cancelled() {
            return Err(Error::Cancelled);
        }
        std::thread::sleep(poll);
        done.extend(work(session, Some(run), worker)?);
    }
    let items = session.store().work_items(run)?;
    if let Some(i) = items.iter().find(|i| i.status == ItemStatus::Failed) {
        let error = format!(
            "work item {} (the retraining) failed after {} attempts: {}",
            i.id,
            i.attempts,
            i.error.as_deref().unwrap_or("no reason recorded")
        );
        session.store().finish_run(run, RunStatus::Failed, Some(&error))?;
        return Err(Error::invalid(format!("run {run} failed: {error}"), None));
    }
    let status = session.store().run_detail(run)?.summary.status;
    let mut out = vec![Output::Message(format!("run {run} {status}"))];
    if !done.is_empty() {
        out.push(Output::Table(work_table(&done)));
    }
    Ok(Output::Many(out))
}

/// What `test … --backend slurm|queue` hands to [`submit_retrain`].
pub struct Retrain<'a> {
    pub run: RunId,
    pub model_json: String,
    pub config_json: String,
    pub train: &'a CohortInputs,
    pub test: &'a CohortInputs,
    pub threshold: Option<f64>,
    pub device: String,
    pub title: String,
    pub note: String,
}

/// The `--lease`, `--attempts`, `--max-parallel` and `--sbatch` of a
/// command that hands its work to workers, checked.
pub struct WorkOptions {
    pub lease: i64,
    pub attempts: i64,
    pub max_parallel: Option<usize>,
    pub extra: Vec<String>,
}

impl WorkOptions {
    pub fn of(args: &crate::signature::Args) -> Result<WorkOptions> {
        let lease: i64 = args.parsed("lease", "seconds")?.unwrap_or(300);
        let attempts: i64 = args.parsed("attempts", "a number of attempts")?.unwrap_or(3);
        if lease < 5 || attempts < 1 {
            return Err(Error::invalid("--lease is at least 5 seconds and --attempts at least 1", None));
        }
        let max_parallel: Option<usize> = args.parsed("max-parallel", "a number of tasks")?;
        if max_parallel == Some(0) {
            return Err(Error::invalid("--max-parallel is at least 1", None));
        }
        let extra =
            args.value("sbatch").map(|t| t.text.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
        Ok(WorkOptions { lease, attempts, max_parallel, extra })
    }
}

/// `test … --backend slurm|queue`: both cohorts' inputs frozen beside the
/// run, one retrain item, and (slurm) one job with a collect job after it.
/// The test run stays open; the worker closes it.
pub fn submit_retrain(
    args: &crate::signature::Args,
    session: &mut Session,
    r: Retrain<'_>,
    backend: Backend,
) -> Result<Output> {
    let o = WorkOptions::of(args)?;
    let db = workers_db(session)?;
    let base = std::path::absolute(session.artifact_base())
        .map_err(|e| Error::Io { path: session.artifact_base(), message: e.to_string() })?;
    let dir = base.join(format!("run-{}", r.run));
    let train_path = dir.join("train_inputs.bin");
    let test_path = dir.join("test_inputs.bin");
    let train_sha = write_inputs(&train_path, r.train)?;
    let test_sha = write_inputs(&test_path, r.test)?;
    let store = session.store_mut();
    store.log_artifact(r.run, &train_path.to_string_lossy(), &train_sha)?;
    store.log_artifact(r.run, &test_path.to_string_lossy(), &test_sha)?;
    let spec = RetrainSpec {
        format: SPEC_FORMAT,
        kind: RETRAIN.to_string(),
        run: r.run,
        model_json: r.model_json,
        config_json: r.config_json,
        train_inputs: train_path.to_string_lossy().into_owned(),
        train_sha256: train_sha,
        test_inputs: test_path.to_string_lossy().into_owned(),
        test_sha256: test_sha,
        threshold: r.threshold,
        artifacts: base.to_string_lossy().into_owned(),
        device: r.device,
        title: r.title,
        note: r.note,
    };
    let text = serde_json::to_string(&spec).map_err(|e| Error::invalid(format!("work item: {e}"), None))?;
    store.add_work_items(r.run, &[text], o.attempts, o.lease as f64)?;
    store.log_param(r.run, "backend", &ParamValue::Text(backend.name().into()))?;
    let mut lines = vec![format!("run {}: the retraining is a work item in {}", r.run, store.path().display())];
    if backend == Backend::Slurm {
        let submitted = submit_slurm(&Submission {
            parent: r.run,
            items: 1,
            max_parallel: None,
            extra: &o.extra,
            db: &db,
            dir: &dir.join("slurm"),
        })?;
        let store = session.store();
        store.log_param(r.run, "slurm_array_job", &ParamValue::Text(submitted.array.clone()))?;
        store.log_param(r.run, "slurm_collect_job", &ParamValue::Text(submitted.collect.clone()))?;
        if !o.extra.is_empty() {
            store.log_param(r.run, "sbatch", &ParamValue::Text(o.extra.join(" ")))?;
        }
        lines.push(format!("submitted: job {}, collect job {} after it", submitted.array, submitted.collect));
    } else {
        lines.push(format!(
            "start a worker on this store ({}): `radose worker --parent {}`",
            session.store().path().display(),
            r.run
        ));
    }
    session.keep_open(&[r.run]);
    if args.has("wait") {
        let status = wait_for(session, r.run, Duration::from_secs(1))?;
        let detail = session.store().run_detail(r.run)?;
        if status != RunStatus::Finished {
            return Err(Error::invalid(format!("run {} {status}: {}", r.run, detail.error.unwrap_or_default()), None));
        }
        let auc_value = detail.metrics.iter().rev().find(|m| m.key == "auc" && m.step.is_none()).map(|m| m.value);
        lines.push(format!(
            "run {} finished: test AUC {}",
            r.run,
            auc_value.map_or_else(|| "?".to_string(), |a| crate::output::format_sig(a, 3))
        ));
    }
    Ok(Output::Message(lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_one_shell_word_whatever_it_holds() {
        assert_eq!(sh_quote("/opt/radose/bin/radose"), "'/opt/radose/bin/radose'");
        assert_eq!(sh_quote("/home/o'neil/my tools/radose"), "'/home/o'\\''neil/my tools/radose'");
    }

    #[test]
    fn inputs_read_back_bit_for_bit_and_a_changed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.bin");
        let inputs = CohortInputs {
            ids: vec!["P1".into(), "Pé2".into()],
            y: vec![0, 1],
            frames: vec![(
                "T1".into(),
                Matrix { rows: 2, cols: 2, data: vec![0.1 + 0.2, -0.0, f64::MIN_POSITIVE, 1e300] },
                vec!["a".into(), "b".into()],
            )],
            dose: Some(vec![vec![1.5f32, f32::EPSILON], vec![0.0, 3.25]]),
            dataset_ids: vec![3, 9],
            simulated: true,
        };
        let sha = write_inputs(&path, &inputs).unwrap();
        let back = read_inputs(&path, &sha).unwrap();
        assert_eq!(back.ids, inputs.ids);
        assert_eq!(back.y, inputs.y);
        let bits = |m: &Matrix| m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.frames[0].1), bits(&inputs.frames[0].1));
        assert_eq!(back.frames[0].2, inputs.frames[0].2);
        assert_eq!(back.dose, inputs.dose);
        assert_eq!((back.dataset_ids, back.simulated), (inputs.dataset_ids, true));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = read_inputs(&path, &sha).err().unwrap().to_string();
        assert!(e.contains("SHA-256") && e.contains("inputs.bin"), "{e}");
        // A truncated file with a matching hash still fails cleanly, naming the file.
        let cut = &bytes[..30];
        std::fs::write(&path, cut).unwrap();
        let e = read_inputs(&path, &crate::provenance::sha256_bytes(cut)).err().unwrap().to_string();
        assert!(e.contains("inputs.bin"), "{e}");
    }
}
