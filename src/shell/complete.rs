//! Tab completion: command names, flags, frame names, a frame's columns,
//! and file paths, all driven by the command signatures.

use std::collections::BTreeMap;

use crate::session::Registry;
use crate::signature::{ArgKind, Signature};

/// What completion knows about the session: its commands, and its frames
/// with their columns.
#[derive(Clone, Default)]
pub struct CompletionState {
    pub registry: Registry,
    pub frames: BTreeMap<String, Vec<String>>,
}

/// What the word under the cursor should be completed as.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Replace from `start` with one of these words.
    Words {
        start: usize,
        words: Vec<String>,
    },
    /// Complete a file path (the editor's file-name completer does it).
    Path,
    None,
}

/// Decides the completion for `line` with the cursor at `pos`.
pub fn complete(state: &CompletionState, line: &str, pos: usize) -> Completion {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let stmt_start = before.rfind(';').map_or(0, |i| i + 1);
    let word_start = before[stmt_start..].rfind(char::is_whitespace).map_or(stmt_start, |i| stmt_start + i + 1);
    let word = &line[word_start..pos];
    let prior: Vec<&str> = line[stmt_start..word_start].split_whitespace().collect();
    let filter = |cands: Vec<String>, prefix: &str, start: usize| {
        let words: Vec<String> = cands.into_iter().filter(|c| c.starts_with(prefix)).collect();
        Completion::Words { start, words }
    };
    let Some(first) = prior.first() else {
        return filter(command_names(state), word, word_start);
    };
    let cmd = match state.registry.find(first) {
        Some(c) => c,
        None => {
            // A family: its second word names the member.
            let members = state.registry.family(first);
            let subs: Vec<String> =
                members.iter().filter_map(|c| c.signature().name.split_once(' ').map(|(_, s)| s.to_string())).collect();
            match prior.get(1) {
                None if !subs.is_empty() => return filter(subs, word, word_start),
                Some(second) => match state.registry.find(&format!("{first} {second}")) {
                    Some(c) => c,
                    None => return Completion::None,
                },
                None => return Completion::None,
            }
        }
    };
    let sig = cmd.signature();
    if word.starts_with("--") {
        return filter(sig.flags.iter().map(|f| format!("--{}", f.name)).collect(), word, word_start);
    }
    let kind = match prior.last().and_then(|p| p.strip_prefix("--")).and_then(|f| sig.flag(f)) {
        Some(flag) => match flag.value {
            Some((_, kind)) => Some(kind),
            None => positional_kind(&sig, &prior),
        },
        None => positional_kind(&sig, &prior),
    };
    match kind {
        Some(ArgKind::Frame) => filter(state.frames.keys().cloned().collect(), word, word_start),
        Some(ArgKind::Command) => filter(command_names(state), word, word_start),
        Some(ArgKind::Path) => Completion::Path,
        Some(ArgKind::Column) | Some(ArgKind::Columns) => {
            let columns = frame_in(&sig, &prior).and_then(|f| state.frames.get(f)).cloned().unwrap_or_else(|| {
                let mut all: Vec<String> = state.frames.values().flatten().cloned().collect();
                all.sort();
                all.dedup();
                all
            });
            // In a comma-separated list, complete the part after the last comma.
            let offset = word.rfind(',').map_or(0, |i| i + 1);
            filter(columns, &word[offset..], word_start + offset)
        }
        Some(ArgKind::Expression) => {
            // Inside an expression: the identifier being typed (after `(`, an
            // operator or a comma) is a column of the frame named earlier,
            // or — in a query — a frame or any frame's column.
            let mut candidates = match frame_in(&sig, &prior).and_then(|f| state.frames.get(f)) {
                Some(columns) => columns.clone(),
                None => state.frames.keys().cloned().chain(state.frames.values().flatten().cloned()).collect(),
            };
            candidates.sort();
            candidates.dedup();
            let offset = word.rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).map_or(0, |i| i + 1);
            filter(candidates, &word[offset..], word_start + offset)
        }
        _ => Completion::None,
    }
}

fn command_names(state: &CompletionState) -> Vec<String> {
    state.registry.first_words().into_iter().map(String::from).collect()
}

/// The kind of the next positional argument, given the words before it.
fn positional_kind(sig: &Signature, prior: &[&str]) -> Option<ArgKind> {
    let n = positional_words(sig, prior).len();
    sig.positionals.get(n).or_else(|| sig.positionals.last().filter(|p| p.variadic)).map(|p| p.kind)
}

/// The positional words among `prior` (skipping the command, flags and flag values).
fn positional_words<'a>(sig: &Signature, prior: &[&'a str]) -> Vec<&'a str> {
    let mut words = Vec::new();
    let mut iter = prior.iter().skip(sig.name_words());
    while let Some(w) = iter.next() {
        match w.strip_prefix("--") {
            Some(name) => {
                if sig.flag(name).is_some_and(|f| f.value.is_some()) && !name.contains('=') {
                    iter.next();
                }
            }
            None => words.push(*w),
        }
    }
    words
}

/// The frame named by the command's first frame-typed positional argument.
fn frame_in<'a>(sig: &Signature, prior: &[&'a str]) -> Option<&'a str> {
    let words = positional_words(sig, prior);
    let variadic = sig.positionals.last().filter(|p| p.variadic).map(|p| p.kind);
    let kinds = sig
        .positionals
        .iter()
        .map(|p| p.kind)
        .chain(std::iter::repeat_n(variadic.unwrap_or(ArgKind::Text), words.len()));
    kinds.zip(words).find(|(k, _)| *k == ArgKind::Frame).map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CompletionState {
        let mut frames = BTreeMap::new();
        frames.insert("A".to_string(), vec!["age".to_string(), "sex".to_string()]);
        frames.insert("B".to_string(), vec!["bmi".to_string()]);
        CompletionState { registry: crate::commands::registry(), frames }
    }

    fn words(line: &str) -> Vec<String> {
        match complete(&state(), line, line.len()) {
            Completion::Words { words, .. } => words,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn completes_commands_flags_frames() {
        assert_eq!(words("sh"), vec!["show"]);
        assert_eq!(words("frames; sh"), vec!["show"]);
        assert_eq!(words("show A --he"), vec!["--head"]);
        assert_eq!(words("show "), vec!["A", "B"]);
        assert_eq!(words("help lo"), vec!["load"]);
        assert_eq!(words("audit "), vec!["leakage", "published"]);
        assert_eq!(words("audit leakage P on A --fo"), vec!["--folds"]);
        assert_eq!(complete(&state(), "load A da", 9), Completion::Path);
        assert_eq!(complete(&state(), "describe A --out rep", 20), Completion::Path);
    }

    #[test]
    fn completes_the_new_verbs_and_columns_inside_expressions() {
        assert_eq!(words("fil"), vec!["filter"]);
        assert_eq!(
            words("plot "),
            vec!["roc", "calibration", "curves", "dvh", "hist", "box", "violin", "scatter", "corr", "features"]
        );
        assert_eq!(words("filter old = "), vec!["A", "B"]);
        assert_eq!(words("filter old = A where a"), vec!["age"]);
        assert_eq!(words("filter old = A where age > 50 and s"), vec!["sex"]);
        assert_eq!(words("mutate A x = log(a"), vec!["age"]);
        assert_eq!(words("sql C = SELECT * FROM "), vec!["A", "B", "age", "bmi", "sex"]);
        assert_eq!(words("plot hist A "), vec!["age", "sex"]);
        assert_eq!(words("describe A --by s"), vec!["sex"]);
    }
}
