//! `worker [--parent ID] [--collect ID]`: takes work items from the run
//! store and trains them — one (configuration, fold) of a `train --backend
//! slurm` or `queue` run each — until none is left; `--collect ID` then
//! waits for the run's other workers and ends the run as a local `train`
//! would. What a Slurm array task and the collect job run (`radose worker …`).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::cluster;

pub struct Worker;

impl Command for Worker {
    fn signature(&self) -> Signature {
        Signature::new(
            "worker",
            "deep learning",
            "Train work items from the run store (the folds of train --backend slurm or queue) until none is left",
        )
        .named("parent", "ID", ArgKind::Int, "only this run's items (default: any run's)")
        .named(
            "collect",
            "ID",
            ArgKind::Int,
            "work on run ID's items, wait for its other workers (taking over items whose lease ran out), then end \
             the run: its configurations' estimates, the best one, the pooled out-of-fold AUC",
        )
        .named(
            "poll",
            "SECONDS",
            ArgKind::Float,
            "--collect: how often to look at the other workers' items (default 2)",
        )
        .table()
        .example("worker", "train any pending work items of this store (none here: nothing to do)")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let parent: Option<i64> = args.parsed("parent", "a run id")?;
        let collect: Option<i64> = args.parsed("collect", "a run id")?;
        let poll: f64 = args.parsed("poll", "seconds")?.unwrap_or(2.0);
        if !(0.01..=600.0).contains(&poll) {
            return Err(Error::invalid("--poll is between 0.01 and 600 seconds", None));
        }
        let name = worker_name(&session.store().provenance().host);
        if let Some(run) = collect {
            if parent.is_some_and(|p| p != run) {
                return Err(Error::invalid("--collect ID already names the run; drop --parent", None));
            }
            return cluster::collect(session, run, &name, Duration::from_secs_f64(poll));
        }
        let done = cluster::work(session, parent, &name)?;
        if done.is_empty() {
            return Ok(Output::Message(match parent {
                Some(p) => format!("no work items of run {p} to claim"),
                None => "no work items to claim".into(),
            }));
        }
        let mut table = cluster::work_table(&done);
        table.title = Some(format!("worker {name}: {} items", done.len()));
        Ok(Output::Table(table))
    }
}

/// This worker's name in the store: the host, and the Slurm job and task
/// when it runs as one.
fn worker_name(host: &str) -> String {
    match (std::env::var("SLURM_ARRAY_JOB_ID"), std::env::var("SLURM_ARRAY_TASK_ID"), std::env::var("SLURM_JOB_ID")) {
        (Ok(a), Ok(t), _) => format!("{host}/slurm-{a}_{t}"),
        (_, _, Ok(j)) => format!("{host}/slurm-{j}"),
        _ => format!("{host}/pid-{}", std::process::id()),
    }
}
