//! The command-line grammar shared by the shell, `radose -c` and scripts.
//!
//! Input is split into statements at `;` and newlines; a trailing `\` joins
//! the next line; `#` at the start of a word begins a comment; words may be
//! quoted with `"…"` (backslash escapes) or `'…'` (literal). Each token keeps
//! its byte span in the statement's one-line text, so errors can point at it.

use crate::error::{Error, Result, Span};

/// Words the shell handles itself, before the command list.
pub const SHELL_WORDS: &[&str] = &["exit", "quit"];

/// One word of a statement, unquoted, with where it stood.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub text: String,
    pub span: Span,
    /// True when any part of the word was quoted (so `"--x"` is not a flag).
    pub quoted: bool,
}

/// One command: its tokens, its text as a single line, and its first line
/// number in the input (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
    pub tokens: Vec<Token>,
}

#[derive(Default)]
struct Builder {
    statements: Vec<Statement>,
    text: String,
    tokens: Vec<Token>,
    word: Option<(String, usize, bool)>,
    line: usize,
}

impl Builder {
    fn push_char(&mut self, c: char) {
        let at = self.text.len();
        let word = self.word.get_or_insert_with(|| (String::new(), at, false));
        word.0.push(c);
        self.text.push(c);
    }

    fn end_word(&mut self) {
        if let Some((text, start, quoted)) = self.word.take() {
            self.tokens.push(Token { text, span: Span::new(start, self.text.len()), quoted });
        }
    }

    fn space(&mut self) {
        self.end_word();
        if !self.text.is_empty() && !self.text.ends_with(' ') {
            self.text.push(' ');
        }
    }

    fn end_statement(&mut self) {
        self.end_word();
        if !self.tokens.is_empty() {
            let text = self.text.trim_end().to_string();
            self.statements.push(Statement { text, line: self.line, tokens: std::mem::take(&mut self.tokens) });
        }
        self.text.clear();
    }
}

/// `word` as one token of this grammar: as it is when nothing in it is
/// special (so `--flag` stays a flag), else quoted.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || "-_./=:,+@%~^[]{}<>|*?!&$()".contains(c);
    if !word.is_empty() && word.chars().all(plain) && !word.starts_with('#') {
        word.to_string()
    } else if !word.contains('\'') {
        format!("'{word}'")
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Splits `input` into statements. `first_line` is the line number of the
/// input's first line (1 for a file).
pub fn parse(input: &str, first_line: usize) -> Result<Vec<Statement>> {
    let mut b = Builder { line: first_line, ..Default::default() };
    let mut line = first_line;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        if b.tokens.is_empty() && b.word.is_none() && b.text.is_empty() {
            b.line = line;
        }
        match c {
            '\n' => {
                b.end_statement();
                line += 1;
            }
            ';' => b.end_statement(),
            c if c.is_whitespace() => b.space(),
            '#' if b.word.is_none() => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '\\' => {
                // A backslash before the end of the line (spaces allowed) continues it.
                let mut rest = chars.clone();
                while rest.peek().is_some_and(|&n| n == ' ' || n == '\t' || n == '\r') {
                    rest.next();
                }
                match rest.peek() {
                    Some('\n') | None => {
                        chars = rest;
                        if chars.next().is_some() {
                            line += 1;
                        }
                        b.space();
                    }
                    Some(_) => {
                        if let Some(next) = chars.next() {
                            b.push_char(next);
                        }
                    }
                }
            }
            '"' | '\'' => {
                let open_at = b.text.len();
                let start = b.word.as_ref().map_or(open_at, |w| w.1);
                let mut word = b.word.take().map_or(String::new(), |w| w.0);
                b.text.push(c);
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == '\n' {
                        line += 1;
                    }
                    b.text.push(q);
                    if q == c {
                        closed = true;
                        break;
                    }
                    if q == '\\' && c == '"' {
                        if let Some(esc) = chars.next() {
                            b.text.push(esc);
                            word.push(esc);
                        }
                        continue;
                    }
                    word.push(q);
                }
                if !closed {
                    return Err(Error::Syntax {
                        message: format!("unclosed quote {c} (line {line})"),
                        span: Span::new(open_at, b.text.len()),
                    });
                }
                b.word = Some((word, start, true));
            }
            c => b.push_char(c),
        }
    }
    b.end_statement();
    Ok(b.statements)
}

/// True when `input` cannot be a whole statement yet: it ends with a line
/// continuation or has an unclosed quote. The shell then asks for more.
pub fn is_incomplete(input: &str) -> bool {
    if input.trim_end_matches([' ', '\t']).ends_with('\\') {
        return true;
    }
    matches!(parse(input, 1), Err(Error::Syntax { ref message, .. }) if message.starts_with("unclosed quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<String>> {
        parse(s, 1).unwrap().into_iter().map(|st| st.tokens.into_iter().map(|t| t.text).collect()).collect()
    }

    #[test]
    fn splits_statements_and_strips_comments() {
        assert_eq!(
            words("load A x.csv # comment\nframes; runs\n\n# only a comment\n"),
            vec![vec!["load", "A", "x.csv"], vec!["frames"], vec!["runs"]]
        );
    }

    #[test]
    fn quote_gives_back_the_word() {
        for word in ["plain", "--flag", "a b", "semi;colon", "it's", "say \"hi\"", "back\\slash", "#hash", "", "x#y"] {
            let st = parse(&format!("cmd {}", quote(word)), 1).unwrap();
            assert_eq!(st.len(), 1, "{word:?}");
            assert_eq!(st[0].tokens[1].text, word, "{word:?} quoted as {}", quote(word));
        }
        assert!(!parse(&quote("--flag"), 1).unwrap()[0].tokens[0].quoted);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"load "my frame" 'a b;c' x\ y "q\"t""#),
            vec![vec!["load", "my frame", "a b;c", "x y", "q\"t"]]
        );
        assert_eq!(words("a#b"), vec![vec!["a#b"]]);
    }

    #[test]
    fn continuation_joins_lines_and_keeps_line_numbers() {
        let st = parse("frames\nload A \\\n  data.csv\nshow A", 1).unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st[1].text, "load A data.csv");
        assert_eq!(st[1].line, 2);
        assert_eq!(st[2].line, 4);
        let t = &st[1].tokens[2];
        assert_eq!(&st[1].text[t.span.start..t.span.end], "data.csv");
    }

    #[test]
    fn spans_cover_quoted_tokens() {
        let st = parse(r#"show "A B" --head 3"#, 1).unwrap();
        let t = &st[0].tokens[1];
        assert_eq!(&st[0].text[t.span.start..t.span.end], "\"A B\"");
        assert!(t.quoted);
    }

    #[test]
    fn unclosed_quote_is_an_error_and_incomplete() {
        assert!(parse("show \"abc", 1).is_err());
        assert!(is_incomplete("show \"abc"));
        assert!(is_incomplete("load A \\"));
        assert!(!is_incomplete("load A b"));
    }
}
