//! `drop NAME`: forget a frame (files and recorded runs are untouched).

use crate::error::Result;
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Drop;

impl Command for Drop {
    fn signature(&self) -> Signature {
        Signature::new("drop", "data", "Remove a frame from the session (its files and runs are kept)")
            .required("NAME", ArgKind::Frame, "the frame")
            .example("drop A", "forget frame A")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let name = args.required(0)?;
        session.remove_frame(name)?;
        Ok(Output::Message(format!("dropped {}", name.text)))
    }
}
