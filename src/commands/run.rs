//! `run show ID`: everything recorded for one run.

use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};

pub struct Run;

impl Command for Run {
    fn signature(&self) -> Signature {
        Signature::new("run", "tracker", "Inspect one recorded run: `run show ID`")
            .required("ACTION", ArgKind::Text, "what to do: show")
            .required("ID", ArgKind::Run, "the run id (see `runs`)")
            .table()
            .not_replayable()
            .example("run show 1", "parameters, metrics, datasets and provenance of run 1")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let action = args.required(0)?;
        if action.text != "show" {
            return Err(Error::InvalidValue {
                token: action.text.clone(),
                what: "ACTION".into(),
                reason: "the only action is `show`".into(),
                span: action.span,
            });
        }
        let id: i64 = parse_token(args.required(1)?, "ID", "a run id (a whole number)")?;
        let detail = crate::workflow::lookup::detail(session, id)?;
        // A run trained by workers: its work items and how far they are.
        match crate::workflow::cluster::items_table(session.store(), id)? {
            Some(items) => Ok(Output::Many(vec![detail, Output::Table(items)])),
            None => Ok(detail),
        }
    }
}
