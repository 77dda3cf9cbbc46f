//! A session: the named frames, the run store, the command history and the
//! cancel flag. Every statement — typed in the shell, given with `-c`, or
//! read from a script — goes through [`Session::execute`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::data::frame::FrameData;

use crate::core::cohort::Roles;
use crate::data::frame;
use crate::data::manifest::Manifest;
use crate::error::{Error, Result, suggest};
use crate::output::{Output, Table};
use crate::progress::{ProgressHandle, ProgressSink, Silent};
use crate::provenance::{io_error, sha256_file};
use crate::render;
use crate::signature::{Args, Signature};
use crate::store::{NewRun, Params, RunId, RunKind, RunStatus, Store};
use crate::syntax::{Statement, Token};

/// Where a frame came from.
#[derive(Debug, Clone)]
pub struct FrameOrigin {
    /// The path given to `load` (a cohort folder or a table file).
    pub path: PathBuf,
    /// The table file actually read.
    pub table_path: PathBuf,
    pub sha256: String,
    /// The datasets rows recorded for this frame's inputs.
    pub dataset_ids: Vec<i64>,
    /// The manifest, when the frame is a cohort folder.
    pub manifest: Option<Manifest>,
}

impl FrameOrigin {
    pub fn simulated(&self) -> bool {
        self.manifest.as_ref().is_some_and(|m| m.cohort.simulated)
    }
}

/// A named table in the session, with the roles of its columns.
#[derive(Debug, Clone)]
pub struct Frame {
    pub df: FrameData,
    pub roles: Roles,
    pub origin: Option<FrameOrigin>,
}

/// Where a derived frame came from: the verb, the frames it read and the
/// run that recorded it (`filter`, `mutate`, `join`, `sql`, feature frames
/// reattached by `load`).
#[derive(Debug, Clone, PartialEq)]
pub struct Lineage {
    pub verb: String,
    pub parents: Vec<String>,
    pub run: RunId,
}

/// Shared flag set by Ctrl-C; long commands poll it.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One executed statement, kept for `history`, `save` and notebooks.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub text: String,
    pub ok: bool,
    pub error: Option<String>,
    pub duration: Duration,
    pub runs: Vec<RunId>,
    pub replayable: bool,
    /// What the command returned (kept for notebooks).
    pub output: Option<Output>,
}

/// A command: a signature and what it does.
pub trait Command: Sync {
    fn signature(&self) -> Signature;
    fn run(&self, args: &Args, session: &mut Session) -> Result<Output>;
}

/// The commands a session can run, in the order `help` lists them. The
/// session is given its registry; it never names a command itself.
#[derive(Clone, Default)]
pub struct Registry {
    commands: Vec<&'static dyn Command>,
    /// Each command's full name, read from its signature once.
    names: Vec<&'static str>,
}

impl Registry {
    pub fn new(commands: Vec<&'static dyn Command>) -> Self {
        let names = commands.iter().map(|c| c.signature().name).collect();
        Registry { commands, names }
    }

    pub fn all(&self) -> &[&'static dyn Command] {
        &self.commands
    }

    /// Looks a command up by its full name (`show`, `audit leakage`).
    pub fn find(&self, name: &str) -> Option<&'static dyn Command> {
        self.names.iter().position(|n| *n == name).map(|i| self.commands[i])
    }

    /// Every command's full name, in registry order.
    pub fn names(&self) -> Vec<&'static str> {
        self.names.clone()
    }

    /// The words a statement can start with: command names and family
    /// names (`audit` for `audit leakage` and `audit published`), once each.
    pub fn first_words(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for name in self.names() {
            let first = name.split(' ').next().unwrap_or(name);
            if !out.contains(&first) {
                out.push(first);
            }
        }
        out
    }

    /// The members of the family `word` (`audit` → `audit leakage`, …).
    pub fn family(&self, word: &str) -> Vec<&'static dyn Command> {
        self.names
            .iter()
            .zip(&self.commands)
            .filter(|(n, _)| n.split_once(' ').is_some_and(|(f, _)| f == word))
            .map(|(_, c)| *c)
            .collect()
    }

    /// The command a statement names: its first word, or its first two for
    /// a family's member. An unknown name, or a family without a known
    /// member, is an error pointing at the word.
    pub fn resolve(&self, statement: &Statement) -> Result<&'static dyn Command> {
        let Some(first) = statement.tokens.first() else {
            return Err(Error::invalid("empty statement", None));
        };
        if let Some(c) = self.find(&first.text) {
            return Ok(c);
        }
        let members = self.family(&first.text);
        if members.is_empty() {
            return Err(Error::UnknownCommand {
                name: first.text.clone(),
                span: first.span,
                suggestion: suggest(&first.text, self.first_words()),
            });
        }
        let subs: Vec<&'static str> =
            members.iter().map(|c| c.signature().name.split_once(' ').map_or("", |(_, s)| s)).collect();
        match statement.tokens.get(1) {
            Some(second) => {
                let full = format!("{} {}", first.text, second.text);
                self.find(&full).ok_or_else(|| Error::UnknownCommand {
                    name: full.clone(),
                    span: second.span,
                    suggestion: suggest(&second.text, subs.iter().copied()).map(|s| format!("{} {s}", first.text)),
                })
            }
            None => Err(Error::invalid(
                format!("`{}` needs one of: {}", first.text, subs.join(", ")),
                Some(&format!("see `help {}`", first.text)),
            )),
        }
    }

    /// The full help text of the command `name`, as `help NAME` prints it.
    pub fn help_text(&self, name: &str) -> Option<String> {
        self.find(name).map(|c| c.signature().help())
    }
}

/// The state behind a shell or script.
pub struct Session {
    frames: BTreeMap<String, Frame>,
    /// How each derived frame was made (absent for a frame read from files).
    lineage: BTreeMap<String, Lineage>,
    /// Declared learning pipelines by name.
    pub pipelines: BTreeMap<String, crate::core::learn::pipeline::Pipeline>,
    /// Declared deep models by name.
    pub models: BTreeMap<String, crate::ml::spec::ModelSpec>,
    store: Store,
    registry: Registry,
    progress: Arc<dyn ProgressSink>,
    history: Vec<HistoryEntry>,
    cancel: CancelFlag,
    current_runs: Vec<RunId>,
    /// Their children (closed with them; not listed in the history).
    current_children: Vec<RunId>,
    /// The text of the statement being executed.
    statement: String,
    /// Terminal width for laying out tables.
    pub width: usize,
    /// Where run files go when the database is in memory (removed on drop).
    scratch: PathBuf,
    /// The unfinished run that `runs --resume` is re-executing, while it
    /// runs: commands with their own checkpoints (`train`'s finished folds)
    /// reuse what it recorded.
    pub resuming: Option<RunId>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.scratch.exists() {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

impl Session {
    pub fn new(store: Store, registry: Registry) -> Self {
        Session {
            registry,
            progress: Arc::new(Silent),
            frames: BTreeMap::new(),
            lineage: BTreeMap::new(),
            pipelines: BTreeMap::new(),
            models: BTreeMap::new(),
            store,
            history: Vec::new(),
            cancel: CancelFlag::default(),
            current_runs: Vec::new(),
            current_children: Vec::new(),
            statement: String::new(),
            width: 100,
            scratch: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                std::env::temp_dir().join(format!("radose-scratch-{}-{n}", std::process::id()))
            },
            resuming: None,
        }
    }

    /// The folder for run files (model weights): `artifacts/` beside
    /// runs.db (in the current folder for a PostgreSQL store), or a
    /// temporary folder, removed with the session, when the database is in
    /// memory.
    pub fn artifact_base(&self) -> PathBuf {
        if self.store.is_server() {
            return crate::store::artifact_folder(self.store.path());
        }
        let path = self.store.path();
        match path.parent() {
            Some(p) if path.exists() => {
                if p.as_os_str().is_empty() {
                    PathBuf::from("artifacts")
                } else {
                    p.join("artifacts")
                }
            }
            _ => self.scratch.clone(),
        }
    }

    /// The commands this session runs.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Where long work reports progress (silent until a caller sets one;
    /// the shell and the script runner give their terminal bars).
    pub fn set_progress_sink(&mut self, sink: Arc<dyn ProgressSink>) {
        self.progress = sink;
    }

    /// Starts a progress indicator for `total` steps of `unit`; it goes away
    /// when the handle is dropped.
    pub fn progress(&self, total: u64, unit: &'static str, message: String) -> ProgressHandle {
        ProgressHandle::start(&self.progress, total, unit, message)
    }

    pub fn cancel_flag(&self) -> CancelFlag {
        self.cancel.clone()
    }

    /// Fails with [`Error::Cancelled`] once Ctrl-C was pressed.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }

    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    pub fn frames(&self) -> &BTreeMap<String, Frame> {
        &self.frames
    }

    pub fn insert_frame(&mut self, name: &str, frame: Frame) {
        self.lineage.remove(name);
        self.frames.insert(name.to_string(), frame);
    }

    /// Stores a frame made from other frames, with where it came from.
    pub fn insert_derived(&mut self, name: &str, frame: Frame, lineage: Lineage) {
        self.frames.insert(name.to_string(), frame);
        self.lineage.insert(name.to_string(), lineage);
    }

    /// How the frame `name` was derived, if it was.
    pub fn lineage(&self, name: &str) -> Option<&Lineage> {
        self.lineage.get(name)
    }

    pub fn remove_frame(&mut self, tok: &Token) -> Result<Frame> {
        self.lineage.remove(&tok.text);
        match self.frames.remove(&tok.text) {
            Some(frame) => Ok(frame),
            None => Err(self.unknown_frame(tok)),
        }
    }

    /// The frame a token names, or an error pointing at the token.
    pub fn frame(&self, tok: &Token) -> Result<&Frame> {
        self.frames.get(&tok.text).ok_or_else(|| self.unknown_frame(tok))
    }

    fn unknown_frame(&self, tok: &Token) -> Error {
        Error::UnknownFrame { name: tok.text.clone(), span: tok.span, available: self.frames.keys().cloned().collect() }
    }

    /// Records a run of `kind` for the command being executed, before its
    /// work starts. The session closes it when the command returns.
    pub fn begin_run(&mut self, args: &Args, kind: RunKind, params: &impl Params, seed: Option<u64>) -> Result<RunId> {
        self.begin_run_in(args, kind, params, seed, None)
    }

    /// [`Session::begin_run`] filed under an experiment (created on first use).
    pub fn begin_run_in(
        &mut self,
        args: &Args,
        kind: RunKind,
        params: &impl Params,
        seed: Option<u64>,
        experiment: Option<String>,
    ) -> Result<RunId> {
        let run = NewRun::new(kind, args.statement.text.clone(), params.to_params())
            .with_seed(seed)
            .in_experiment(experiment);
        self.open(run)
    }

    /// Records a child run (a configuration, a fold, an audit arm) under
    /// `parent`. Like every run of the statement it is closed by the
    /// session: a child the command did not finish itself ends with the
    /// statement's status, so an error anywhere leaves none `running`.
    pub fn begin_child(
        &mut self,
        parent: RunId,
        kind: RunKind,
        params: &impl Params,
        seed: Option<u64>,
    ) -> Result<RunId> {
        let run = NewRun::new(kind, self.statement.clone(), params.to_params()).with_seed(seed).child_of(parent);
        let id = self.store.begin_run(&run)?;
        self.current_children.push(id);
        Ok(id)
    }

    /// Leaves runs of this statement open when it ends: runs whose work
    /// goes on elsewhere (`train --backend slurm`), closed by whoever
    /// finishes that work.
    pub fn keep_open(&mut self, ids: &[RunId]) {
        self.current_runs.retain(|r| !ids.contains(r));
        self.current_children.retain(|r| !ids.contains(r));
    }

    fn open(&mut self, run: NewRun) -> Result<RunId> {
        let id = self.store.begin_run(&run)?;
        self.current_runs.push(id);
        Ok(id)
    }

    /// Runs one statement. Errors are returned (and kept in the history);
    /// the session is always left usable.
    pub fn execute(&mut self, statement: &Statement) -> Result<Output> {
        let started = Instant::now();
        let (result, replayable) = self.dispatch(statement);
        self.cancel.reset();
        let runs = std::mem::take(&mut self.current_runs);
        let children = std::mem::take(&mut self.current_children);
        let status = match &result {
            Ok(_) => RunStatus::Finished,
            Err(Error::Cancelled) => RunStatus::Cancelled,
            Err(_) => RunStatus::Failed,
        };
        let message = result.as_ref().err().map(|e| e.to_string());
        let mut result = result;
        // Children first, then the runs they belong to; a run the command
        // already closed keeps its own status.
        for &id in children.iter().rev().chain(runs.iter().rev()) {
            if let Err(e) = self.store.finish_run(id, status, message.as_deref())
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        self.history.push(HistoryEntry {
            text: statement.text.clone(),
            ok: result.is_ok(),
            error: result.as_ref().err().map(|e| e.to_string()),
            duration: started.elapsed(),
            runs,
            replayable,
            output: result.as_ref().ok().cloned(),
        });
        result
    }

    fn dispatch(&mut self, statement: &Statement) -> (Result<Output>, bool) {
        if statement.tokens.is_empty() {
            return (Ok(Output::Nothing), false);
        }
        let command = match self.registry.resolve(statement) {
            Ok(c) => c,
            Err(e) => return (Err(e), false),
        };
        let sig = command.signature();
        let args = match Args::parse(&sig, statement) {
            Ok(a) => a,
            Err(e) => return (Err(e), false),
        };
        self.cancel.reset();
        self.statement = statement.text.clone();
        let result = command.run(&args, self).and_then(|out| self.write_out(&sig, &args, out));
        (result, sig.replayable)
    }

    /// Honours `--out FILE` for table-producing commands.
    fn write_out(&mut self, sig: &Signature, args: &Args, out: Output) -> Result<Output> {
        let (true, Some(tok)) = (sig.table_output, args.value("out")) else {
            return Ok(out);
        };
        let Some(table) = out.table() else {
            return Ok(out);
        };
        let path = PathBuf::from(&tok.text);
        write_table(table, &path, tok)?;
        let sha = sha256_file(&path)?;
        for &run in &self.current_runs {
            self.store.log_artifact(run, &tok.text, &sha)?;
        }
        Ok(Output::Many(vec![out, Output::Message(format!("wrote {}", path.display()))]))
    }
}

/// Table output formats by file extension.
pub const TABLE_FORMATS: &[&str] = &["csv", "parquet", "md", "tex", "html", "json"];

/// Writes a table to `path` in the format its extension names.
pub fn write_table(table: &Table, path: &Path, tok: &Token) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let text = match ext.as_str() {
        "csv" => render::table::csv(table),
        "md" => render::table::markdown(table),
        "tex" => render::table::latex(table),
        "html" => render::table::html(table),
        "json" => render::table::json(table),
        "parquet" => return frame::write_parquet(table, path),
        _ => {
            return Err(Error::InvalidValue {
                token: tok.text.clone(),
                what: "--out".into(),
                reason: format!("unknown table format `.{ext}`; use one of .{}", TABLE_FORMATS.join(" .")),
                span: tok.span,
            });
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    crate::provenance::write_atomic(path, text.as_bytes())
}
