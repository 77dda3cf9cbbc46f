//! `help [COMMAND]`: generated from the command signatures.

use crate::error::{Error, Result, suggest};
use crate::output::Output;
use crate::session::{Command, Registry, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct Help;

impl Command for Help {
    fn signature(&self) -> Signature {
        Signature::new("help", "session", "List the commands, or explain one")
            .rest(
                "COMMAND",
                ArgKind::Command,
                "the command to explain (two words for a family's member: `audit leakage`)",
            )
            .not_replayable()
            .example("help", "every command, by category")
            .example("help load", "how to use `load`")
            .example("help audit", "the `audit` family: `audit leakage` and `audit published`")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let registry = session.registry();
        let Some(tok) = args.positional(0) else {
            return Ok(Output::Message(overview(registry)));
        };
        let name = args.positionals.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ");
        if let Some(cmd) = registry.find(&name) {
            return Ok(Output::Message(cmd.signature().help()));
        }
        let members = registry.family(&tok.text);
        if args.positionals.len() == 1 && !members.is_empty() {
            return Ok(Output::Message(family_help(&tok.text, &members)));
        }
        Err(Error::UnknownCommand { name: name.clone(), span: tok.span, suggestion: suggest(&name, registry.names()) })
    }
}

/// A family's members with their descriptions.
fn family_help(word: &str, members: &[&'static dyn Command]) -> String {
    let sigs: Vec<Signature> = members.iter().map(|c| c.signature()).collect();
    let width = sigs.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = format!("{word} — one of:\n\n");
    for s in &sigs {
        out.push_str(&format!("  {:width$}  {}\n", s.name, s.description));
    }
    out.push_str(&format!("\n`help {word} SUBCOMMAND` explains one.\n"));
    out
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
