//! Work items: the pieces of a run that other processes do — one
//! (configuration, fold) of `train --backend slurm` each — kept in the run
//! store so that any process that reaches it can take one.
//!
//! A worker **claims** an item atomically (PostgreSQL: the row locked with
//! `FOR UPDATE SKIP LOCKED`, so racing workers pass over each other's rows;
//! SQLite: inside `BEGIN IMMEDIATE`), holding a **lease** timed by the
//! database's clock that it renews as it goes. Its results are written by
//! [`Store::complete_work_item`] in one transaction that first checks the
//! claim is still its own and unexpired, so a worker that lost its lease
//! writes nothing. An expired lease makes the item claimable again; after
//! `max_attempts` claims that did not finish, the item is `failed`.

use super::db::{DbError, DbResult, Dialect, Row, Value, vals};
use super::{Prediction, RunId, Store};
use crate::error::Result;

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    Pending,
    Claimed,
    Done,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Claimed => "claimed",
            ItemStatus::Done => "done",
            ItemStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> DbResult<ItemStatus> {
        Ok(match s {
            "pending" => ItemStatus::Pending,
            "claimed" => ItemStatus::Claimed,
            "done" => ItemStatus::Done,
            "failed" => ItemStatus::Failed,
            other => return Err(DbError { message: format!("`{other}` is not a work item status"), busy: false }),
        })
    }
}

/// An item a worker holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub item: i64,
    pub parent: RunId,
    pub position: i64,
    /// The frozen specification the item was written with.
    pub spec: String,
    /// 1 for the first claim of the item.
    pub attempt: i64,
    /// Names this claim; every later write is guarded by it.
    pub token: String,
}

/// One item as `runs`/`run show` report it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    pub id: i64,
    pub position: i64,
    pub status: ItemStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub worker: Option<String>,
    /// The run of the latest attempt (a fold run).
    pub run: Option<RunId>,
    pub error: Option<String>,
    /// Seconds left on a claimed item's lease (negative: expired).
    pub lease_left: Option<f64>,
    pub spec: String,
}

/// How many of a parent's items are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub pending: i64,
    pub claimed: i64,
    pub done: i64,
    pub failed: i64,
}

impl ItemCounts {
    pub fn total(&self) -> i64 {
        self.pending + self.claimed + self.done + self.failed
    }

    /// Every item has ended, done or failed.
    pub fn settled(&self) -> bool {
        self.pending == 0 && self.claimed == 0
    }
}

/// A metric written with a completed item: key, value, step, fold.
pub type ItemMetric = (String, f64, Option<i64>, Option<i64>);

/// A claim's name: unique across hosts, processes and claims.
fn new_token(worker: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{worker}:{}:{nanos}:{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Retries `work` while the database reports a lock conflict (a deadlock
/// or serialisation failure PostgreSQL resolved by aborting one side).
fn retrying<T>(mut work: impl FnMut() -> DbResult<T>) -> DbResult<T> {
    let mut attempt = 0;
    loop {
        match work() {
            Err(e) if e.busy && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20 + 10 * attempt));
            }
            other => return other,
        }
    }
}

fn item_from_row(r: &Row) -> DbResult<ItemRecord> {
    Ok(ItemRecord {
        id: r.int(0)?,
        position: r.int(1)?,
        status: ItemStatus::parse(&r.text(2)?)?,
        attempts: r.int(3)?,
        max_attempts: r.int(4)?,
        worker: r.opt_text(5)?,
        run: r.opt_int(6)?,
        error: r.opt_text(7)?,
        lease_left: r.opt_real(8)?,
        spec: r.text(9)?,
    })
}

impl Store {
    /// Writes one pending item per specification under `parent`, in order.
    pub fn add_work_items(
        &mut self,
        parent: RunId,
        specs: &[String],
        max_attempts: i64,
        lease_seconds: f64,
    ) -> Result<Vec<i64>> {
        let result = self.db.transaction(|db| {
            let start = db
                .query_one("SELECT COALESCE(MAX(position) + 1, 0) FROM work_items WHERE parent_id = ?1", vals![parent])?
                .int(0)?;
            let mut ids = Vec::with_capacity(specs.len());
            for (i, spec) in specs.iter().enumerate() {
                let id = db
                    .query_one(
                        "INSERT INTO work_items (parent_id, position, spec, status, max_attempts, lease_seconds) \
                         VALUES (?1, ?2, ?3, 'pending', ?4, ?5) RETURNING id",
                        vals![parent, start + i as i64, spec, max_attempts, lease_seconds],
                    )?
                    .int(0)?;
                ids.push(id);
            }
            Ok(ids)
        });
        result.map_err(|e| self.err(e))
    }

    /// Marks items whose lease ran out after their last allowed attempt as
    /// `failed` (of `parent`, or of every parent). Returns how many.
    pub fn expire_work_items(&self, parent: Option<RunId>) -> Result<usize> {
        let now = self.db.now_seconds_sql();
        let sql = format!(
            "UPDATE work_items SET status = 'failed', claim_token = NULL, \
             error = 'its lease ran out on its last attempt (' || CAST(attempts AS TEXT) || ' of ' || \
             CAST(max_attempts AS TEXT) || '): the worker was killed or lost' \
             WHERE status = 'claimed' AND lease_until < {now} AND attempts >= max_attempts \
             AND (CAST(?1 AS BIGINT) IS NULL OR parent_id = ?1)"
        );
        retrying(|| self.db.execute(&sql, &[Value::from(parent)])).map(|n| n as usize).map_err(|e| self.err(e))
    }

    /// Claims the next claimable item (of `parent`, or of any parent): a
    /// pending one, or one whose lease ran out with attempts left. `None`
    /// when there is none.
    pub fn claim_work_item(&mut self, parent: Option<RunId>, worker: &str) -> Result<Option<Claim>> {
        self.expire_work_items(parent)?;
        let now = self.db.now_seconds_sql();
        let skip_locked = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE work_items SET status = 'claimed', attempts = attempts + 1, claim_token = ?1, worker = ?2, \
             lease_until = {now} + lease_seconds, run_id = NULL \
             WHERE id = (SELECT id FROM work_items WHERE (CAST(?3 AS BIGINT) IS NULL OR parent_id = ?3) \
                         AND attempts < max_attempts \
                         AND (status = 'pending' OR (status = 'claimed' AND lease_until < {now})) \
                         ORDER BY parent_id, position LIMIT 1{skip_locked}) \
             RETURNING id, parent_id, position, spec, attempts"
        );
        let token = new_token(worker);
        let result = retrying(|| {
            self.db.transaction(|db| {
                let row = db.query_opt(&sql, &[Value::from(&token), Value::from(worker), Value::from(parent)])?;
                row.map(|r| {
                    Ok(Claim {
                        item: r.int(0)?,
                        parent: r.int(1)?,
                        position: r.int(2)?,
                        spec: r.text(3)?,
                        attempt: r.int(4)?,
                        token: token.clone(),
                    })
                })
                .transpose()
            })
        });
        result.map_err(|e| self.err(e))
    }

    /// Extends the claim's lease by its length from now. `false` when the
    /// claim is no longer this worker's (its lease ran out and another took
    /// the item, or the item was settled): the worker must stop and write
    /// nothing.
    pub fn renew_lease(&self, claim: &Claim) -> Result<bool> {
        let now = self.db.now_seconds_sql();
        let sql = format!(
            "UPDATE work_items SET lease_until = {now} + lease_seconds \
             WHERE id = ?1 AND claim_token = ?2 AND status = 'claimed' AND lease_until >= {now}"
        );
        retrying(|| self.db.execute(&sql, vals![claim.item, &claim.token])).map(|n| n == 1).map_err(|e| self.err(e))
    }

    /// Records the run (a fold run) the claim's attempt writes to; `false`
    /// when the claim is no longer held.
    pub fn set_work_item_run(&self, claim: &Claim, run: RunId) -> Result<bool> {
        retrying(|| {
            self.db.execute(
                "UPDATE work_items SET run_id = ?3 WHERE id = ?1 AND claim_token = ?2 AND status = 'claimed'",
                vals![claim.item, &claim.token, run],
            )
        })
        .map(|n| n == 1)
        .map_err(|e| self.err(e))
    }

    /// Writes a claim's results — `predictions` and `metrics` of `run` —
    /// and marks the item done, in one transaction that first checks the
    /// claim is still held and its lease unexpired. `false` (and nothing
    /// written) when it is not.
    pub fn complete_work_item(
        &mut self,
        claim: &Claim,
        run: RunId,
        predictions: &[Prediction],
        metrics: &[ItemMetric],
    ) -> Result<bool> {
        let now = self.db.now_seconds_sql();
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let check = format!(
            "SELECT id FROM work_items WHERE id = ?1 AND claim_token = ?2 AND status = 'claimed' \
             AND lease_until >= {now}{lock}"
        );
        let result = retrying(|| {
            self.db.transaction(|db| {
                if db.query_opt(&check, vals![claim.item, &claim.token])?.is_none() {
                    return Ok(false);
                }
                super::insert_predictions(db, run, predictions)?;
                for (key, value, step, fold) in metrics {
                    super::insert_metric(db, run, key, *value, *step, *fold, false)?;
                }
                db.execute(
                    "UPDATE work_items SET status = 'done', run_id = ?2, lease_until = NULL, error = NULL \
                     WHERE id = ?1",
                    vals![claim.item, run],
                )?;
                Ok(true)
            })
        });
        result.map_err(|e| self.err(e))
    }

    /// Gives a claimed item back at once (the worker was cancelled: Ctrl-C,
    /// SIGTERM from `scancel`, a time limit); the cancelled attempt does not
    /// count against the item. `false` when the claim was no longer held.
    pub fn release_work_item(&self, claim: &Claim) -> Result<bool> {
        retrying(|| {
            self.db.execute(
                "UPDATE work_items SET status = 'pending', attempts = attempts - 1, claim_token = NULL, \
                 lease_until = NULL WHERE id = ?1 AND claim_token = ?2 AND status = 'claimed'",
                vals![claim.item, &claim.token],
            )
        })
        .map(|n| n == 1)
        .map_err(|e| self.err(e))
    }

    /// Records that a claim's attempt failed with `error`: the item is
    /// pending again while attempts remain, else `failed`. Returns the
    /// item's new status (`None` when the claim was no longer held).
    pub fn fail_work_item(&self, claim: &Claim, error: &str) -> Result<Option<ItemStatus>> {
        let result = retrying(|| {
            self.db.query_opt(
                "UPDATE work_items SET \
                 status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, \
                 claim_token = NULL, lease_until = NULL, error = ?3 \
                 WHERE id = ?1 AND claim_token = ?2 AND status = 'claimed' RETURNING status",
                vals![claim.item, &claim.token, error],
            )
        });
        let row = result.map_err(|e| self.err(e))?;
        row.map(|r| ItemStatus::parse(&r.text(0)?)).transpose().map_err(|e| self.err(e))
    }

    /// Makes `parent`'s failed items pending again with their attempts
    /// reset (`runs --resume`). Returns how many.
    pub fn retry_failed_work_items(&self, parent: RunId) -> Result<usize> {
        self.db
            .execute(
                "UPDATE work_items SET status = 'pending', attempts = 0, claim_token = NULL, lease_until = NULL \
                 WHERE parent_id = ?1 AND status = 'failed'",
                vals![parent],
            )
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// `parent`'s items in order.
    pub fn work_items(&self, parent: RunId) -> Result<Vec<ItemRecord>> {
        let now = self.db.now_seconds_sql();
        let sql = format!(
            "SELECT id, position, status, attempts, max_attempts, worker, run_id, error, \
             CASE WHEN status = 'claimed' THEN lease_until - {now} END, spec \
             FROM work_items WHERE parent_id = ?1 ORDER BY position"
        );
        self.rows(&sql, vals![parent], item_from_row)
    }

    /// How many of `parent`'s items are in each state.
    pub fn work_counts(&self, parent: RunId) -> Result<ItemCounts> {
        let rows = self.rows(
            "SELECT status, COUNT(*) FROM work_items WHERE parent_id = ?1 GROUP BY status",
            vals![parent],
            |r| Ok((r.text(0)?, r.int(1)?)),
        )?;
        let mut counts = ItemCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => counts.pending = n,
                "claimed" => counts.claimed = n,
                "done" => counts.done = n,
                _ => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// The parents that have work items not yet settled, oldest first.
    pub fn parents_with_open_work(&self) -> Result<Vec<RunId>> {
        self.rows(
            "SELECT DISTINCT parent_id FROM work_items WHERE status IN ('pending', 'claimed') ORDER BY parent_id",
            &[],
            |r| r.int(0),
        )
    }

    /// Moves a claimed item's lease into the past, as if its worker had
    /// died that long ago (tests of reclaiming, without waiting).
    #[doc(hidden)]
    pub fn expire_lease_now(&self, item: i64) -> Result<()> {
        let now = self.db.now_seconds_sql();
        self.db
            .execute(&format!("UPDATE work_items SET lease_until = {now} - 1 WHERE id = ?1"), vals![item])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
