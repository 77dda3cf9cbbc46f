//! `filter NEW = FRAME where CONDITION`: the rows of a frame for which a
//! condition holds, as a new frame with its lineage.

use crate::data::frame;
use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::workflow::derive::{self, Derived};
use crate::workflow::lookup::check_frame_name;

pub struct Filter;

const USAGE: &str = "filter NEW = FRAME where CONDITION";

impl Command for Filter {
    fn signature(&self) -> Signature {
        Signature::new("filter", "data", "Keep the rows of a frame where a condition holds, as a new frame")
            .required("NEW", ArgKind::NewName, "the new frame's name")
            .required("=", ArgKind::Text, "`=`")
            .required("FRAME", ArgKind::Frame, "the frame to filter")
            .required("where", ArgKind::Text, "`where`")
            .rest(
                "CONDITION",
                ArgKind::Expression,
                "a SQL condition over the frame's columns (and, or, not, in, between, is null, \
                 comparisons, functions); text is quoted 'like this', or bare inside in (…)",
            )
            .example("filter old = A where age > 50 and stage in (III, IV)", "patients over 50 with stage III or IV")
            .example("filter nn1 = A where nn = 1", "the patients with necrosis")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let new = args.required(0)?;
        check_frame_name(new)?;
        derive::expect_word(args, 1, "=", USAGE)?;
        let source = args.required(2)?;
        derive::expect_word(args, 3, "where", USAGE)?;
        let condition = derive::text_from(args, 4, "the condition", USAGE)?;
        let parent = session.frame(source)?;
        let df = frame::filter(&parent.df, &condition)?;
        let roles = derive::roles_within(&parent.roles, &df);
        let before = parent.df.height();
        let after = df.height();
        let d = Derived {
            verb: "filter",
            name: &new.text,
            parents: vec![source.text.clone()],
            expression: Some(condition),
            df,
            roles,
        };
        let run = derive::store(session, args, d)?;
        Ok(Output::Many(vec![
            Output::Message(format!("{} ({after} of {before} rows kept)", derive::summary(session, &new.text))),
            Output::Note(format!("  recorded as run {run}")),
        ]))
    }
}
