//! `sleep SECONDS`: wait, as a recorded run that Ctrl-C cancels. Useful in
//! scripts and to check cancellation and crash recovery.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature, parse_token};
use crate::store::RunKind;
use crate::store::records::SleepParams;

pub struct Sleep;

impl Command for Sleep {
    fn signature(&self) -> Signature {
        Signature::new("sleep", "session", "Wait SECONDS (a recorded run; Ctrl-C cancels it)")
            .required("SECONDS", ArgKind::Float, "how long to wait")
            .example("sleep 0.1", "wait a tenth of a second")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let tok = args.required(0)?;
        let seconds: f64 = parse_token(tok, "SECONDS", "a number of seconds")?;
        if !(0.0..=86_400.0).contains(&seconds) {
            return Err(Error::InvalidValue {
                token: tok.text.clone(),
                what: "SECONDS".into(),
                reason: "must be between 0 and 86400".into(),
                span: tok.span,
            });
        }
        session.begin_run(args, RunKind::Sleep, &SleepParams { seconds }, None)?;
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < until {
            session.check_cancel()?;
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
        Ok(Output::Nothing)
    }
}
