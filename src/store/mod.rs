//! The run tracker: the only module that touches a database.
//!
//! One [`Store`] owns the connection and has one method per query. The
//! store is SQLite (`runs.db`, in WAL mode with a busy timeout, so several
//! radose processes can record runs into one file at once) or PostgreSQL
//! (`postgres://USER@HOST:PORT/DB`, the store a cluster's workers share);
//! the same statements and the same migrations serve both (`db`). A run
//! row is written before its work starts and finished after; [`Store::open`]
//! marks runs whose process died as `interrupted`.

pub mod db;
mod migrations;
pub mod query;
pub mod records;
pub mod work;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::provenance::{self, Provenance};
use db::{Db, DbError, DbResult, Dialect, Row, Value, vals};
pub use records::{MetricRecord, Metrics, ParamValue, Params, Prediction, RunId, RunKind, RunStatus};

/// Whether `db` names a PostgreSQL server rather than a SQLite file.
pub fn is_server_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A server URL with its password (if any) replaced by `***`, for messages
/// and records.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The folder of run files (model weights, frozen inputs) for the store
/// `db`: `artifacts/` beside a SQLite file; for a server, `artifacts/DB` in
/// the current folder (a cluster's jobs share it with the submitting shell).
pub fn artifact_folder(db: &Path) -> PathBuf {
    match db.to_str().filter(|s| is_server_url(s)) {
        Some(url) => {
            let name = url.rsplit('/').next().unwrap_or("db").split('?').next().unwrap_or("db");
            let name: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
            PathBuf::from("artifacts").join(name)
        }
        None => match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("artifacts"),
            _ => PathBuf::from("artifacts"),
        },
    }
}

/// The key of the PostgreSQL advisory lock migrations run under ("radose").
const MIGRATION_LOCK: i64 = 0x7261_646f_7365;
/// What is known about a run when it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub kind: RunKind,
    pub command: String,
    pub parent: Option<RunId>,
    pub experiment: Option<String>,
    pub seed: Option<u64>,
    pub params: Vec<(String, ParamValue)>,
}

impl NewRun {
    /// A top-level run of `kind` for the statement `command`.
    pub fn new(kind: RunKind, command: String, params: Vec<(String, ParamValue)>) -> Self {
        NewRun { kind, command, parent: None, experiment: None, seed: None, params }
    }

    pub fn in_experiment(mut self, experiment: Option<String>) -> Self {
        self.experiment = experiment;
        self
    }

    pub fn with_seed(mut self, seed: Option<u64>) -> Self {
        self.seed = seed;
        self
    }

    pub fn child_of(mut self, parent: RunId) -> Self {
        self.parent = Some(parent);
        self
    }
}

/// One row of the run list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub parent: Option<RunId>,
    pub kind: RunKind,
    pub status: RunStatus,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub command: String,
}

/// A run's line in the dashboard's runs table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOverview {
    pub id: RunId,
    pub experiment: Option<String>,
    pub auc_pooled: Option<f64>,
    pub auc_mean: Option<f64>,
    pub children: i64,
}

/// A dataset a run read.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRecord {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub rows: Option<i64>,
}

/// Everything recorded for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub summary: RunSummary,
    pub experiment: Option<String>,
    pub seed: Option<i64>,
    pub program_version: String,
    pub git_commit: Option<String>,
    pub host: String,
    pub pid: i64,
    pub error: Option<String>,
    pub params: Vec<(String, ParamValue)>,
    pub metrics: Vec<MetricRecord>,
    pub datasets: Vec<DatasetRecord>,
    pub predictions: i64,
    pub artifacts: Vec<(String, String)>,
    pub children: Vec<RunId>,
}

/// The run database.
pub struct Store {
    db: Db,
    /// The SQLite file, or the server's URL without its password.
    path: PathBuf,
    /// The server's URL as given (with its password), for the processes
    /// this one starts; never shown or recorded.
    url: Option<String>,
    provenance: Provenance,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and marks runs of dead processes as interrupted. A
    /// `postgres://` URL connects to that server instead ([`Store::connect`]).
    pub fn open(path: &Path, provenance: Provenance) -> Result<Store> {
        if let Some(url) = path.to_str().filter(|s| is_server_url(s)) {
            return Store::connect(url, provenance);
        }
        // Two processes creating one database at once can meet SQLITE_BUSY
        // where SQLite does not call the busy handler (switching a new file
        // to WAL while the other one writes its schema): retry for up to 30 s.
        let mut attempt = 0;
        loop {
            let conn = Connection::open(path).map_err(|e| store_error(path, e.into()))?;
            let mut store =
                Store { db: Db::Sqlite(conn), path: path.to_path_buf(), url: None, provenance: provenance.clone() };
            match store.configure() {
                Ok(()) => {
                    store.migrate()?;
                    store.mark_interrupted()?;
                    return Ok(store);
                }
                Err(e) if e.busy && attempt < 300 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(store_error(path, e)),
            }
        }
    }

    /// Connects to the PostgreSQL database at `url`, applies pending
    /// migrations (under an advisory lock: a job array's tasks open the
    /// database at the same moment) and marks runs of dead processes on
    /// this host as interrupted.
    pub fn connect(url: &str, provenance: Provenance) -> Result<Store> {
        let shown = PathBuf::from(redact_url(url));
        let db = Db::connect_postgres(url).map_err(|e| store_error(&shown, e))?;
        let mut store = Store { db, path: shown, url: Some(url.to_string()), provenance };
        store.migrate()?;
        store.mark_interrupted()?;
        Ok(store)
    }

    /// Opens an existing database read-only (`radose ui`): no migration, no
    /// run marked; every write fails in the database itself. A database
    /// whose schema is not this version's is refused with what to do.
    pub fn open_read_only(path: &Path, provenance: Provenance) -> Result<Store> {
        use rusqlite::OpenFlags;
        let store = if let Some(url) = path.to_str().filter(|s| is_server_url(s)) {
            let shown = PathBuf::from(redact_url(url));
            let db = Db::connect_postgres(url).map_err(|e| store_error(&shown, e))?;
            db.batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").map_err(|e| store_error(&shown, e))?;
            Store { db, path: shown, url: Some(url.to_string()), provenance }
        } else {
            if !path.is_file() {
                return Err(Error::Store { path: path.to_path_buf(), message: "no run database here".into() });
            }
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags).map_err(|e| store_error(path, e.into()))?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(|e| store_error(path, e.into()))?;
            Store { db: Db::Sqlite(conn), path: path.to_path_buf(), url: None, provenance }
        };
        let version = store.schema_version()?;
        let known = migrations::MIGRATIONS.len() as i64;
        if version != known {
            return Err(Error::Store {
                path: store.path.clone(),
                message: format!(
                    "schema version {version}, this radose reads version {known}; open it once with this radose \
                     (e.g. `radose --db {} runs`) to migrate it",
                    store.path.display()
                ),
            });
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// For the dashboard's runs table: each run's experiment, its run-level
    /// `auc_pooled` (a test run's `auc`) and `auc_mean` (absent: `None`) and
    /// its number of children, in one query.
    pub fn run_overview(&self, ids: &[RunId]) -> Result<Vec<RunOverview>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(",");
        let metric = |key: &str| {
            format!(
                "(SELECT m.value FROM metrics m WHERE m.run_id = r.id AND m.key = '{key}' AND m.step IS NULL \
                 AND m.fold IS NULL ORDER BY m.id DESC LIMIT 1)"
            )
        };
        let sql = format!(
            "SELECT r.id, e.name, {}, {}, (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id) \
             FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN ({marks}) ORDER BY r.id",
            format!("COALESCE({}, {})", metric("auc_pooled"), metric("auc")),
            metric("auc_mean")
        );
        let binds: Vec<Value> = ids.iter().map(|&id| Value::Int(id)).collect();
        self.rows(&sql, &binds, |r| {
            Ok(RunOverview {
                id: r.int(0)?,
                experiment: r.opt_text(1)?,
                auc_pooled: r.opt_real(2)?,
                auc_mean: r.opt_real(3)?,
                children: r.int(4)?,
            })
        })
    }

    /// Every experiment's name with its number of runs.
    pub fn experiment_counts(&self) -> Result<Vec<(String, i64)>> {
        self.rows(
            "SELECT e.name, COUNT(r.id) FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id \
             GROUP BY e.id, e.name ORDER BY e.name",
            &[],
            |r| Ok((r.text(0)?, r.int(1)?)),
        )
    }

    /// Every run kind in the database with its number of runs.
    pub fn kind_counts(&self) -> Result<Vec<(String, i64)>> {
        self.rows("SELECT kind, COUNT(*) FROM runs GROUP BY kind ORDER BY kind", &[], |r| Ok((r.text(0)?, r.int(1)?)))
    }

    /// The latest value of metric `key` logged by `run` with a step (e.g.
    /// the epoch a running fold reached), with that step.
    pub fn latest_step(&self, run: RunId, key: &str) -> Result<Option<(i64, f64)>> {
        let row = self
            .db
            .query_opt(
                "SELECT step, value FROM metrics WHERE run_id = ?1 AND key = ?2 AND step IS NOT NULL \
                 ORDER BY step DESC, id DESC LIMIT 1",
                vals![run, key],
            )
            .map_err(|e| self.err(e))?;
        row.map(|r| Ok((r.int(0)?, r.real(1)?))).transpose().map_err(|e| self.err(e))
    }

    /// `run`'s children, oldest first.
    pub fn children_of(&self, run: RunId) -> Result<Vec<RunSummary>> {
        self.rows(
            "SELECT id, parent_id, kind, status, started_at, ended_at, command FROM runs WHERE parent_id = ?1 \
             ORDER BY id",
            vals![run],
            summary_from_row,
        )
    }

    /// A private in-memory database (for tests and `--db :memory:`).
    pub fn open_in_memory(provenance: Provenance) -> Result<Store> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| store_error(path, e.into()))?;
        let mut store = Store { db: Db::Sqlite(conn), path: path.to_path_buf(), url: None, provenance };
        store.configure().map_err(|e| store.err(e))?;
        store.migrate()?;
        store.mark_interrupted()?;
        Ok(store)
    }

    /// The SQLite file, or the PostgreSQL URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How another process opens this store: the server URL as it was given
    /// (password included: hand it over in an environment, never a file), or
    /// the SQLite file's absolute path; `None` for a private in-memory store.
    pub fn location_for_workers(&self) -> Option<String> {
        if let Some(url) = &self.url {
            return Some(url.clone());
        }
        if self.path == Path::new(":memory:") {
            return None;
        }
        std::path::absolute(&self.path).ok().map(|p| p.display().to_string())
    }

    /// Whether the store is a database server (PostgreSQL) rather than a file.
    pub fn is_server(&self) -> bool {
        self.dialect() == Dialect::Postgres
    }

    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    fn err(&self, e: DbError) -> Error {
        store_error(&self.path, e)
    }

    /// Runs `sql` and turns each row into a `T`.
    fn rows<T>(&self, sql: &str, params: &[Value], each: impl Fn(&Row) -> DbResult<T>) -> Result<Vec<T>> {
        let rows = self.db.query(sql, params).map_err(|e| self.err(e))?;
        rows.iter().map(&each).collect::<DbResult<Vec<T>>>().map_err(|e| self.err(e))
    }

    fn count(&self, sql: &str, params: &[Value]) -> Result<i64> {
        self.db.query_one(sql, params).and_then(|r| r.int(0)).map_err(|e| self.err(e))
    }

    fn configure(&self) -> DbResult<()> {
        let Db::Sqlite(conn) = &self.db else { return Ok(()) };
        conn.busy_timeout(Duration::from_secs(30))?;
        // journal_mode returns a row; WAL is refused for in-memory databases.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        Ok(conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?)
    }

    fn migrate(&mut self) -> Result<()> {
        let known = migrations::MIGRATIONS.len() as i64;
        let dialect = self.dialect();
        let path = self.path.clone();
        let newer = |version: i64| DbError {
            message: format!(
                "schema version {version} is newer than this radose understands ({known}); upgrade radose"
            ),
            busy: false,
        };
        let result = self.db.transaction(|db| {
            let version = match db {
                Db::Sqlite(_) => db.query_one("PRAGMA user_version", &[])?.int(0)?,
                Db::Postgres(_) => {
                    db.execute("SELECT pg_advisory_xact_lock(?1)", vals![MIGRATION_LOCK])?;
                    db.batch("CREATE TABLE IF NOT EXISTS radose_schema (version BIGINT NOT NULL)")?;
                    match db.query_opt("SELECT version FROM radose_schema", &[])? {
                        Some(r) => r.int(0)?,
                        None => {
                            db.execute("INSERT INTO radose_schema (version) VALUES (0)", &[])?;
                            0
                        }
                    }
                }
            };
            if version > known {
                return Err(newer(version));
            }
            for (i, sql) in migrations::MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
                db.batch(&migrations::for_dialect(sql, dialect))?;
                match db {
                    Db::Sqlite(_) => db.batch(&format!("PRAGMA user_version = {}", i + 1))?,
                    Db::Postgres(_) => {
                        db.execute("UPDATE radose_schema SET version = ?1", vals![i as i64 + 1])?;
                    }
                }
            }
            Ok(())
        });
        result.map_err(|e| store_error(&path, e))
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        match &self.db {
            Db::Sqlite(_) => self.count("PRAGMA user_version", &[]),
            Db::Postgres(_) => {
                let exists = self
                    .db
                    .query_one("SELECT CAST(to_regclass('radose_schema') IS NOT NULL AS INTEGER)", &[])
                    .and_then(|r| r.int(0))
                    .map_err(|e| self.err(e))?;
                if exists == 0 {
                    return Ok(0);
                }
                self.count("SELECT version FROM radose_schema", &[])
            }
        }
    }

    /// Marks `running` runs whose process on this host is gone as
    /// `interrupted`. Returns how many were marked.
    pub fn mark_interrupted(&self) -> Result<usize> {
        if !provenance::can_check_processes() {
            return Ok(0);
        }
        let candidates = self.rows(
            "SELECT id, pid, process_token FROM runs r WHERE status = 'running' AND host = ?1 \
             AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.parent_id = r.id OR w.parent_id = r.parent_id)",
            vals![&self.provenance.host],
            |r| Ok((r.int(0)?, r.int(1)?, r.opt_text(2)?)),
        )?;
        let mut marked = 0;
        for (id, pid, token) in candidates {
            let alive = match (u32::try_from(pid).ok().and_then(provenance::process_token), token) {
                (Some(now), Some(then)) => now == then,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !alive {
                marked += self
                    .db
                    .execute(
                        "UPDATE runs SET status = 'interrupted', ended_at = ?2,
                         error = 'the process recording this run ended before it finished'
                         WHERE id = ?1 AND status = 'running'",
                        vals![id, provenance::now_iso()],
                    )
                    .map_err(|e| self.err(e))? as usize;
            }
        }
        Ok(marked)
    }

    /// Records a run as `running`, with its parameters, before work starts.
    pub fn begin_run(&mut self, run: &NewRun) -> Result<RunId> {
        let p = self.provenance.clone();
        let result = self.db.transaction(|db| {
            let experiment = run.experiment.as_deref().map(|name| experiment_id(db, name)).transpose()?;
            let id = db
                .query_one(
                    "INSERT INTO runs (experiment_id, parent_id, kind, command, status, started_at, seed,
                                       program_version, git_commit, host, pid, process_token)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
                    vals![
                        experiment,
                        run.parent,
                        run.kind.as_str(),
                        &run.command,
                        provenance::now_iso(),
                        run.seed.map(|s| s as i64),
                        &p.version,
                        p.git_commit.clone(),
                        &p.host,
                        i64::from(p.pid),
                        p.process_token.clone(),
                    ],
                )?
                .int(0)?;
            for (key, value) in &run.params {
                insert_param(db, id, key, value)?;
            }
            Ok(id)
        });
        result.map_err(|e| self.err(e))
    }

    /// Closes a run that is still `running` with its final status (and the
    /// error, if it failed); a run already closed keeps its status.
    pub fn finish_run(&self, id: RunId, status: RunStatus, error: Option<&str>) -> Result<()> {
        self.db
            .execute(
                "UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE id = ?1 AND status = 'running'",
                vals![id, status.as_str(), provenance::now_iso(), error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Opens a closed run again (`runs --resume` of a run whose work items
    /// are resubmitted): `running`, with no end or error, owned by this
    /// process. `false` when it was still running.
    pub fn reopen_run(&self, id: RunId) -> Result<bool> {
        let p = &self.provenance;
        self.db
            .execute(
                "UPDATE runs SET status = 'running', ended_at = NULL, error = NULL, host = ?2, pid = ?3, \
                 process_token = ?4 WHERE id = ?1 AND status <> 'running'",
                vals![id, &p.host, i64::from(p.pid), p.process_token.clone()],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Sets (or replaces) one parameter of a run.
    pub fn log_param(&self, run: RunId, key: &str, value: &ParamValue) -> Result<()> {
        insert_param(&self.db, run, key, value).map_err(|e| self.err(e))
    }

    /// Appends a metric value.
    pub fn log_metric(&self, run: RunId, key: &str, value: f64, step: Option<i64>, fold: Option<i64>) -> Result<()> {
        self.insert_metric(run, key, value, step, fold, false)
    }

    /// Appends a run's metric record (each field a metric, with `fold` when
    /// the run is one fold's).
    pub fn log_metrics(&self, run: RunId, fold: Option<i64>, record: &impl Metrics) -> Result<()> {
        for (key, value) in record.to_metrics() {
            self.insert_metric(run, key, value, None, fold, false)?;
        }
        Ok(())
    }

    /// Appends a run's parameter record.
    pub fn log_params(&self, run: RunId, record: &impl Params) -> Result<()> {
        for (key, value) in record.to_params() {
            self.log_param(run, &key, &value)?;
        }
        Ok(())
    }

    /// Appends a metric that says how the run went — its duration, how much
    /// came from a cache — rather than what it found ([`MetricRecord::incidental`]).
    pub fn log_incidental_metric(&self, run: RunId, key: &str, value: f64) -> Result<()> {
        self.insert_metric(run, key, value, None, None, true)
    }

    fn insert_metric(
        &self,
        run: RunId,
        key: &str,
        value: f64,
        step: Option<i64>,
        fold: Option<i64>,
        incidental: bool,
    ) -> Result<()> {
        insert_metric(&self.db, run, key, value, step, fold, incidental).map_err(|e| self.err(e))
    }

    /// Records that `run` read a dataset (the same content is stored once).
    pub fn record_dataset(&self, run: RunId, name: &str, path: &str, sha256: &str, rows: Option<i64>) -> Result<i64> {
        let result = (|| -> DbResult<i64> {
            self.db.execute(
                "INSERT INTO datasets (name, path, sha256, rows) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name, path, sha256) DO UPDATE SET rows = COALESCE(excluded.rows, datasets.rows)",
                vals![name, path, sha256, rows],
            )?;
            let id = self
                .db
                .query_one(
                    "SELECT id FROM datasets WHERE name = ?1 AND path = ?2 AND sha256 = ?3",
                    vals![name, path, sha256],
                )?
                .int(0)?;
            self.link_dataset_raw(run, id)?;
            Ok(id)
        })();
        result.map_err(|e| self.err(e))
    }

    fn link_dataset_raw(&self, run: RunId, dataset: i64) -> DbResult<()> {
        self.db
            .execute(
                "INSERT INTO run_datasets (run_id, dataset_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                vals![run, dataset],
            )
            .map(|_| ())
    }

    /// Records that `run` used an already recorded dataset.
    pub fn link_dataset(&self, run: RunId, dataset: i64) -> Result<()> {
        self.link_dataset_raw(run, dataset).map_err(|e| self.err(e))
    }

    /// Stores out-of-fold or test predictions of a run in one transaction.
    pub fn log_predictions(&mut self, run: RunId, rows: &[Prediction]) -> Result<()> {
        let result = self.db.transaction(|db| insert_predictions(db, run, rows));
        result.map_err(|e| self.err(e))
    }

    /// Records a file a run wrote.
    pub fn log_artifact(&self, run: RunId, path: &str, sha256: &str) -> Result<()> {
        self.db
            .execute("INSERT INTO artifacts (run_id, path, sha256) VALUES (?1, ?2, ?3)", vals![run, path, sha256])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The most recent runs first; `limit` of them.
    pub fn list_runs(&self, limit: usize) -> Result<Vec<RunSummary>> {
        self.rows(
            "SELECT id, parent_id, kind, status, started_at, ended_at, command
             FROM runs ORDER BY id DESC LIMIT ?1",
            vals![limit as i64],
            summary_from_row,
        )
    }

    /// Removes `run`'s artifact records whose path starts with `prefix`
    /// (files pruned on purpose, e.g. a finished fold's checkpoints).
    pub fn forget_artifacts_under(&self, run: RunId, prefix: &str) -> Result<usize> {
        let like = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.db
            .execute("DELETE FROM artifacts WHERE run_id = ?1 AND path LIKE ?2 ESCAPE '\\'", vals![run, like])
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Every run linked to a dataset record, oldest first.
    pub fn runs_with_dataset(&self, dataset: i64) -> Result<Vec<RunSummary>> {
        self.rows(
            "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command
             FROM runs r JOIN run_datasets d ON d.run_id = r.id WHERE d.dataset_id = ?1 ORDER BY r.id",
            vals![dataset],
            summary_from_row,
        )
    }

    /// Runs matching `filter`, ordered by `sort` (a field; id when none),
    /// each with its sort value; values are bound, never pasted into SQL.
    pub fn query_runs(
        &self,
        filter: Option<&query::Expr>,
        sort: Option<&query::Field>,
        desc: bool,
        limit: usize,
    ) -> Result<Vec<(RunSummary, Option<String>)>> {
        use query::Reading;
        let dialect = self.dialect();
        let dir = if desc { "DESC" } else { "ASC" };
        // The statement is written left to right and every field's values
        // are bound as it is written, so the binds are in the text's order.
        let mut binds = Vec::new();
        let field = |f: Option<&query::Field>, reading: Reading, binds: &mut Vec<query::Bound>| match f {
            Some(f) => query::field_sql_in(f, binds, dialect, reading),
            None if reading == Reading::Text => "CAST(r.id AS TEXT)".to_string(),
            None => "r.id".to_string(),
        };
        // The sort value as a number where it is one and as text where not,
        // written as text here (one spelling of a number for both databases).
        let shown = match dialect {
            Dialect::Sqlite => {
                let any = field(sort, Reading::Any, &mut binds);
                format!("{any}, NULL")
            }
            Dialect::Postgres => {
                let number = field(sort, Reading::Number, &mut binds);
                let text = field(sort, Reading::Text, &mut binds);
                format!("{number}, {text}")
            }
        };
        let mut sql = format!(
            "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command, {shown} FROM runs r"
        );
        if let Some(e) = filter {
            sql.push_str(" WHERE ");
            sql.push_str(&query::to_sql_in(e, &mut binds, dialect));
        }
        // Runs without the sort value go last either way.
        match dialect {
            Dialect::Sqlite => {
                let present = field(sort, Reading::Any, &mut binds);
                let key = field(sort, Reading::Any, &mut binds);
                sql.push_str(&format!(" ORDER BY ({present}) IS NULL, {key} {dir}, r.id DESC LIMIT ?"));
            }
            Dialect::Postgres => {
                // Numbers in numeric order, then text: the order SQLite
                // gives a column holding both.
                let present = field(sort, Reading::Text, &mut binds);
                let number = field(sort, Reading::Number, &mut binds);
                let text = field(sort, Reading::Text, &mut binds);
                sql.push_str(&format!(
                    " ORDER BY ({present}) IS NULL, {number} {dir}, {text} {dir}, r.id DESC LIMIT ?"
                ));
            }
        }
        let mut all: Vec<Value> = binds
            .into_iter()
            .map(|b| match b {
                query::Bound::Real(x) => Value::Real(x),
                query::Bound::Text(t) => Value::Text(t),
            })
            .collect();
        all.push(Value::Int(limit as i64));
        self.rows(&sql, &all, |r| {
            let value = match r.value(7) {
                Value::Null => r.as_text(8),
                _ => r.as_text(7),
            };
            Ok((summary_from_row(r)?, value))
        })
    }

    /// A run's predictions, in the order they were stored.
    pub fn predictions(&self, run: RunId) -> Result<Vec<Prediction>> {
        self.rows(
            "SELECT fold, patient_id, label, probability FROM predictions WHERE run_id = ?1 ORDER BY id",
            vals![run],
            |r| {
                Ok(Prediction {
                    fold: r.opt_int(0)?,
                    patient: r.text(1)?,
                    label: r.int(2)? as u8,
                    probability: r.real(3)?,
                })
            },
        )
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound); a
    /// PostgreSQL server checks its own pages, so "ok" once it answers.
    pub fn integrity_check(&self) -> Result<String> {
        match &self.db {
            Db::Sqlite(_) => {
                self.db.query_one("PRAGMA integrity_check", &[]).and_then(|r| r.text(0)).map_err(|e| self.err(e))
            }
            Db::Postgres(_) => self.count("SELECT 1", &[]).map(|_| "ok".to_string()),
        }
    }

    /// Number of runs in the database.
    pub fn count_runs(&self) -> Result<i64> {
        self.count("SELECT COUNT(*) FROM runs", &[])
    }

    /// Everything recorded for run `id`.
    pub fn run_detail(&self, id: RunId) -> Result<RunDetail> {
        let row = self
            .db
            .query_opt(
                "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command,
                        e.name, r.seed, r.program_version, r.git_commit, r.host, r.pid, r.error
                 FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?1",
                vals![id],
            )
            .map_err(|e| self.err(e))?;
        let Some(r) = row else {
            return Err(Error::UnknownRun { id });
        };
        let read = || -> DbResult<_> {
            Ok((
                summary_from_row(&r)?,
                r.opt_text(7)?,
                r.opt_int(8)?,
                r.text(9)?,
                r.opt_text(10)?,
                r.text(11)?,
                r.int(12)?,
                r.opt_text(13)?,
            ))
        };
        let (summary, experiment, seed, program_version, git_commit, host, pid, error) =
            read().map_err(|e| self.err(e))?;
        Ok(RunDetail {
            summary,
            experiment,
            seed,
            program_version,
            git_commit,
            host,
            pid,
            error,
            params: self.params(id)?,
            metrics: self.metrics(id)?,
            datasets: self.datasets(id)?,
            predictions: self.count("SELECT COUNT(*) FROM predictions WHERE run_id = ?1", vals![id])?,
            artifacts: self.rows(
                "SELECT path, sha256 FROM artifacts WHERE run_id = ?1 ORDER BY id",
                vals![id],
                |r| Ok((r.text(0)?, r.text(1)?)),
            )?,
            children: self.rows("SELECT id FROM runs WHERE parent_id = ?1 ORDER BY id", vals![id], |r| r.int(0))?,
        })
    }

    /// The parameters of a run, by key.
    pub fn params(&self, id: RunId) -> Result<Vec<(String, ParamValue)>> {
        self.rows("SELECT key, type, value FROM params WHERE run_id = ?1 ORDER BY key", vals![id], |r| {
            let key = r.text(0)?;
            let value = match r.text(1)?.as_str() {
                "int" => ParamValue::Int(r.int(2)?),
                "float" => ParamValue::Float(r.real(2)?),
                "bool" => ParamValue::Bool(r.int(2)? != 0),
                _ => ParamValue::Text(r.as_text(2).unwrap_or_default()),
            };
            Ok((key, value))
        })
    }

    /// The metrics of a run in recording order.
    pub fn metrics(&self, id: RunId) -> Result<Vec<MetricRecord>> {
        self.rows(
            "SELECT key, value, step, fold, incidental FROM metrics WHERE run_id = ?1 ORDER BY id",
            vals![id],
            |r| {
                Ok(MetricRecord {
                    key: r.text(0)?,
                    value: r.opt_real(1)?.unwrap_or(f64::NAN),
                    step: r.opt_int(2)?,
                    fold: r.opt_int(3)?,
                    incidental: r.int(4)? != 0,
                })
            },
        )
    }

    /// The datasets a run read.
    pub fn datasets(&self, id: RunId) -> Result<Vec<DatasetRecord>> {
        self.rows(
            "SELECT d.id, d.name, d.path, d.sha256, d.rows FROM datasets d
             JOIN run_datasets rd ON rd.dataset_id = d.id WHERE rd.run_id = ?1 ORDER BY d.id",
            vals![id],
            |r| {
                Ok(DatasetRecord {
                    id: r.int(0)?,
                    name: r.text(1)?,
                    path: r.text(2)?,
                    sha256: r.text(3)?,
                    rows: r.opt_int(4)?,
                })
            },
        )
    }
}

/// The id of the named experiment, created on first use.
fn experiment_id(db: &Db, name: &str) -> DbResult<i64> {
    db.execute(
        "INSERT INTO experiments (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
        vals![name, provenance::now_iso()],
    )?;
    db.query_one("SELECT id FROM experiments WHERE name = ?1", vals![name])?.int(0)
}

fn insert_param(db: &Db, run: RunId, key: &str, value: &ParamValue) -> DbResult<()> {
    let bound = match value {
        ParamValue::Int(v) => Value::Int(*v),
        ParamValue::Float(v) => Value::Real(*v),
        ParamValue::Text(v) => Value::Text(v.clone()),
        ParamValue::Bool(v) => Value::Int(i64::from(*v)),
    };
    db.execute(
        "INSERT INTO params (run_id, key, type, value) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(run_id, key) DO UPDATE SET type = excluded.type, value = excluded.value",
        &[Value::Int(run), Value::from(key), Value::from(value.type_name()), bound],
    )
    .map(|_| ())
}

/// Appends one metric row (`Store::log_metric` and an item's completion).
fn insert_metric(
    db: &Db,
    run: RunId,
    key: &str,
    value: f64,
    step: Option<i64>,
    fold: Option<i64>,
    incidental: bool,
) -> DbResult<()> {
    db.execute(
        "INSERT INTO metrics (run_id, key, value, step, fold, recorded_at, incidental) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vals![run, key, value, step, fold, provenance::now_iso(), incidental],
    )
    .map(|_| ())
}

/// Inserts predictions in multi-row statements of 64, 32, …, 1 rows (a
/// server round trip per statement, not per row; at most seven statement
/// texts to prepare), in their order.
fn insert_predictions(db: &Db, run: RunId, rows: &[Prediction]) -> DbResult<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let n = [64, 32, 16, 8, 4, 2, 1].into_iter().find(|&n| n <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        let sql = format!(
            "INSERT INTO predictions (run_id, fold, patient_id, label, probability) VALUES {}",
            vec!["(?, ?, ?, ?, ?)"; n].join(", ")
        );
        let mut values = Vec::with_capacity(5 * n);
        for p in chunk {
            values.extend([
                Value::Int(run),
                Value::from(p.fold),
                Value::from(&p.patient),
                Value::Int(i64::from(p.label)),
                Value::Real(p.probability),
            ]);
        }
        db.execute(&sql, &values)?;
        rest = tail;
    }
    Ok(())
}

fn summary_from_row(r: &Row) -> DbResult<RunSummary> {
    let unknown = |what: &str, name: String| DbError {
        message: format!("`{name}` is not a run {what} this radose version knows"),
        busy: false,
    };
    let kind = r.text(2)?;
    let status = r.text(3)?;
    Ok(RunSummary {
        id: r.int(0)?,
        parent: r.opt_int(1)?,
        kind: RunKind::parse(&kind).ok_or_else(|| unknown("kind", kind))?,
        status: RunStatus::parse(&status).ok_or_else(|| unknown("status", status))?,
        started_at: r.text(4)?,
        ended_at: r.opt_text(5)?,
        command: r.text(6)?,
    })
}

fn store_error(path: &Path, e: DbError) -> Error {
    Error::Store { path: path.to_path_buf(), message: e.message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prov() -> Provenance {
        Provenance::gather()
    }

    #[test]
    fn run_lifecycle_in_memory() {
        let mut store = Store::open_in_memory(prov()).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::MIGRATIONS.len() as i64);
        let run = NewRun {
            kind: RunKind::Load,
            command: "load A x.csv".into(),
            parent: None,
            experiment: None,
            seed: Some(7),
            params: vec![
                ("n".into(), ParamValue::Int(3)),
                ("lr".into(), ParamValue::Float(1e-3)),
                ("flag".into(), ParamValue::Bool(true)),
            ],
        };
        let id = store.begin_run(&run).unwrap();
        store.record_dataset(id, "A", "x.csv", "abc", Some(3)).unwrap();
        store.log_metric(id, "auc", 0.7, None, Some(1)).unwrap();
        store
            .log_predictions(id, &[Prediction { fold: Some(1), patient: "P1".into(), label: 1, probability: 0.8 }])
            .unwrap();
        store.finish_run(id, RunStatus::Finished, None).unwrap();
        let d = store.run_detail(id).unwrap();
        assert_eq!(d.summary.status, RunStatus::Finished);
        let grouped = NewRun::new(RunKind::Cv, "cv".into(), Vec::new()).in_experiment(Some("paper".into()));
        let a = store.begin_run(&grouped).unwrap();
        let b = store.begin_run(&grouped).unwrap();
        assert_eq!(store.run_detail(a).unwrap().experiment.as_deref(), Some("paper"));
        assert_eq!(store.run_detail(b).unwrap().experiment.as_deref(), Some("paper"));
        assert_eq!(d.seed, Some(7));
        assert_eq!(d.params.len(), 3);
        assert!(d.params.contains(&("flag".into(), ParamValue::Bool(true))));
        assert_eq!(d.datasets[0].sha256, "abc");
        assert_eq!(d.predictions, 1);
        assert!(matches!(store.run_detail(999), Err(Error::UnknownRun { id: 999 })));
    }

    #[test]
    fn dead_process_runs_become_interrupted() {
        if !provenance::can_check_processes() {
            return;
        }
        let mut p = prov();
        // A pid that cannot be alive: larger than any pid_max.
        p.pid = 4_194_999;
        p.process_token = Some("gone".into());
        let mut store = Store::open_in_memory(p).unwrap();
        let id = store.begin_run(&NewRun::new(RunKind::Sleep, "x".into(), Vec::new())).unwrap();
        assert_eq!(store.mark_interrupted().unwrap(), 1);
        assert_eq!(store.run_detail(id).unwrap().summary.status, RunStatus::Interrupted);
    }
}
