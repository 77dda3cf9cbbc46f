//! What the frame verbs share (`filter`, `mutate`, `join`, `sql`, and
//! `load` reattaching feature frames): the `NEW = FRAME word …` shape of
//! their statements, the expression text as typed, and a derived frame
//! stored with its lineage — recorded as a `derive` run that cites its
//! parents' datasets and the new frame's content hash.

use crate::core::cohort::Roles;
use crate::data::frame::{self, FrameData};
use crate::error::{Error, Result};
use crate::session::{Frame, FrameOrigin, Lineage, Session};
use crate::signature::Args;
use crate::store::RunKind;
use crate::store::records::DeriveParams;
use crate::syntax::Token;

/// The positional word `i`, which must be `word` (`=`, `where`, `with`, `on`).
pub fn expect_word<'a>(args: &'a Args, i: usize, word: &str, usage: &str) -> Result<&'a Token> {
    match args.positional(i) {
        Some(t) if t.text.eq_ignore_ascii_case(word) && !t.quoted => Ok(t),
        Some(t) => Err(Error::InvalidValue {
            token: t.text.clone(),
            what: format!("`{}`", args.command),
            reason: format!("expected `{word}` here: {usage}"),
            span: t.span,
        }),
        None => Err(Error::invalid(format!("`{word}` is missing: {usage}"), Some(usage))),
    }
}

/// The statement's text from positional `i` to its end, exactly as typed
/// (quotes kept): an expression or a query for polars' SQL parser.
pub fn text_from(args: &Args, i: usize, what: &str, usage: &str) -> Result<String> {
    let Some(first) = args.positional(i) else {
        return Err(Error::invalid(format!("{what} is missing: {usage}"), Some(usage)));
    };
    let text = args.statement.text.get(first.span.start..).unwrap_or(&first.text).trim();
    if text.is_empty() {
        return Err(Error::invalid(format!("{what} is missing: {usage}"), Some(usage)));
    }
    Ok(text.to_string())
}

/// Roles of `parent` that still name a column of `df`.
pub fn roles_within(parent: &Roles, df: &FrameData) -> Roles {
    let names = frame::column_names(df);
    let keep = |c: &Option<String>| c.clone().filter(|c| names.contains(c));
    let keep_all = |cs: &[String]| cs.iter().filter(|c| names.contains(c)).cloned().collect();
    Roles {
        id: keep(&parent.id),
        outcome: keep(&parent.outcome),
        categorical: keep_all(&parent.categorical),
        continuous: keep_all(&parent.continuous),
    }
}

/// A frame made by `verb` from `parents`, before it is stored.
pub struct Derived<'a> {
    pub verb: &'a str,
    pub name: &'a str,
    pub parents: Vec<String>,
    pub expression: Option<String>,
    pub df: FrameData,
    pub roles: Roles,
}

/// Records the derivation as a run (its parents' datasets linked, the new
/// frame's content recorded as a dataset) and stores the frame with its
/// lineage. The new frame keeps its first parent's origin (so a simulated
/// cohort stays labelled) with every parent's datasets.
pub fn store(session: &mut Session, args: &Args, d: Derived<'_>) -> Result<i64> {
    let mut origin: Option<FrameOrigin> = None;
    let mut datasets: Vec<i64> = Vec::new();
    for p in &d.parents {
        if let Some(f) = session.frames().get(p) {
            if origin.is_none() {
                origin = f.origin.clone();
            }
            for &id in f.origin.iter().flat_map(|o| &o.dataset_ids) {
                if !datasets.contains(&id) {
                    datasets.push(id);
                }
            }
        }
    }
    let params = DeriveParams::of(d.verb, Some(d.name), &d.parents, d.expression.as_deref());
    let run = session.begin_run(args, RunKind::Derive, &params, None)?;
    for &id in &datasets {
        session.store().link_dataset(run, id)?;
    }
    let sha = frame::content_hash(&d.df);
    let rows = d.df.height() as i64;
    let dataset = session.store().record_dataset(
        run,
        d.name,
        &format!("{} of {}", d.verb, d.parents.join(", ")),
        &sha,
        Some(rows),
    )?;
    datasets.push(dataset);
    let origin = origin.map(|o| FrameOrigin { dataset_ids: datasets, ..o });
    let lineage = Lineage { verb: d.verb.to_string(), parents: d.parents, run };
    session.insert_derived(d.name, Frame { df: d.df, roles: d.roles, origin }, lineage);
    Ok(run)
}

/// "B — 31 rows × 9 columns (filter of A, run 4)".
pub fn summary(session: &Session, name: &str) -> String {
    let Some(f) = session.frames().get(name) else { return name.to_string() };
    let from = session
        .lineage(name)
        .map(|l| format!(" ({} of {}, run {})", l.verb, l.parents.join(" and "), l.run))
        .unwrap_or_default();
    let simulated = if f.origin.as_ref().is_some_and(FrameOrigin::simulated) { "; SIMULATED cohort" } else { "" };
    format!("{name} — {} rows × {} columns{from}{simulated}", f.df.height(), f.df.width())
}
