//! The run tracker `runs.db`: the only module that touches SQLite.
//!
//! One [`Store`] owns the connection and has one method per query. The
//! database is in WAL mode with a busy timeout, so several radose processes
//! can record runs into one file at once. A run row is written before its
//! work starts and finished after; [`Store::open`] marks runs whose process
//! died as `interrupted`.

mod migrations;
pub mod query;
pub mod records;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::provenance::{self, Provenance};
pub use records::{MetricRecord, Metrics, ParamValue, Params, Prediction, RunId, RunKind, RunStatus};

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
    conn: Connection,
    path: PathBuf,
    provenance: Provenance,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations and marks runs of dead processes as interrupted.
    pub fn open(path: &Path, provenance: Provenance) -> Result<Store> {
        // Two processes creating one database at once can meet SQLITE_BUSY
        // where SQLite does not call the busy handler (switching a new file
        // to WAL while the other one writes its schema): retry for up to 30 s.
        let mut attempt = 0;
        loop {
            let conn = Connection::open(path).map_err(|e| store_error(path, e))?;
            let mut store = Store { conn, path: path.to_path_buf(), provenance: provenance.clone() };
            match store.configure() {
                Ok(()) => {
                    store.migrate()?;
                    store.mark_interrupted()?;
                    return Ok(store);
                }
                Err(e) if is_busy(&e) && attempt < 300 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(store_error(path, e)),
            }
        }
    }

    /// Opens an existing database read-only (`radose ui`): no migration, no
    /// run marked; every write fails in SQLite itself. A database whose
    /// schema is not this version's is refused with what to do.
    pub fn open_read_only(path: &Path, provenance: Provenance) -> Result<Store> {
        use rusqlite::OpenFlags;
        if !path.is_file() {
            return Err(Error::Store { path: path.to_path_buf(), message: "no run database here".into() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| store_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(|e| store_error(path, e))?;
        let store = Store { conn, path: path.to_path_buf(), provenance };
        let version = store.schema_version()?;
        let known = migrations::MIGRATIONS.len() as i64;
        if version != known {
            return Err(Error::Store {
                path: path.to_path_buf(),
                message: format!(
                    "schema version {version}, this radose reads version {known}; open it once with this radose \
                     (e.g. `radose --db {} runs`) to migrate it",
                    path.display()
                ),
            });
        }
        Ok(store)
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
             FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN ({marks})",
            format!("COALESCE({}, {})", metric("auc_pooled"), metric("auc")),
            metric("auc_mean")
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(ids.iter()), |r| {
                Ok(RunOverview {
                    id: r.get(0)?,
                    experiment: r.get(1)?,
                    auc_pooled: r.get(2)?,
                    auc_mean: r.get(3)?,
                    children: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Every experiment's name with its number of runs.
    pub fn experiment_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.name, COUNT(r.id) FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id \
                 GROUP BY e.id ORDER BY e.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Every run kind in the database with its number of runs.
    pub fn kind_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, COUNT(*) FROM runs GROUP BY kind ORDER BY kind")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// The latest value of metric `key` logged by `run` with a step (e.g.
    /// the epoch a running fold reached), with that step.
    pub fn latest_step(&self, run: RunId, key: &str) -> Result<Option<(i64, f64)>> {
        self.conn
            .query_row(
                "SELECT step, value FROM metrics WHERE run_id = ?1 AND key = ?2 AND step IS NOT NULL \
                 ORDER BY step DESC, id DESC LIMIT 1",
                rusqlite::params![run, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// `run`'s children, oldest first.
    pub fn children_of(&self, run: RunId) -> Result<Vec<RunSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, parent_id, kind, status, started_at, ended_at, command FROM runs WHERE parent_id = ?1 \
                 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([run], summary_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// A private in-memory database (for tests and `--db :memory:`).
    pub fn open_in_memory(provenance: Provenance) -> Result<Store> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| store_error(path, e))?;
        Store::init(conn, path, provenance)
    }

    fn init(conn: Connection, path: &Path, provenance: Provenance) -> Result<Store> {
        let mut store = Store { conn, path: path.to_path_buf(), provenance };
        store.configure().map_err(|e| store.err(e))?;
        store.migrate()?;
        store.mark_interrupted()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        store_error(&self.path, e)
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(30))?;
        // journal_mode returns a row; WAL is refused for in-memory databases.
        let _mode: String = self.conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| store_error(&path, e))?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| store_error(&path, e))?;
        let known = migrations::MIGRATIONS.len() as i64;
        if version > known {
            return Err(Error::Store {
                path,
                message: format!(
                    "schema version {version} is newer than this radose understands ({known}); upgrade radose"
                ),
            });
        }
        for (i, sql) in migrations::MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql).map_err(|e| store_error(&path, e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(|e| store_error(&path, e))?;
        }
        tx.commit().map_err(|e| store_error(&path, e))
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Marks `running` runs whose process on this host is gone as
    /// `interrupted`. Returns how many were marked.
    pub fn mark_interrupted(&self) -> Result<usize> {
        if !provenance::can_check_processes() {
            return Ok(0);
        }
        let candidates: Vec<(RunId, u32, Option<String>)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, pid, process_token FROM runs WHERE status = 'running' AND host = ?1")
                .map_err(|e| self.err(e))?;
            stmt.query_map([&self.provenance.host], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?
        };
        let mut marked = 0;
        for (id, pid, token) in candidates {
            let alive = match (provenance::process_token(pid), token) {
                (Some(now), Some(then)) => now == then,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !alive {
                marked += self
                    .conn
                    .execute(
                        "UPDATE runs SET status = 'interrupted', ended_at = ?2,
                         error = 'the process recording this run ended before it finished'
                         WHERE id = ?1 AND status = 'running'",
                        params![id, provenance::now_iso()],
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(marked)
    }

    /// Records a run as `running`, with its parameters, before work starts.
    pub fn begin_run(&mut self, run: &NewRun) -> Result<RunId> {
        let p = self.provenance.clone();
        let path = self.path.clone();
        let result = (|| -> rusqlite::Result<RunId> {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let experiment = run.experiment.as_deref().map(|name| experiment_id(&tx, name)).transpose()?;
            tx.execute(
                "INSERT INTO runs (experiment_id, parent_id, kind, command, status, started_at, seed,
                                   program_version, git_commit, host, pid, process_token)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    experiment,
                    run.parent,
                    run.kind.as_str(),
                    run.command,
                    provenance::now_iso(),
                    run.seed.map(|s| s as i64),
                    p.version,
                    p.git_commit,
                    p.host,
                    p.pid,
                    p.process_token,
                ],
            )?;
            let id = tx.last_insert_rowid();
            for (key, value) in &run.params {
                insert_param(&tx, id, key, value)?;
            }
            tx.commit()?;
            Ok(id)
        })();
        result.map_err(|e| store_error(&path, e))
    }

    /// Closes a run that is still `running` with its final status (and the
    /// error, if it failed); a run already closed keeps its status.
    pub fn finish_run(&self, id: RunId, status: RunStatus, error: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE id = ?1 AND status = 'running'",
                params![id, status.as_str(), provenance::now_iso(), error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Sets (or replaces) one parameter of a run.
    pub fn log_param(&self, run: RunId, key: &str, value: &ParamValue) -> Result<()> {
        insert_param(&self.conn, run, key, value).map_err(|e| self.err(e))
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
        self.conn
            .execute(
                "INSERT INTO metrics (run_id, key, value, step, fold, recorded_at, incidental) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![run, key, value, step, fold, provenance::now_iso(), incidental],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records that `run` read a dataset (the same content is stored once).
    pub fn record_dataset(&self, run: RunId, name: &str, path: &str, sha256: &str, rows: Option<i64>) -> Result<i64> {
        let result = (|| -> rusqlite::Result<i64> {
            self.conn.execute(
                "INSERT INTO datasets (name, path, sha256, rows) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name, path, sha256) DO UPDATE SET rows = COALESCE(excluded.rows, rows)",
                params![name, path, sha256, rows],
            )?;
            let id: i64 = self.conn.query_row(
                "SELECT id FROM datasets WHERE name = ?1 AND path = ?2 AND sha256 = ?3",
                params![name, path, sha256],
                |r| r.get(0),
            )?;
            self.link_dataset_raw(run, id)?;
            Ok(id)
        })();
        result.map_err(|e| self.err(e))
    }

    fn link_dataset_raw(&self, run: RunId, dataset: i64) -> rusqlite::Result<()> {
        self.conn
            .execute("INSERT OR IGNORE INTO run_datasets (run_id, dataset_id) VALUES (?1, ?2)", params![run, dataset])
            .map(|_| ())
    }

    /// Records that `run` used an already recorded dataset.
    pub fn link_dataset(&self, run: RunId, dataset: i64) -> Result<()> {
        self.link_dataset_raw(run, dataset).map_err(|e| self.err(e))
    }

    /// Stores out-of-fold or test predictions of a run in one transaction.
    pub fn log_predictions(&mut self, run: RunId, rows: &[Prediction]) -> Result<()> {
        let path = self.path.clone();
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare(
                    "INSERT INTO predictions (run_id, fold, patient_id, label, probability) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for p in rows {
                    stmt.execute(params![run, p.fold, p.patient, i64::from(p.label), p.probability])?;
                }
            }
            tx.commit()
        })();
        result.map_err(|e| store_error(&path, e))
    }

    /// Records a file a run wrote.
    pub fn log_artifact(&self, run: RunId, path: &str, sha256: &str) -> Result<()> {
        self.conn
            .execute("INSERT INTO artifacts (run_id, path, sha256) VALUES (?1, ?2, ?3)", params![run, path, sha256])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The most recent runs first; `limit` of them.
    pub fn list_runs(&self, limit: usize) -> Result<Vec<RunSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, parent_id, kind, status, started_at, ended_at, command
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([limit as i64], summary_from_row).and_then(|rows| rows.collect()).map_err(|e| self.err(e))
    }

    /// Removes `run`'s artifact records whose path starts with `prefix`
    /// (files pruned on purpose, e.g. a finished fold's checkpoints).
    pub fn forget_artifacts_under(&self, run: RunId, prefix: &str) -> Result<usize> {
        let like = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.conn
            .execute("DELETE FROM artifacts WHERE run_id = ?1 AND path LIKE ?2 ESCAPE '\\'", params![run, like])
            .map_err(|e| self.err(e))
    }

    /// Every run linked to a dataset record, oldest first.
    pub fn runs_with_dataset(&self, dataset: i64) -> Result<Vec<RunSummary>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command
                 FROM runs r JOIN run_datasets d ON d.run_id = r.id WHERE d.dataset_id = ?1 ORDER BY r.id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([dataset], summary_from_row).and_then(|rows| rows.collect()).map_err(|e| self.err(e))
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
        let mut binds = Vec::new();
        let key = match sort {
            Some(f) => query::field_sql(f, &mut binds),
            None => "r.id".to_string(),
        };
        let mut sql = format!(
            "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command, CAST({key} AS TEXT) AS sort_value FROM runs r"
        );
        if let Some(e) = filter {
            sql.push_str(" WHERE ");
            sql.push_str(&query::to_sql(e, &mut binds));
        }
        // Runs without the sort value go last either way.
        sql.push_str(&format!(
            " ORDER BY ({key}) IS NULL, {key} {}, r.id DESC LIMIT ?",
            if desc { "DESC" } else { "ASC" }
        ));
        // The key's own binds appear three times in the text, in this order.
        let key_binds: Vec<query::Bound> = match sort {
            Some(f) => {
                let mut b = Vec::new();
                query::field_sql(f, &mut b);
                b
            }
            None => Vec::new(),
        };
        let filter_binds = binds.split_off(key_binds.len());
        let mut all: Vec<rusqlite::types::Value> = Vec::new();
        let conv = |b: &query::Bound| match b {
            query::Bound::Real(x) => rusqlite::types::Value::Real(*x),
            query::Bound::Text(t) => rusqlite::types::Value::Text(t.clone()),
        };
        all.extend(key_binds.iter().map(conv));
        all.extend(filter_binds.iter().map(conv));
        all.extend(key_binds.iter().map(conv));
        all.extend(key_binds.iter().map(conv));
        all.push(rusqlite::types::Value::Integer(limit as i64));
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        stmt.query_map(rusqlite::params_from_iter(all), |r| Ok((summary_from_row(r)?, r.get(7)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// A run's predictions, in the order they were stored.
    pub fn predictions(&self, run: RunId) -> Result<Vec<Prediction>> {
        let mut stmt = self
            .conn
            .prepare("SELECT fold, patient_id, label, probability FROM predictions WHERE run_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        stmt.query_map([run], |r| {
            Ok(Prediction {
                fold: r.get(0)?,
                patient: r.get(1)?,
                label: r.get::<_, i64>(2)? as u8,
                probability: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound).
    pub fn integrity_check(&self) -> Result<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Number of runs in the database.
    pub fn count_runs(&self) -> Result<i64> {
        self.conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Everything recorded for run `id`.
    pub fn run_detail(&self, id: RunId) -> Result<RunDetail> {
        let row = self
            .conn
            .query_row(
                "SELECT r.id, r.parent_id, r.kind, r.status, r.started_at, r.ended_at, r.command,
                        e.name, r.seed, r.program_version, r.git_commit, r.host, r.pid, r.error
                 FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?1",
                [id],
                |r| {
                    Ok((
                        summary_from_row(r)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                        r.get(13)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((summary, experiment, seed, program_version, git_commit, host, pid, error)) = row else {
            return Err(Error::UnknownRun { id });
        };
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
            predictions: self
                .conn
                .query_row("SELECT COUNT(*) FROM predictions WHERE run_id = ?1", [id], |r| r.get(0))
                .map_err(|e| self.err(e))?,
            artifacts: self.query_pairs("SELECT path, sha256 FROM artifacts WHERE run_id = ?1 ORDER BY id", id)?,
            children: {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM runs WHERE parent_id = ?1 ORDER BY id")
                    .map_err(|e| self.err(e))?;
                stmt.query_map([id], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(|e| self.err(e))?
            },
        })
    }

    fn query_pairs(&self, sql: &str, id: RunId) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).and_then(|rows| rows.collect()).map_err(|e| self.err(e))
    }

    /// The parameters of a run, by key.
    pub fn params(&self, id: RunId) -> Result<Vec<(String, ParamValue)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, type, value FROM params WHERE run_id = ?1 ORDER BY key")
            .map_err(|e| self.err(e))?;
        stmt.query_map([id], |r| {
            let key: String = r.get(0)?;
            let ty: String = r.get(1)?;
            let value = match ty.as_str() {
                "int" => ParamValue::Int(r.get(2)?),
                "float" => ParamValue::Float(r.get(2)?),
                "bool" => ParamValue::Bool(r.get::<_, i64>(2)? != 0),
                _ => ParamValue::Text(r.get(2)?),
            };
            Ok((key, value))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// The metrics of a run in recording order.
    pub fn metrics(&self, id: RunId) -> Result<Vec<MetricRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value, step, fold, incidental FROM metrics WHERE run_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        stmt.query_map([id], |r| {
            Ok(MetricRecord {
                key: r.get(0)?,
                value: r.get(1)?,
                step: r.get(2)?,
                fold: r.get(3)?,
                incidental: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// The datasets a run read.
    pub fn datasets(&self, id: RunId) -> Result<Vec<DatasetRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.id, d.name, d.path, d.sha256, d.rows FROM datasets d
                 JOIN run_datasets rd ON rd.dataset_id = d.id WHERE rd.run_id = ?1 ORDER BY d.id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([id], |r| {
            Ok(DatasetRecord { id: r.get(0)?, name: r.get(1)?, path: r.get(2)?, sha256: r.get(3)?, rows: r.get(4)? })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}

/// The id of the named experiment, created on first use.
fn experiment_id(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO experiments (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
        params![name, provenance::now_iso()],
    )?;
    conn.query_row("SELECT id FROM experiments WHERE name = ?1", [name], |r| r.get(0))
}

fn insert_param(conn: &Connection, run: RunId, key: &str, value: &ParamValue) -> rusqlite::Result<()> {
    let sql = "INSERT OR REPLACE INTO params (run_id, key, type, value) VALUES (?1, ?2, ?3, ?4)";
    let ty = value.type_name();
    match value {
        ParamValue::Int(v) => conn.execute(sql, params![run, key, ty, v]),
        ParamValue::Float(v) => conn.execute(sql, params![run, key, ty, v]),
        ParamValue::Text(v) => conn.execute(sql, params![run, key, ty, v]),
        ParamValue::Bool(v) => conn.execute(sql, params![run, key, ty, i64::from(*v)]),
    }
    .map(|_| ())
}

/// SQLITE_BUSY or SQLITE_LOCKED.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    let unknown = |column: usize, name: String| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("`{name}` is not a run {} this radose version knows", if column == 2 { "kind" } else { "status" })
                .into(),
        )
    };
    let kind: String = r.get(2)?;
    let status: String = r.get(3)?;
    Ok(RunSummary {
        id: r.get(0)?,
        parent: r.get(1)?,
        kind: RunKind::parse(&kind).ok_or_else(|| unknown(2, kind))?,
        status: RunStatus::parse(&status).ok_or_else(|| unknown(3, status))?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        command: r.get(6)?,
    })
}

fn store_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Store { path: path.to_path_buf(), message: e.to_string() }
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
