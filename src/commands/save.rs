//! `save FILE`: this session's successful commands as a script that
//! `radose run FILE` replays.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::provenance::{VERSION, io_error, now_iso};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Save;

impl Command for Save {
    fn signature(&self) -> Signature {
        Signature::new("save", "session", "Write this session's successful commands as a replayable script")
            .required("FILE", ArgKind::Path, "the script to write (e.g. experiments/today.radose)")
            .switch("force", "overwrite FILE if it exists")
            .not_replayable()
            .example("save experiments/today.radose", "replay later with `radose run experiments/today.radose`")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let tok = args.required(0)?;
        let path = PathBuf::from(&tok.text);
        if path.exists() && !args.has("force") {
            return Err(Error::invalid(
                format!("{} exists already", path.display()),
                Some("add --force to overwrite it, or choose another name"),
            ));
        }
        let lines: Vec<&str> =
            session.history().iter().filter(|h| h.ok && h.replayable).map(|h| h.text.as_str()).collect();
        let mut text =
            format!("# radose {VERSION} session saved {}\n# replay: radose run {}\n", now_iso(), path.display());
        for line in &lines {
            text.push_str(line);
            text.push('\n');
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        crate::provenance::write_atomic(&path, text.as_bytes())?;
        Ok(Output::Message(format!("saved {} command(s) to {}", lines.len(), path.display())))
    }
}
