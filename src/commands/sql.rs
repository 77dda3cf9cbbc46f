//! `sql NEW = SELECT …`: a query over the session's frames through polars'
//! SQL context, for what the verbs do not cover; the result is a new frame
//! whose lineage names the frames the query read.

use crate::data::frame;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::derive::{self, Derived};
use crate::workflow::lookup::check_frame_name;

pub struct Sql;

const USAGE: &str = "sql NEW = SELECT …";

impl Command for Sql {
    fn signature(&self) -> Signature {
        Signature::new("sql", "data", "A SQL query over the session's frames, as a new frame")
            .required("NEW", ArgKind::NewName, "the new frame's name")
            .required("=", ArgKind::Text, "`=`")
            .rest(
                "QUERY",
                ArgKind::Expression,
                "one SELECT; frames are tables (a name with a dot is quoted: \"A.T1\"); \
                 the result's roles follow its first frame's where the columns kept their names",
            )
            .example(
                "sql by_stage = SELECT stage, count(*) AS n, avg(nn) AS nn_rate FROM A GROUP BY stage ORDER BY stage",
                "necrosis rate by stage",
            )
            .example(
                "sql older = SELECT a.patient_id, a.nn, a.age, b.tumor_ml FROM A a JOIN A b ON a.patient_id = b.patient_id WHERE a.age > 50",
                "a self-join with a condition",
            )
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let new = args.required(0)?;
        check_frame_name(new)?;
        derive::expect_word(args, 1, "=", USAGE)?;
        let query = derive::text_from(args, 2, "the query", USAGE)?;
        frame::check_query(&query)?;
        let names: Vec<String> = session.frames().keys().cloned().collect();
        let parents = frame::frames_named_in(&query, &names);
        if parents.is_empty() {
            return Err(Error::invalid(
                format!("the query names none of this session's frames ({})", names.join(", ")),
                Some("a frame whose name has a dot is written in double quotes: FROM \"A.T1\""),
            ));
        }
        let tables: Vec<(String, frame::FrameData)> =
            parents.iter().filter_map(|p| session.frames().get(p).map(|f| (p.clone(), f.df.clone()))).collect();
        let df = frame::sql(&tables, &query).map_err(|e| match e {
            Error::Invalid { message, hint: None } if parents.iter().any(|p| p.contains('.')) => Error::Invalid {
                message,
                hint: Some("a frame whose name has a dot is written in double quotes: FROM \"A.T1\"".into()),
            },
            e => e,
        })?;
        let first = session.frames().get(&parents[0]).map(|f| f.roles.clone()).unwrap_or_default();
        let roles = derive::roles_within(&first, &df);
        let d = Derived { verb: "sql", name: &new.text, parents, expression: Some(query), df, roles };
        let run = derive::store(session, args, d)?;
        Ok(Output::Many(vec![
            Output::Message(derive::summary(session, &new.text)),
            Output::Note(format!("  recorded as run {run}")),
        ]))
    }
}
