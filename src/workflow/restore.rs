//! What an unfinished run's command needs, rebuilt from the run record
//! alone, so that `runs --resume ID` works in a new process as well as in
//! the session that started the run:
//!
//! - the **inputs are checked first**: every file the run read (its
//!   datasets) must still have the SHA-256 recorded; a changed or missing
//!   file is named and the resume refused (`--force` reruns from scratch);
//! - the **declarations** it names come back from the record: a deep
//!   model from `model_json`, a pipeline from `pipeline_json` (or its
//!   steps text);
//! - the **frames** it read come back by running again the `load` or
//!   `extract` that recorded each of them — both answer from their caches —
//!   in the order they first ran.
//!
//! The session's own frames and declarations win: nothing the user already
//! has is replaced.

use crate::core::learn::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::store::records::{AuditLeakageParams, ClassicalParams, TestModelParams, TrainParams};
use crate::store::{DatasetRecord, Params, RunDetail, RunKind, RunStatus};

/// An input of the run whose file no longer has the recorded content.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub name: String,
    pub path: String,
    /// `None` when the file is gone.
    pub now: Option<String>,
    pub recorded: String,
}

impl Changed {
    pub fn describe(&self) -> String {
        match &self.now {
            Some(now) => format!(
                "{} (`{}`) changed: SHA-256 {}… now, {}… when the run read it",
                self.path,
                self.name,
                &now[..12.min(now.len())],
                &self.recorded[..12.min(self.recorded.len())]
            ),
            None => format!("{} (`{}`) is gone", self.path, self.name),
        }
    }
}

/// Every input file of `detail` whose content is not what the run read.
pub fn changed_inputs(datasets: &[DatasetRecord]) -> Vec<Changed> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for d in datasets {
        if !seen.insert(d.path.clone()) {
            continue;
        }
        let path = std::path::Path::new(&d.path);
        let now = if path.is_file() { crate::provenance::sha256_file(path).ok() } else { None };
        if now.as_deref() != Some(d.sha256.as_str()) {
            out.push(Changed { name: d.name.clone(), path: d.path.clone(), now, recorded: d.sha256.clone() });
        }
    }
    out
}

/// The model or pipeline the run's command names, declared in `session`
/// when it has none of that name. Returns what was declared.
fn restore_declaration(session: &mut Session, detail: &RunDetail) -> Result<Option<String>> {
    let id = detail.summary.id;
    let bad = |what: &str, e: String| {
        Error::invalid(format!("run {id}: the recorded {what} does not parse ({e}); it cannot be rebuilt"), None)
    };
    match detail.summary.kind {
        RunKind::Train | RunKind::Test => {
            let (name, json) = if detail.summary.kind == RunKind::Train {
                let p = TrainParams::from_params(id, &detail.params)?;
                (p.model, p.model_json)
            } else {
                let p = TestModelParams::from_params(id, &detail.params)?;
                (p.model, p.model_json)
            };
            if session.models.contains_key(&name) {
                return Ok(None);
            }
            let spec: crate::ml::spec::ModelSpec =
                serde_json::from_str(&json).map_err(|e| bad("model declaration", e.to_string()))?;
            session.models.insert(name.clone(), spec);
            Ok(Some(format!("model {name} (from the run's record)")))
        }
        RunKind::Cv | RunKind::Holdout => {
            let p = ClassicalParams::from_params(id, &detail.params)?;
            if session.pipelines.contains_key(&p.pipeline) {
                return Ok(None);
            }
            let pipeline: Pipeline =
                serde_json::from_str(&p.pipeline_json).map_err(|e| bad("pipeline", e.to_string()))?;
            session.pipelines.insert(p.pipeline.clone(), pipeline);
            Ok(Some(format!("pipeline {} = {} (from the run's record)", p.pipeline, p.steps)))
        }
        RunKind::AuditLeakage => {
            let p = AuditLeakageParams::from_params(id, &detail.params)?;
            if session.pipelines.contains_key(&p.pipeline) {
                return Ok(None);
            }
            let pipeline = Pipeline::parse(&p.steps).map_err(|e| bad("pipeline", e.to_string()))?;
            session.pipelines.insert(p.pipeline.clone(), pipeline);
            Ok(Some(format!("pipeline {} = {} (from the run's record)", p.pipeline, p.steps)))
        }
        _ => Ok(None),
    }
}

/// Rebuilds what `detail`'s command needs that `session` lacks; returns
/// one line per thing rebuilt. Refuses when an input file changed (see
/// [`changed_inputs`]) unless `force`.
pub fn restore(session: &mut Session, detail: &RunDetail, force: bool) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    // What the run wrote (an `extract`'s frames) is recorded as a dataset
    // and an artifact: not an input.
    let inputs: Vec<DatasetRecord> =
        detail.datasets.iter().filter(|d| !detail.artifacts.iter().any(|(path, _)| *path == d.path)).cloned().collect();
    let changed = changed_inputs(&inputs);
    if !changed.is_empty() {
        let list = changed.iter().map(Changed::describe).collect::<Vec<_>>().join("; ");
        if !force {
            return Err(Error::invalid(
                format!("run {}'s inputs are not what it read: {list}", detail.summary.id),
                Some("restore the file, or `runs --resume ID --force` to run the command again from scratch"),
            ));
        }
        notes.push(format!("--force: {list}; nothing of the unfinished run is reused"));
    }
    notes.extend(restore_declaration(session, detail)?);
    // Frames the session lacks, each from a finished run that recorded it (`load` for a cohort, `extract` for a feature frame).
    let mut producers: Vec<(i64, String)> = Vec::new();
    for d in &inputs {
        let frame = d.name.split(':').next().unwrap_or(&d.name);
        if session.frames().contains_key(frame) || d.name.contains(':') {
            continue;
        }
        let kind = if frame.contains('.') { RunKind::Extract } else { RunKind::Load };
        // The same dataset record is the same content: a later finished
        // run that recorded it (a resumed `extract`) serves as well.
        let candidates: Vec<_> = session
            .store()
            .runs_with_dataset(d.id)?
            .into_iter()
            .filter(|r| r.kind == kind && r.status == RunStatus::Finished)
            .collect();
        let found = candidates
            .iter()
            .find(|r| r.id < detail.summary.id)
            .or_else(|| candidates.iter().find(|r| r.id > detail.summary.id))
            .cloned();
        match found {
            Some(r) => {
                if !producers.iter().any(|(id, _)| *id == r.id) {
                    producers.push((r.id, r.command));
                }
            }
            None => {
                return Err(Error::invalid(
                    format!(
                        "run {} read the frame `{frame}` ({}), and no finished `{}` run recorded it",
                        detail.summary.id,
                        d.path,
                        kind.as_str()
                    ),
                    Some(&format!("load or extract `{frame}` first, then resume")),
                ));
            }
        }
    }
    producers.sort_by_key(|p| p.0);
    for (id, command) in producers {
        for statement in crate::syntax::parse(&command, 1)? {
            session.execute(&statement).map_err(|e| {
                Error::invalid(format!("rebuilding the inputs with run {id}'s `{command}` failed: {e}"), None)
            })?;
        }
        notes.push(format!("`{command}` (run {id}) run again for its frames"));
    }
    Ok(notes)
}

/// The newest top-level `kind` run of this very statement (a script run
/// again after a crash), other than `current`, when it did not finish and
/// no later run of the statement did.
pub fn unfinished_run_of(
    store: &crate::store::Store,
    kind: RunKind,
    command: &str,
    current: crate::store::RunId,
) -> Result<Option<crate::store::RunId>> {
    use crate::store::query::{Expr, Field, Op, Value};
    let eq = |f: Field, v: &str| Expr::Cmp(f, Op::Eq, Value::Text(v.to_string()));
    let filter = Expr::And(
        Box::new(eq(Field::Column("r.kind"), kind.as_str())),
        Box::new(eq(Field::Column("r.command"), command)),
    );
    let runs = store.query_runs(Some(&filter), None, true, 50)?;
    Ok(runs
        .into_iter()
        .map(|(r, _)| r)
        .find(|r| r.id != current && r.parent.is_none())
        .filter(|r| r.status.is_unfinished())
        .map(|r| r.id))
}

/// The sorted SHA-256 of every input a run read: two runs read the same
/// data when these are equal.
fn input_hashes(detail: &RunDetail) -> Vec<String> {
    let mut h: Vec<String> = detail.datasets.iter().map(|x| x.sha256.clone()).collect();
    h.sort();
    h
}

/// The `kind` run that `id` is or belongs to (`runs --resume` may name a
/// fold or configuration run), or `None` when it is part of none.
pub fn enclosing(store: &crate::store::Store, id: crate::store::RunId, kind: RunKind) -> Result<Option<RunDetail>> {
    let mut run = store.run_detail(id)?;
    while run.summary.kind != kind {
        match run.summary.parent {
            Some(p) => run = store.run_detail(p)?,
            None => return Ok(None),
        }
    }
    Ok(Some(run))
}

/// Why a new run cannot reuse what the unfinished run `was` computed,
/// beyond its command's own settings: a different seed or different input
/// data. `None` when both are the same.
pub fn seed_or_data_differ(was: &RunDetail, now: &RunDetail) -> Option<String> {
    if was.seed != now.seed {
        Some(format!("run {} had a different seed", was.summary.id))
    } else if input_hashes(was) != input_hashes(now) {
        Some(format!("the data changed since run {}", was.summary.id))
    } else {
        None
    }
}
