//! Errors as diagnostics: what went wrong, where (a token of the command line,
//! or a file with its row and column), and a hint for what to do next.
//!
//! Every failure a user or a file can cause is one of these variants; the shell
//! prints it with [`Error::render`] and keeps going.

use std::path::PathBuf;

/// A byte range in the command line the user typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// The result type used throughout radose.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in a command, with enough context to say where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown command `{name}`")]
    UnknownCommand { name: String, span: Span, suggestion: Option<String> },

    #[error("unknown flag `{flag}` for `{command}`")]
    UnknownFlag { command: String, flag: String, span: Span, suggestion: Option<String> },

    #[error("`{command}` is missing its argument {arg}")]
    MissingArgument { command: String, arg: String, span: Span },

    #[error("`{command}` takes at most {max} argument(s); `{token}` is one too many")]
    ExtraArgument { command: String, token: String, max: usize, span: Span },

    #[error("flag `{flag}` needs a value ({value})")]
    MissingFlagValue { flag: String, value: String, span: Span },

    #[error("invalid value `{token}` for {what}: {reason}")]
    InvalidValue { token: String, what: String, reason: String, span: Span },

    #[error("syntax: {message}")]
    Syntax { message: String, span: Span },

    #[error("{}: file not found", path.display())]
    FileNotFound { path: PathBuf },

    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    #[error("{}: column `{column}` not found", path.display())]
    UnknownColumn { path: PathBuf, column: String, available: Vec<String> },

    #[error("{}: duplicate id `{id}` in column `{column}` ({first} and {second})", path.display())]
    DuplicateId { path: PathBuf, column: String, id: String, first: String, second: String },

    #[error("{}: {location}, column `{column}`: outcome must be 0 or 1, found `{value}`", path.display())]
    NonBinaryOutcome { path: PathBuf, column: String, location: String, value: String },

    #[error("{}: {location}, column `{column}`: cannot read `{value}` as {expected}", path.display())]
    Unparsable { path: PathBuf, location: String, column: String, value: String, expected: String },

    #[error("{}: line {line}: malformed CSV row: {message}", path.display())]
    MalformedRow { path: PathBuf, line: usize, message: String },

    #[error("{}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },

    #[error("no frame named `{name}`")]
    UnknownFrame { name: String, span: Span, available: Vec<String> },

    #[error("frame `{frame}` has no column `{column}`")]
    UnknownFrameColumn { frame: String, column: String, span: Span, available: Vec<String> },

    #[error("no run with id {id}")]
    UnknownRun { id: i64 },

    #[error("{message}")]
    Invalid { message: String, hint: Option<String> },

    #[error("cancelled")]
    Cancelled,

    #[error("run database {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
}

impl Error {
    /// Shorthand for a plain error with an optional hint.
    pub fn invalid(message: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Invalid { message: message.into(), hint: hint.map(str::to_string) }
    }

    /// A stable short code for each kind, printed as `error[CODE]`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownCommand { .. } => "E-CMD",
            Error::UnknownFlag { .. } => "E-FLAG",
            Error::MissingArgument { .. } | Error::ExtraArgument { .. } => "E-ARGS",
            Error::MissingFlagValue { .. } | Error::InvalidValue { .. } => "E-VALUE",
            Error::Syntax { .. } => "E-SYNTAX",
            Error::FileNotFound { .. } | Error::Io { .. } => "E-FILE",
            Error::UnknownColumn { .. } | Error::UnknownFrameColumn { .. } => "E-COLUMN",
            Error::DuplicateId { .. } => "E-DUPID",
            Error::NonBinaryOutcome { .. } => "E-OUTCOME",
            Error::Unparsable { .. } => "E-PARSE",
            Error::MalformedRow { .. } => "E-CSV",
            Error::Manifest { .. } => "E-MANIFEST",
            Error::UnknownFrame { .. } => "E-FRAME",
            Error::UnknownRun { .. } => "E-RUN",
            Error::Invalid { .. } => "E-INVALID",
            Error::Cancelled => "E-CANCEL",
            Error::Store { .. } => "E-STORE",
        }
    }

    /// The span in the command line this error points at, if any.
    pub fn span(&self) -> Option<Span> {
        match self {
            Error::UnknownCommand { span, .. }
            | Error::UnknownFlag { span, .. }
            | Error::MissingArgument { span, .. }
            | Error::ExtraArgument { span, .. }
            | Error::MissingFlagValue { span, .. }
            | Error::InvalidValue { span, .. }
            | Error::Syntax { span, .. }
            | Error::UnknownFrame { span, .. }
            | Error::UnknownFrameColumn { span, .. } => Some(*span),
            _ => None,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::UnknownCommand { suggestion: Some(s), .. } => {
                Some(format!("did you mean `{s}`? `help` lists every command"))
            }
            Error::UnknownCommand { .. } => Some("`help` lists every command".into()),
            Error::UnknownFlag { command, suggestion, .. } => Some(match suggestion {
                Some(s) => format!("did you mean `{s}`? See `help {command}`"),
                None => format!("see `help {command}` for its flags"),
            }),
            Error::MissingArgument { command, .. } | Error::ExtraArgument { command, .. } => {
                Some(format!("see `help {command}`"))
            }
            Error::FileNotFound { .. } => {
                Some("check the path; relative paths start from the directory radose was started in".into())
            }
            Error::UnknownColumn { available, .. } | Error::UnknownFrameColumn { available, .. } => {
                Some(format!("available columns: {}", list_names(available)))
            }
            Error::UnknownFrame { available, .. } if available.is_empty() => {
                Some("no frames are loaded; `load NAME PATH` loads one".into())
            }
            Error::UnknownFrame { available, .. } => Some(format!("loaded frames: {}", list_names(available))),
            Error::DuplicateId { .. } => {
                Some("each patient must appear once; remove or merge the repeated rows".into())
            }
            Error::NonBinaryOutcome { .. } => Some("code the outcome as 0 (no event) and 1 (event)".into()),
            Error::Unparsable { .. } => {
                Some("leave the cell empty (or write NA) for a missing value; use `.` as the decimal point".into())
            }
            Error::MalformedRow { .. } => {
                Some("every row needs as many fields as the header; quote fields containing commas".into())
            }
            Error::UnknownRun { .. } => Some("`runs` lists the recorded runs".into()),
            Error::Invalid { hint, .. } => hint.clone(),
            _ => None,
        }
    }

    /// Renders the diagnostic for a terminal or a log: the message, the
    /// offending token underlined in `line` when there is one, and the hint.
    pub fn render(&self, line: Option<&str>) -> String {
        let mut out = format!("error[{}]: {}\n", self.code(), self);
        if let (Some(span), Some(line)) = (self.span(), line) {
            let start = span.start.min(line.len());
            let end = span.end.clamp(start, line.len());
            let width = line[start..end].chars().count().max(1);
            let pad = line[..start].chars().count();
            out.push_str(&format!("  | {line}\n  | {}{}\n", " ".repeat(pad), "^".repeat(width)));
        }
        if let Some(hint) = self.hint() {
            out.push_str(&format!("  = hint: {hint}\n"));
        }
        out
    }
}

fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = names.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", … ({} more)", names.len() - SHOWN));
    }
    s
}

/// The closest candidate by edit distance, if it is close enough to be a
/// plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("hed", ["head", "tail"]).as_deref(), Some("head"));
        assert_eq!(suggest("xyzzy", ["head", "tail"]), None);
    }

    #[test]
    fn underline_points_at_token() {
        let e = Error::Syntax { message: "x".into(), span: Span::new(5, 8) };
        let r = e.render(Some("show abc"));
        assert!(r.contains("  | show abc\n  |      ^^^\n"), "{r}");
    }
}
