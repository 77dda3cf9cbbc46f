//! `help [COMMAND]`: generated from the command signatures.

use crate::error::{Error, Result, suggest};
use crate::output::Output;
use crate::session::{Command, Registry, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Help;

impl Command for Help {
    fn signature(&self) -> Signature {
        Signature::new("help", "session", "List the commands, or explain one")
            .optional("COMMAND", ArgKind::Command, "the command to explain")
            .not_replayable()
            .example("help", "every command, by category")
            .example("help load", "how to use `load`")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let registry = session.registry();
        match args.positional(0) {
            None => Ok(Output::Message(overview(registry))),
            Some(tok) => match registry.find(&tok.text) {
                Some(cmd) => Ok(Output::Message(cmd.signature().help())),
                None => Err(Error::UnknownCommand {
                    name: tok.text.clone(),
                    span: tok.span,
                    suggestion: suggest(&tok.text, registry.names()),
                }),
            },
        }
    }
}

/// The list of every command, grouped by category.
pub fn overview(registry: &Registry) -> String {
    let sigs: Vec<Signature> = registry.all().iter().map(|c| c.signature()).collect();
    let width = sigs.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut categories: Vec<&str> = Vec::new();
    for s in &sigs {
        if !categories.contains(&s.category) {
            categories.push(s.category);
        }
    }
    let mut out = String::from("radose commands (`help COMMAND` for details):\n");
    for cat in categories {
        out.push_str(&format!("\n{cat}:\n"));
        for s in sigs.iter().filter(|s| s.category == cat) {
            out.push_str(&format!("  {:width$}  {}\n", s.name, s.description));
        }
    }
    out.push_str(
        "\nSyntax: `;` separates commands, `#` starts a comment, a trailing `\\` continues the line,\n\
         \"quotes\" keep spaces. `exit`, `quit` or Ctrl-D leaves; Ctrl-C cancels the running command.\n",
    );
    out
}
