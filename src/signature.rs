//! What a command declares — its positional arguments, flags, help and
//! examples — and a statement's arguments checked against it. This sits
//! below the session: `help`, completion and argument checking are generated
//! from signatures, and nothing here knows what commands exist.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{Error, Result, Span, suggest};
use crate::syntax::{Statement, Token};

/// The default number of cross-validation folds (`--folds`).
pub const DEFAULT_FOLDS: usize = 5;
/// The default number of cross-validation repeats (`--repeats`).
pub const DEFAULT_REPEATS: usize = 1;
/// The default seed of every seeded command (`--seed`).
pub const DEFAULT_SEED: u64 = 7;

/// What an argument or flag value is, for checking and completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A frame already in the session.
    Frame,
    /// A name for a new frame.
    NewName,
    /// A file or folder path.
    Path,
    /// A column of the frame named earlier in the command.
    Column,
    /// Comma-separated columns of that frame.
    Columns,
    /// An expression or query over that frame's columns (or, with no frame
    /// named, over every frame): the rest of the statement.
    Expression,
    /// A command name.
    Command,
    Int,
    Float,
    Text,
    /// A run id.
    Run,
}

/// A positional argument.
#[derive(Debug, Clone)]
pub struct Positional {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub help: &'static str,
    /// Takes every remaining positional word (only the last one may).
    pub variadic: bool,
}

/// A `--flag`, with or without a value.
#[derive(Debug, Clone)]
pub struct Flag {
    pub name: &'static str,
    /// The value's metavariable and kind, or `None` for a switch.
    pub value: Option<(&'static str, ArgKind)>,
    pub help: Cow<'static, str>,
}

/// An example shown by `help` and run by the test suite.
#[derive(Debug, Clone)]
pub struct Example {
    pub command: &'static str,
    pub description: &'static str,
}

/// A command's declared interface.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub positionals: Vec<Positional>,
    pub flags: Vec<Flag>,
    pub examples: Vec<Example>,
    /// The command returns a table, so it takes `--out FILE`.
    pub table_output: bool,
    /// Whether `save` writes it into a replayable script.
    pub replayable: bool,
}

/// The flag every table-producing command accepts.
pub const OUT_FLAG: Flag = Flag {
    name: "out",
    value: Some(("FILE", ArgKind::Path)),
    help: Cow::Borrowed("also write the table to FILE (.csv .parquet .md .tex .html .json)"),
};

impl Signature {
    pub fn new(name: &'static str, category: &'static str, description: &'static str) -> Self {
        Signature {
            name,
            category,
            description,
            positionals: Vec::new(),
            flags: Vec::new(),
            examples: Vec::new(),
            table_output: false,
            replayable: true,
        }
    }

    pub fn required(mut self, name: &'static str, kind: ArgKind, help: &'static str) -> Self {
        self.positionals.push(Positional { name, kind, required: true, help, variadic: false });
        self
    }

    pub fn optional(mut self, name: &'static str, kind: ArgKind, help: &'static str) -> Self {
        self.positionals.push(Positional { name, kind, required: false, help, variadic: false });
        self
    }

    /// Any number (zero or more) of further positional words.
    pub fn rest(mut self, name: &'static str, kind: ArgKind, help: &'static str) -> Self {
        self.positionals.push(Positional { name, kind, required: false, help, variadic: true });
        self
    }

    pub fn switch(mut self, name: &'static str, help: &'static str) -> Self {
        self.flags.push(Flag { name, value: None, help: Cow::Borrowed(help) });
        self
    }

    pub fn named(mut self, name: &'static str, metavar: &'static str, kind: ArgKind, help: &'static str) -> Self {
        self.flags.push(Flag { name, value: Some((metavar, kind)), help: Cow::Borrowed(help) });
        self
    }

    /// A valued flag whose help is built (it names a default constant).
    pub fn named_with(mut self, name: &'static str, metavar: &'static str, kind: ArgKind, help: String) -> Self {
        self.flags.push(Flag { name, value: Some((metavar, kind)), help: Cow::Owned(help) });
        self
    }

    /// A valued flag whose help ends with its default, taken from the
    /// constant the command's code reads.
    pub fn defaulted(
        self,
        name: &'static str,
        metavar: &'static str,
        kind: ArgKind,
        help: &str,
        default: impl std::fmt::Display,
    ) -> Self {
        self.named_with(name, metavar, kind, format!("{help} (default {default})"))
    }

    /// `--folds K` of the cross-validating commands.
    pub fn folds_flag(self) -> Self {
        self.named_with("folds", "K", ArgKind::Int, format!("number of folds (default {DEFAULT_FOLDS})"))
    }

    /// `--repeats R`: repeated cross-validation.
    pub fn repeats_flag(self) -> Self {
        self.named_with(
            "repeats",
            "R",
            ArgKind::Int,
            format!("repeat with R different shuffles (default {DEFAULT_REPEATS})"),
        )
    }

    /// `--seed N`; `what` says what the seed drives.
    pub fn seed_flag(self, what: &str) -> Self {
        self.named_with("seed", "N", ArgKind::Int, format!("seed for {what} (default {DEFAULT_SEED})"))
    }

    /// `--label NAME`, the model's name in reports; `default` says what it is without one.
    pub fn label_flag(self, default: &str) -> Self {
        self.named_with("label", "NAME", ArgKind::Text, format!("the model's name in reports (default: {default})"))
    }

    /// `--experiment NAME`.
    pub fn experiment_flag(self) -> Self {
        self.named(
            "experiment",
            "NAME",
            ArgKind::Text,
            "file the run under an experiment (for `report NAME --experiment NAME`)",
        )
    }

    pub fn example(mut self, command: &'static str, description: &'static str) -> Self {
        self.examples.push(Example { command, description });
        self
    }

    /// Marks the command as returning a table (adds `--out FILE`).
    pub fn table(mut self) -> Self {
        self.table_output = true;
        self.flags.push(OUT_FLAG);
        self
    }

    /// Leaves the command out of `save`d scripts (it only looks at the session).
    pub fn not_replayable(mut self) -> Self {
        self.replayable = false;
        self
    }

    /// How many words the name takes (`audit leakage`: 2).
    pub fn name_words(&self) -> usize {
        self.name.split(' ').count()
    }

    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// The usage line, e.g. `show NAME [--head N]`.
    pub fn usage(&self) -> String {
        let mut parts = vec![self.name.to_string()];
        for p in &self.positionals {
            parts.push(match (p.required, p.variadic) {
                (_, true) => format!("[{}…]", p.name),
                (true, false) => p.name.to_string(),
                (false, false) => format!("[{}]", p.name),
            });
        }
        for f in &self.flags {
            parts.push(match f.value {
                Some((meta, _)) => format!("[--{} {meta}]", f.name),
                None => format!("[--{}]", f.name),
            });
        }
        parts.join(" ")
    }
}

impl Signature {
    /// The full help of the command, as `help NAME` prints it.
    pub fn help(&self) -> String {
        let sig = self;
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
}

/// A statement's arguments, checked against the command's signature.
#[derive(Debug, Clone)]
pub struct Args {
    pub command: String,
    pub statement: Statement,
    pub positionals: Vec<Token>,
    /// Flag name → (flag token, value token if the flag takes one).
    pub flags: BTreeMap<String, (Token, Option<Token>)>,
}

impl Args {
    /// Checks `statement` against `sig`: known flags, values present,
    /// positional count within bounds.
    pub fn parse(sig: &Signature, statement: &Statement) -> Result<Args> {
        let mut positionals = Vec::new();
        let mut flags = BTreeMap::new();
        // The command's name is one word, or two for a family's member.
        let mut tokens = statement.tokens.iter().skip(sig.name_words());
        while let Some(tok) = tokens.next() {
            let Some(name) = tok.text.strip_prefix("--").filter(|_| !tok.quoted && tok.text.len() > 2) else {
                positionals.push(tok.clone());
                continue;
            };
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (name, None),
            };
            let Some(flag) = sig.flag(name) else {
                return Err(Error::UnknownFlag {
                    command: sig.name.to_string(),
                    flag: format!("--{name}"),
                    span: tok.span,
                    suggestion: suggest(name, sig.flags.iter().map(|f| f.name)).map(|s| format!("--{s}")),
                });
            };
            let value = match (flag.value, inline) {
                (None, None) => None,
                (None, Some(_)) => {
                    return Err(Error::InvalidValue {
                        token: tok.text.clone(),
                        what: format!("--{name}"),
                        reason: "this flag takes no value".into(),
                        span: tok.span,
                    });
                }
                (Some(_), Some(v)) => Some(Token {
                    text: v.to_string(),
                    span: Span::new(tok.span.start + name.len() + 3, tok.span.end),
                    quoted: true,
                }),
                (Some((meta, _)), None) => match tokens.next() {
                    Some(v) => Some(v.clone()),
                    None => {
                        return Err(Error::MissingFlagValue {
                            flag: format!("--{name}"),
                            value: meta.to_string(),
                            span: tok.span,
                        });
                    }
                },
            };
            flags.insert(name.to_string(), (tok.clone(), value));
        }
        let max = if sig.positionals.last().is_some_and(|p| p.variadic) { usize::MAX } else { sig.positionals.len() };
        if positionals.len() > max {
            let extra = &positionals[max];
            return Err(Error::ExtraArgument {
                command: sig.name.to_string(),
                token: extra.text.clone(),
                max,
                span: extra.span,
            });
        }
        if let Some(missing) = sig.positionals.iter().skip(positionals.len()).find(|p| p.required) {
            let end = statement.text.len();
            return Err(Error::MissingArgument {
                command: sig.name.to_string(),
                arg: missing.name.to_string(),
                span: Span::new(end, end + 1),
            });
        }
        Ok(Args { command: sig.name.to_string(), statement: statement.clone(), positionals, flags })
    }

    /// The i-th positional argument, if given.
    pub fn positional(&self, i: usize) -> Option<&Token> {
        self.positionals.get(i)
    }

    /// The i-th positional argument, which the signature makes required.
    pub fn required(&self, i: usize) -> Result<&Token> {
        self.positionals.get(i).ok_or_else(|| Error::MissingArgument {
            command: self.command.clone(),
            arg: format!("#{}", i + 1),
            span: Span::new(self.statement.text.len(), self.statement.text.len() + 1),
        })
    }

    /// Whether a flag (switch or valued) was given.
    pub fn has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// `--folds` (at least 2 is checked where the folds are made).
    pub fn folds(&self) -> Result<usize> {
        Ok(self.parsed("folds", "a number of folds")?.unwrap_or(DEFAULT_FOLDS))
    }

    /// `--repeats`, at least one.
    pub fn repeats(&self) -> Result<usize> {
        Ok(self.parsed("repeats", "a number of repeats")?.unwrap_or(DEFAULT_REPEATS).max(1))
    }

    /// `--seed`.
    pub fn seed(&self) -> Result<u64> {
        Ok(self.parsed("seed", "a non-negative whole number")?.unwrap_or(DEFAULT_SEED))
    }

    /// `--experiment`, the experiment to file runs under.
    pub fn experiment(&self) -> Option<String> {
        self.value("experiment").map(|t| t.text.clone())
    }

    /// The value token of a valued flag.
    pub fn value(&self, name: &str) -> Option<&Token> {
        self.flags.get(name).and_then(|(_, v)| v.as_ref())
    }

    /// A valued flag parsed as `T`, with an error pointing at the value.
    pub fn parsed<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>> {
        self.value(name).map(|tok| parse_token(tok, &format!("--{name}"), what)).transpose()
    }
}

/// Parses a token as `T`; `what` describes the expected value in the error.
pub fn parse_token<T: FromStr>(tok: &Token, name: &str, what: &str) -> Result<T> {
    tok.text.parse::<T>().map_err(|_| Error::InvalidValue {
        token: tok.text.clone(),
        what: name.to_string(),
        reason: format!("expected {what}"),
        span: tok.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn st(s: &str) -> Statement {
        parse(s, 1).unwrap().remove(0)
    }

    #[test]
    fn args_checks_flags_and_counts() {
        let sig = Signature::new("show", "frames", "Show a frame").required("NAME", ArgKind::Frame, "the frame").named(
            "head",
            "N",
            ArgKind::Int,
            "rows",
        );
        let a = Args::parse(&sig, &st("show A --head 3")).unwrap();
        assert_eq!(a.parsed::<usize>("head", "a count").unwrap(), Some(3));
        let a = Args::parse(&sig, &st("show A --head=4")).unwrap();
        assert_eq!(a.parsed::<usize>("head", "a count").unwrap(), Some(4));
        assert!(matches!(Args::parse(&sig, &st("show A --hed 3")), Err(Error::UnknownFlag { .. })));
        assert!(matches!(Args::parse(&sig, &st("show A --head")), Err(Error::MissingFlagValue { .. })));
        assert!(matches!(Args::parse(&sig, &st("show")), Err(Error::MissingArgument { .. })));
        assert!(matches!(Args::parse(&sig, &st("show A B")), Err(Error::ExtraArgument { .. })));
        let bad = Args::parse(&sig, &st("show A --head x")).unwrap();
        assert!(matches!(bad.parsed::<usize>("head", "a count"), Err(Error::InvalidValue { .. })));
    }
}
