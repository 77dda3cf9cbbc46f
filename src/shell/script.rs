//! Running text of commands — a script file or `-c` — through the same
//! session code path as the interactive shell.

use std::io::Write;
use std::path::Path;

use crate::error::Error;
use crate::render::output_text;
use crate::session::Session;
use crate::syntax::{SHELL_WORDS, parse};

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Every command succeeded (or `exit` was reached).
    Ok,
    /// At least one command failed.
    Failed,
    /// Ctrl-C cancelled a command.
    Cancelled,
}

impl ScriptOutcome {
    /// The process exit code: 0, 1, or 130 (as after SIGINT).
    pub fn exit_code(self) -> i32 {
        match self {
            ScriptOutcome::Ok => 0,
            ScriptOutcome::Failed => 1,
            ScriptOutcome::Cancelled => 130,
        }
    }
}

/// Runs `text`. `origin` names it in error locations (a file path or `-c`).
/// Stops at the first error unless `keep_going`; a cancelled command always stops.
pub fn run_text(
    session: &mut Session,
    text: &str,
    origin: &str,
    keep_going: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ScriptOutcome {
    let statements = match parse(text, 1) {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(err, "{origin}: {}", e.render(None));
            return ScriptOutcome::Failed;
        }
    };
    let mut outcome = ScriptOutcome::Ok;
    for st in &statements {
        if SHELL_WORDS.contains(&st.tokens[0].text.as_str()) {
            break;
        }
        match session.execute(st) {
            Ok(output) => {
                let _ = write!(out, "{}", output_text(&output, session.width));
                let _ = out.flush();
            }
            Err(e) => {
                let _ = write!(err, "{origin}:{}: {}", st.line, e.render(Some(&st.text)));
                if matches!(e, Error::Cancelled) {
                    return ScriptOutcome::Cancelled;
                }
                outcome = ScriptOutcome::Failed;
                if !keep_going {
                    break;
                }
            }
        }
    }
    outcome
}

/// Runs a script file.
pub fn run_file(
    session: &mut Session,
    path: &Path,
    keep_going: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ScriptOutcome {
    run_file_with(session, path, keep_going, None, &[], out, err)
}

/// Runs a script file with a profile and `NAME=VALUE` overrides of its
/// variables (see [`crate::shell::vars`]).
pub fn run_file_with(
    session: &mut Session,
    path: &Path,
    keep_going: bool,
    profile: Option<&str>,
    sets: &[(String, String)],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ScriptOutcome {
    let origin = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let _ = write!(err, "{}", crate::provenance::io_error(path, e).render(None));
            return ScriptOutcome::Failed;
        }
    };
    let dir = match path.parent().map(|d| d.display().to_string()) {
        Some(d) if !d.is_empty() => d,
        _ => ".".to_string(),
    };
    match crate::shell::vars::expand(&text, &origin, Some(&dir), profile, sets) {
        Ok((expanded, resolved)) => {
            if let Some(p) = &resolved.profile {
                let _ = writeln!(out, "# {origin}: profile {p}: {}", resolved.describe());
            }
            run_text(session, &expanded, &origin, keep_going, out, err)
        }
        Err(e) => {
            let _ = write!(err, "{}", e.render(None));
            ScriptOutcome::Failed
        }
    }
}
