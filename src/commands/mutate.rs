//! `mutate FRAME NAME = EXPRESSION`: a column computed from the others
//! (added, or replacing one of that name); the frame keeps its name and
//! notes the step in its lineage.

use crate::data::frame;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::derive::{self, Derived};

pub struct Mutate;

const USAGE: &str = "mutate FRAME NAME = EXPRESSION";

impl Command for Mutate {
    fn signature(&self) -> Signature {
        Signature::new("mutate", "data", "Add (or replace) a column computed from a frame's other columns")
            .required("FRAME", ArgKind::Frame, "the frame")
            .required("NAME", ArgKind::Text, "the column to add or replace")
            .required("=", ArgKind::Text, "`=`")
            .rest(
                "EXPRESSION",
                ArgKind::Expression,
                "a SQL expression over the columns: arithmetic, log, ln, sqrt, abs, round, case when …",
            )
            .example("mutate A log_tumor = ln(tumor_ml)", "the natural log of the tumour volume")
            .example("mutate A old = case when age > 50 then 1 else 0 end", "an indicator column")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let source = args.required(0)?;
        let column = args.required(1)?;
        derive::expect_word(args, 2, "=", USAGE)?;
        let expression = derive::text_from(args, 3, "the expression", USAGE)?;
        let parent = session.frame(source)?;
        if parent.roles.id.as_deref() == Some(column.text.as_str())
            || parent.roles.outcome.as_deref() == Some(column.text.as_str())
        {
            return Err(Error::InvalidValue {
                token: column.text.clone(),
                what: "the new column".into(),
                reason: "it is the frame's id or outcome column, which mutate does not replace".into(),
                span: column.span,
            });
        }
        let replaced = frame::column_names(&parent.df).contains(&column.text);
        let df = frame::mutate(&parent.df, &column.text, &expression)?;
        let mut roles = parent.roles.clone();
        let numeric = frame::column(&df, &column.text).is_some_and(|c| c.values.as_f64().is_some());
        if !replaced && numeric && !roles.continuous.contains(&column.text) {
            roles.continuous.push(column.text.clone());
        }
        let d = Derived {
            verb: "mutate",
            name: &source.text,
            parents: vec![source.text.clone()],
            expression: Some(format!("{} = {expression}", column.text)),
            df,
            roles,
        };
        let run = derive::store(session, args, d)?;
        let verb = if replaced { "replaced" } else { "added" };
        Ok(Output::Many(vec![
            Output::Message(format!("{verb} column {}: {}", column.text, derive::summary(session, &source.text))),
            Output::Note(format!("  recorded as run {run}")),
        ]))
    }
}
