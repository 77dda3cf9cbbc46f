//! `runs`: the recorded runs, newest first.

use crate::error::Result;
use crate::output::{Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

/// How many runs `runs` lists without `--limit`.
const DEFAULT_LIMIT: usize = 20;

pub struct Runs;

impl Command for Runs {
    fn signature(&self) -> Signature {
        Signature::new("runs", "tracker", "List recorded runs, newest first")
            .named("where", "EXPR", ArgKind::Text, "a filter, e.g. \"kind = cv and auc_pooled > 0.7\" (see `help runs`)")
            .named("sort", "KEY", ArgKind::Text, "order by a field, metric or parameter (default: newest first)")
            .switch("desc", "sort descending")
            .defaulted("limit", "N", ArgKind::Int, "how many", DEFAULT_LIMIT)
            .named(
                "resume",
                "ID",
                ArgKind::Run,
                "re-run an interrupted, cancelled or failed run's command (cached work is reused), in this session or a \
                 new one: the model or pipeline and the frames it read are rebuilt from its record",
            )
            .switch("force", "with --resume: run again from scratch even though an input file changed")
            .table()
            .not_replayable()
            .example("runs", "the 20 most recent runs")
            .example("runs --limit 100 --out reports/runs.csv", "more of them, also as CSV")
            .example(
                "runs --where \"kind = cv and status = finished\" --sort auc_pooled --desc",
                "finished cross-validations, best pooled AUC first; fields: id parent kind status command started ended seed version experiment model, metric.NAME, param.NAME or a bare NAME; = != < <= > >=, and, or, not, in (…)",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        if let Some(tok) = args.value("resume") {
            return resume(session, tok, args.has("force"));
        }
        let limit: usize = args.parsed("limit", "a number of runs")?.unwrap_or(DEFAULT_LIMIT);
        let filter = args.value("where").map(crate::workflow::lookup::filter_expr).transpose()?;
        let sort = args.value("sort").map(sort_field).transpose()?;
        let desc = args.has("desc") || sort.is_none();
        let runs = session.store().query_runs(filter.as_ref(), sort.as_ref(), desc, limit)?;
        let total = session.store().count_runs()?;
        let mut columns = vec!["id", "parent", "kind", "status", "started", "ended", "command"];
        let sort_name = args.value("sort").map(|t| t.text.clone());
        if let Some(name) = &sort_name {
            columns.insert(4, name.as_str());
        }
        let mut table = Table::new(columns);
        for (r, value) in &runs {
            let mut row: Vec<crate::output::Cell> = vec![
                r.id.into(),
                r.parent.into(),
                r.kind.as_str().into(),
                r.status.as_str().into(),
                r.started_at.as_str().into(),
                r.ended_at.clone().into(),
                r.command.as_str().into(),
            ];
            if sort_name.is_some() {
                let v = value.as_deref().map_or(crate::output::Cell::Null, |v| {
                    v.parse::<f64>()
                        .map_or_else(|_| crate::output::Cell::Text(v.to_string()), crate::output::Cell::Float)
                });
                row.insert(4, v);
            }
            table.push(row);
        }
        let matched = if filter.is_some() { " matching" } else { "" };
        table.notes.push(format!("{}{matched} of {total} runs in {}", runs.len(), session.store().path().display()));
        // Runs whose work items other processes are training: how far they are.
        for parent in session.store().parents_with_open_work()? {
            if runs.iter().any(|(r, _)| r.id == parent) {
                let counts = session.store().work_counts(parent)?;
                table.notes.push(format!("run {parent}: {}", crate::workflow::cluster::progress_line(&counts)));
            }
        }
        Ok(Output::Table(table))
    }
}

/// Parses a `--sort` value.
pub fn sort_field(tok: &crate::syntax::Token) -> Result<crate::store::query::Field> {
    crate::store::query::parse_field(&tok.text).map_err(|e| crate::workflow::lookup::shift(e, tok))
}

/// Re-executes the command of a run that did not finish. Long commands
/// keep per-patient caches (`preprocess`, `extract`) written atomically, so
/// the rerun picks up where the killed one stopped; `train` reuses the
/// folds the unfinished run finished (`Session::resuming`). In a new
/// process the model or pipeline and the frames come back from the record
/// (`workflow::restore`); an input file that changed stops the resume
/// unless `force`, which runs the command from scratch.
fn resume(session: &mut Session, tok: &crate::syntax::Token, force: bool) -> Result<Output> {
    let id: i64 = crate::signature::parse_token(tok, "--resume", "a run id")?;
    let d = session.store().run_detail(id)?;
    if !d.summary.status.is_unfinished() {
        return Err(crate::error::Error::invalid(
            format!("run {id} is {}; only interrupted, cancelled or failed runs are resumed", d.summary.status),
            None,
        ));
    }
    if d.summary.kind == crate::store::RunKind::Train && session.store().work_counts(id)?.total() > 0 {
        return crate::workflow::cluster::resubmit(session, id);
    }
    let statements = crate::syntax::parse(&d.summary.command, 1)?;
    // A child run (a fold, a configuration) carries its command; its
    // inputs and declarations are recorded on the top-level run.
    let mut top = d.clone();
    while let Some(parent) = top.summary.parent {
        top = session.store().run_detail(parent)?;
    }
    let restored = crate::workflow::restore::restore(session, &top, force)?;
    let reuse = !restored.iter().any(|n| n.starts_with("--force"));
    let mut outputs = vec![Output::Message(format!(
        "resuming run {id} ({}): `{}` — {}",
        d.summary.status,
        d.summary.command,
        if reuse { "cached work is reused" } else { "run again from scratch" }
    ))];
    outputs.extend(restored.into_iter().map(|n| Output::Message(format!("rebuilt: {n}"))));
    session.resuming = reuse.then_some(id);
    let result = statements.iter().try_for_each(|st| {
        outputs.push(session.execute(st)?);
        Ok(())
    });
    session.resuming = None;
    result.map(|()| Output::Many(outputs))
}
