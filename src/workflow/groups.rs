//! Resolving the groups a comparison is about: several frames (`A B`), or
//! one frame split by the levels of a column (`A --by sex`).

use std::collections::BTreeMap;

use crate::core::cohort::{Roles, TypedColumn, Values};
use crate::core::table1::Group;
use crate::data::frame;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::signature::Args;
use crate::syntax::Token;

/// The groups to compare, with what they came from.
pub struct Grouping {
    pub groups: Vec<Group>,
    /// The roles of the (first) frame, for defaults.
    pub roles: Roles,
    /// The datasets behind the frames, for the run record.
    pub dataset_ids: Vec<i64>,
    pub simulated: bool,
    /// The `--by` column, if the groups are its levels.
    pub by: Option<String>,
    /// Rows left out because the `--by` column was missing.
    pub excluded: usize,
}

/// Groups from the frames named in `frames` and the optional `--by` flag.
pub fn resolve(session: &Session, args: &Args, frames: &[Token]) -> Result<Grouping> {
    let by = args.value("by");
    match (frames.len(), by) {
        (0, _) => Err(Error::invalid("name the frames to compare", Some("e.g. `A B`, or `A --by sex`"))),
        (1, None) => Err(Error::invalid(
            format!("one frame (`{}`) needs --by COL to split it into groups", frames[0].text),
            Some("or name two or more frames, e.g. `A B`"),
        )),
        (1, Some(col)) => split_by(session, &frames[0], col),
        (_, Some(col)) => Err(Error::InvalidValue {
            token: col.text.clone(),
            what: "--by".into(),
            reason: "--by splits one frame; with several frames each frame is a group".into(),
            span: col.span,
        }),
        (_, None) => {
            let mut grouping = Grouping {
                groups: Vec::new(),
                roles: Roles::default(),
                dataset_ids: Vec::new(),
                simulated: false,
                by: None,
                excluded: 0,
            };
            for (i, tok) in frames.iter().enumerate() {
                let f = session.frame(tok)?;
                if i == 0 {
                    grouping.roles = f.roles.clone();
                }
                if let Some(o) = &f.origin {
                    grouping.dataset_ids.extend(&o.dataset_ids);
                    grouping.simulated |= o.simulated();
                }
                grouping.groups.push(Group { name: tok.text.clone(), columns: frame::columns(&f.df) });
            }
            Ok(grouping)
        }
    }
}

fn split_by(session: &Session, frame_tok: &Token, col: &Token) -> Result<Grouping> {
    let f = session.frame(frame_tok)?;
    let columns = frame::columns(&f.df);
    let Some(by) = columns.iter().find(|c| c.name == col.text) else {
        return Err(unknown_column(&frame_tok.text, col, &columns));
    };
    let keys = by.values.as_text();
    let mut index: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (r, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            index.entry(k.clone()).or_default().push(r);
        }
    }
    let excluded = keys.iter().filter(|k| k.is_none()).count();
    let groups = index
        .iter()
        .map(|(level, rows)| Group {
            name: format!("{}={level}", col.text),
            columns: columns.iter().filter(|c| c.name != col.text).map(|c| take_rows(c, rows)).collect(),
        })
        .collect();
    Ok(Grouping {
        groups,
        roles: f.roles.clone(),
        dataset_ids: f.origin.as_ref().map(|o| o.dataset_ids.clone()).unwrap_or_default(),
        simulated: f.origin.as_ref().is_some_and(|o| o.simulated()),
        by: Some(col.text.clone()),
        excluded,
    })
}

fn take_rows(col: &TypedColumn, rows: &[usize]) -> TypedColumn {
    fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
        rows.iter().map(|&r| v[r].clone()).collect()
    }
    let values = match &col.values {
        Values::Int(v) => Values::Int(pick(v, rows)),
        Values::Float(v) => Values::Float(pick(v, rows)),
        Values::Bool(v) => Values::Bool(pick(v, rows)),
        Values::Text(v) => Values::Text(pick(v, rows)),
    };
    TypedColumn { name: col.name.clone(), values }
}

/// The error for a column a frame lacks, pointing at the token.
pub fn unknown_column(frame: &str, tok: &Token, columns: &[TypedColumn]) -> Error {
    Error::UnknownFrameColumn {
        frame: frame.to_string(),
        column: tok.text.clone(),
        span: tok.span,
        available: columns.iter().map(|c| c.name.clone()).collect(),
    }
}

/// Checks that every group has each column named in the comma-separated
/// token, returning the names.
pub fn column_list(grouping: &Grouping, tok: &Token) -> Result<Vec<String>> {
    let names: Vec<String> = tok.text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    for name in &names {
        check_column(grouping, name, tok)?;
    }
    Ok(names)
}

/// Checks that every group has column `name`.
pub fn check_column(grouping: &Grouping, name: &str, tok: &Token) -> Result<()> {
    for g in &grouping.groups {
        if !g.columns.iter().any(|c| c.name == name) {
            let mut at = tok.clone();
            if let Some(off) = tok.text.find(name).filter(|_| !tok.quoted) {
                at.span.start = tok.span.start + off;
                at.span.end = at.span.start + name.len();
            }
            at.text = name.to_string();
            return Err(unknown_column(&g.name, &at, &g.columns));
        }
    }
    Ok(())
}
