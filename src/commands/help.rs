//! `help [COMMAND]`: generated from the command signatures.

use super::{ArgKind, Args, Command, Signature, all, find};
use crate::error::{Error, Result, suggest};
use crate::output::Output;
use crate::session::Session;

pub struct Help;

impl Command for Help {
    fn signature(&self) -> Signature {
        Signature::new("help", "session", "List the commands, or explain one")
            .optional("COMMAND", ArgKind::Command, "the command to explain")
            .not_replayable()
            .example("help", "every command, by category")
            .example("help load", "how to use `load`")
    }

    fn run(&self, args: &Args, _session: &mut Session) -> Result<Output> {
        match args.positional(0) {
            None => Ok(Output::Message(overview())),
            Some(tok) => match find(&tok.text) {
                Some(cmd) => Ok(Output::Message(command_help(&cmd.signature()))),
                None => Err(Error::UnknownCommand {
                    name: tok.text.clone(),
                    span: tok.span,
                    suggestion: suggest(&tok.text, all().iter().map(|c| c.signature().name)),
                }),
            },
        }
    }
}

/// The list of every command, grouped by category.
pub fn overview() -> String {
    let sigs: Vec<Signature> = all().iter().map(|c| c.signature()).collect();
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

/// The full help of one command.
pub fn command_help(sig: &Signature) -> String {
    let mut out = format!("{} — {}\n\nUsage: {}\n", sig.name, sig.description, sig.usage());
    let pos_width = sig.positionals.iter().map(|p| p.name.len()).max().unwrap_or(0);
    if !sig.positionals.is_empty() {
        out.push_str("\nArguments:\n");
        for p in &sig.positionals {
            let opt = if p.required { "" } else { " (optional)" };
            out.push_str(&format!("  {:pos_width$}  {}{opt}\n", p.name, p.help));
        }
    }
    if !sig.flags.is_empty() {
        out.push_str("\nFlags:\n");
        let labels: Vec<String> = sig
            .flags
            .iter()
            .map(|f| match f.value {
                Some((meta, _)) => format!("--{} {meta}", f.name),
                None => format!("--{}", f.name),
            })
            .collect();
        let w = labels.iter().map(String::len).max().unwrap_or(0);
        for (label, f) in labels.iter().zip(&sig.flags) {
            out.push_str(&format!("  {label:w$}  {}\n", f.help));
        }
    }
    if !sig.examples.is_empty() {
        out.push_str("\nExamples:\n");
        for e in &sig.examples {
            out.push_str(&format!("  {}\n      {}\n", e.command, e.description));
        }
    }
    out
}
