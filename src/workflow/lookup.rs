//! The lookups and records the commands share: names of frames, pipelines
//! and models, a frame's cohort, a model's latest run, the label a model
//! carries into reports, test-set metrics as a run's record and a table,
//! a run's predictions per patient, `--where` filters, and one run's detail.

use crate::core::learn::metrics::{at_threshold, auc, brier, calibration, delong};
use crate::data::manifest::Manifest;
use crate::error::{Error, Result};
use crate::output::{Cell, Output, Table, format_sig};
use crate::session::Session;
use crate::signature::Args;
use crate::store::Metrics;
use crate::store::records::HeldOutMetrics;
use crate::store::{RunKind, RunStatus};
use crate::syntax::Token;

/// Frame names are single words usable in commands and file names.
pub fn check_frame_name(tok: &Token) -> Result<()> {
    let ok = tok.text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && tok.text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            token: tok.text.clone(),
            what: "a frame name".into(),
            reason: "use letters, digits, `_`, `-` or `.`, starting with a letter".into(),
            span: tok.span,
        })
    }
}

/// A frame loaded from a cohort folder: its origin and manifest, or an
/// error saying the frame has no images.
pub fn cohort_of(frame: &crate::session::Frame, tok: &Token) -> Result<(crate::session::FrameOrigin, Manifest)> {
    frame.origin.as_ref().and_then(|o| o.manifest.as_ref().map(|m| (o.clone(), m.clone()))).ok_or_else(|| {
        Error::invalid(
            format!("frame `{}` was not loaded from a cohort folder, so it has no images", tok.text),
            Some("load the cohort folder (with its cohort.toml), e.g. `load A data/sim/A`"),
        )
    })
}

/// The pipeline a command names, or an error pointing at the name.
pub fn pipeline_named(
    session: &Session,
    name: &crate::syntax::Token,
) -> Result<crate::core::learn::pipeline::Pipeline> {
    session.pipelines.get(&name.text).cloned().ok_or_else(|| Error::InvalidValue {
        token: name.text.clone(),
        what: "PIPELINE".into(),
        reason: "no pipeline has that name; declare it with `pipeline NAME = …` (`pipeline` lists them)".into(),
        span: name.span,
    })
}

/// The model a command names, or an error pointing at the name.
pub fn model_named(session: &Session, name: &crate::syntax::Token) -> Result<crate::ml::spec::ModelSpec> {
    session.models.get(&name.text).cloned().ok_or_else(|| Error::InvalidValue {
        token: name.text.clone(),
        what: "MODEL".into(),
        reason: "no model has that name; declare it with `model NAME = …` (`model` lists them)".into(),
        span: name.span,
    })
}

/// The latest finished run of `kind` of the model a token names.
pub fn latest_run(session: &Session, name: &crate::syntax::Token, kind: RunKind) -> Result<i64> {
    use crate::store::query::{Expr, Field, Op, Value};
    let eq = |f: Field, v: &str| Expr::Cmp(f, Op::Eq, Value::Text(v.to_string()));
    let filter = Expr::And(
        Box::new(eq(Field::Column("r.kind"), kind.as_str())),
        Box::new(Expr::And(
            Box::new(eq(Field::Column("r.status"), RunStatus::Finished.as_str())),
            Box::new(eq(Field::Param("model".into()), &name.text)),
        )),
    );
    let runs = session.store().query_runs(Some(&filter), None, true, 1)?;
    runs.first().map(|(r, _)| r.id).ok_or_else(|| Error::InvalidValue {
        token: name.text.clone(),
        what: "MODEL".into(),
        reason: format!("no finished `{kind}` run of a model with this name (give a run id, or run `{kind}` first)"),
        span: name.span,
    })
}

/// A model's name for reports: `--label`, else the frames without their
/// cohort prefix joined by `+` (A.T1 A.dose → T1+dose).
pub fn model_label(args: &Args, frames: &[crate::syntax::Token]) -> String {
    if let Some(t) = args.value("label") {
        return t.text.clone();
    }
    frames.iter().map(|t| t.text.split_once('.').map_or(t.text.as_str(), |(_, r)| r)).collect::<Vec<_>>().join("+")
}

/// `--threshold P|youden` (default 0.5): `Some(P)` for a fixed probability,
/// `None` for Youden's J on the training patients. Checked before any work.
pub fn threshold_rule(args: &Args) -> Result<Option<f64>> {
    let Some(tok) = args.value("threshold") else { return Ok(Some(0.5)) };
    if tok.text == "youden" {
        return Ok(None);
    }
    match tok.text.parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(Some(t)),
        _ => Err(Error::InvalidValue {
            token: tok.text.clone(),
            what: "--threshold".into(),
            reason: "expected a probability in [0, 1] or `youden`".into(),
            span: tok.span,
        }),
    }
}

/// Logs a test set's metrics (AUC with DeLong CI, threshold metrics, Brier,
/// calibration) on `run` and returns them as a table.
pub fn record_test_metrics(
    session: &Session,
    run: i64,
    p: &[f64],
    truth: &[u8],
    threshold: f64,
    title: String,
    note: String,
) -> Result<Table> {
    let m = at_threshold(p, truth, threshold);
    let a = auc(p, truth);
    let ci = delong(p, truth).map(|d| d.ci(0.95));
    let cal = calibration(p, truth);
    let finite = |v: f64| v.is_finite().then_some(v);
    let record = HeldOutMetrics {
        auc: finite(a),
        acc: finite(m.accuracy),
        f1: finite(m.f1),
        sensitivity: finite(m.sensitivity),
        specificity: finite(m.specificity),
        ppv: finite(m.ppv),
        npv: finite(m.npv),
        brier: finite(brier(p, truth)),
        threshold: finite(threshold),
        auc_ci_low: ci.and_then(|c| finite(c.0)),
        auc_ci_high: ci.and_then(|c| finite(c.1)),
        calibration_intercept: cal.as_ref().and_then(|c| finite(c.intercept)),
        calibration_slope: cal.as_ref().and_then(|c| finite(c.slope)),
    };
    session.store().log_metrics(run, None, &record)?;
    // The table is the record: the threshold metrics always (empty when
    // they cannot be computed), the interval and calibration when there.
    let values = record.to_metrics();
    let always = HeldOutMetrics::FIELDS.iter().position(|k| *k == "threshold").map_or(0, |i| i + 1);
    let mut t = Table::new(["metric", "value"]).with_title(title);
    for (i, &k) in HeldOutMetrics::FIELDS.iter().enumerate() {
        let v = values.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if i < always || v.is_some() {
            t.push(vec![k.into(), v.map_or(Cell::Null, Cell::Float)]);
        }
    }
    if let Some((lo, hi)) = ci {
        t.notes.push(format!("AUC {} (95% CI {}–{}, DeLong)", format_sig(a, 3), format_sig(lo, 3), format_sig(hi, 3)));
    }
    t.notes.push(note);
    Ok(t)
}

/// Parses a `--where` value, placing errors under the token.
pub fn filter_expr(tok: &crate::syntax::Token) -> Result<crate::store::query::Expr> {
    crate::store::query::parse(&tok.text).map_err(|e| shift(e, tok))
}

/// Everything recorded for run `id`, as tables.
pub fn detail(session: &Session, id: i64) -> Result<Output> {
    {
        let d = session.store().run_detail(id)?;
        let mut facts = Table::new(["field", "value"]).with_title(format!("run {id}"));
        let mut fact = |k: &str, v: Cell| facts.push(vec![k.into(), v]);
        fact("kind", d.summary.kind.as_str().into());
        fact("status", d.summary.status.as_str().into());
        fact("command", d.summary.command.as_str().into());
        fact("started", d.summary.started_at.as_str().into());
        fact("ended", d.summary.ended_at.clone().into());
        fact("parent", d.summary.parent.into());
        fact("experiment", d.experiment.clone().into());
        fact("seed", d.seed.into());
        fact("program version", d.program_version.as_str().into());
        fact("git commit", d.git_commit.clone().into());
        fact("host", d.host.as_str().into());
        fact("pid", d.pid.into());
        fact("error", d.error.clone().into());
        fact("predictions", d.predictions.into());
        if !d.children.is_empty() {
            let ids: Vec<String> = d.children.iter().map(i64::to_string).collect();
            fact("child runs", ids.join(", ").into());
        }
        let mut outputs = vec![Output::Table(facts)];
        if !d.params.is_empty() {
            let mut t = Table::new(["param", "value"]).with_title("parameters");
            for (k, v) in &d.params {
                t.push(vec![k.as_str().into(), v.display().into()]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.datasets.is_empty() {
            let mut t = Table::new(["dataset", "path", "sha256", "rows"]).with_title("inputs");
            for ds in &d.datasets {
                t.push(vec![
                    ds.name.as_str().into(),
                    ds.path.as_str().into(),
                    ds.sha256.as_str().into(),
                    ds.rows.into(),
                ]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.metrics.is_empty() {
            let mut t = Table::new(["metric", "value", "step", "fold"]).with_title("metrics");
            for m in &d.metrics {
                t.push(vec![m.key.as_str().into(), m.value.into(), m.step.into(), m.fold.into()]);
            }
            outputs.push(Output::Table(t));
        }
        if !d.artifacts.is_empty() {
            let mut t = Table::new(["artifact", "sha256"]).with_title("outputs");
            for (p, h) in &d.artifacts {
                t.push(vec![p.as_str().into(), h.as_str().into()]);
            }
            outputs.push(Output::Table(t));
        }
        Ok(Output::Many(outputs))
    }
}

/// The warning every exploratory fit carries.
pub const EXPLORATORY: &str =
    "EXPLORATORY: fitted on every patient of the frame — estimates from it are optimistic; use a pipeline in `cv`";

/// A filter's error, pointed at its place inside the `--where` token.
pub fn shift(e: crate::error::Error, tok: &crate::syntax::Token) -> crate::error::Error {
    match e {
        crate::error::Error::Syntax { message, span } => {
            let base = tok.span.start + usize::from(tok.quoted);
            crate::error::Error::Syntax { message, span: crate::error::Span::new(base + span.start, base + span.end) }
        }
        other => other,
    }
}

/// The newest finished run of `kind`, if any.
pub fn latest_finished(store: &crate::store::Store, kind: crate::store::RunKind) -> Result<Option<i64>> {
    use crate::store::query::{Expr, Field, Op, Value};
    let filter = Expr::And(
        Box::new(Expr::Cmp(Field::Column("r.kind"), Op::Eq, Value::Text(kind.as_str().into()))),
        Box::new(Expr::Cmp(
            Field::Column("r.status"),
            Op::Eq,
            Value::Text(crate::store::RunStatus::Finished.as_str().into()),
        )),
    );
    Ok(store.query_runs(Some(&filter), None, false, 10_000)?.into_iter().map(|(r, _)| r.id).max())
}

/// A `table1` run named by `text` (a run id, or `latest`): its id and the
/// table it recorded.
pub fn recorded_table1(store: &crate::store::Store, tok: &Token) -> Result<(i64, crate::output::Table)> {
    let id = if tok.text == "latest" {
        latest_finished(store, crate::store::RunKind::Table1)?
            .ok_or_else(|| Error::invalid("no finished table1 run", Some("run `table1 A B` first, or give a run id")))?
    } else {
        crate::signature::parse_token(tok, "a table1 run", "a run id or latest")?
    };
    let d = store.run_detail(id)?;
    let json = d.params.iter().find(|(k, _)| k == "table_json").map(|(_, v)| v.display());
    let table = json.as_deref().and_then(crate::render::table::from_json).ok_or_else(|| {
        Error::invalid(
            format!("run {id} is not a table1 run (no table recorded)"),
            Some("run `table1 A B` and give its run id, or latest"),
        )
    })?;
    Ok((id, table))
}
