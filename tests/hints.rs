//! Every command that radose's messages and hints name in backticks works as
//! printed: a shell command (`load NAME PATH`, `notebook replay FILE`) parses
//! against that command's signature, and a command line (`radose notebook
//! replay FILE`) is accepted by the binary's argument parser. Found by
//! reading the string literals of `src/`; `{…}` placeholders and capitalised
//! words stand for the values a user fills in.

mod common;

use std::path::Path;

/// Backticked segments inside string literals of non-comment lines.
fn backticked(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            backticked(&path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || code.starts_with("#[") {
                continue;
            }
            // The string literals of the line (no escaped quotes in hints).
            for (i, literal) in code.split('"').enumerate() {
                if i % 2 == 0 {
                    continue;
                }
                for (j, seg) in literal.split('`').enumerate() {
                    if j % 2 == 1 && !seg.is_empty() {
                        found.push((format!("{}:{}", path.display(), n + 1), seg.to_string()));
                    }
                }
            }
        }
    }
}

/// `{…}` placeholders replaced by a value.
fn filled(seg: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in seg.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("x1");
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_command_a_hint_names_parses() {
    let mut found = Vec::new();
    backticked(&common::root().join("src"), &mut found);
    let registry = radose::commands::registry();
    let (mut checked, mut cli, mut failures) = (0, 0, Vec::new());
    for (at, seg) in &found {
        let text = filled(seg);
        if let Some(args) = text.strip_prefix("radose ") {
            cli += 1;
            // The binary's own parser: exit status 2 and clap's words mean it
            // refused the command line (running it is fine to fail otherwise).
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(common::binary())
                .args(["--db", ":memory:"])
                .args(args.split_whitespace())
                .current_dir(dir.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.code() == Some(2)
                && (err.contains("unrecognized") || err.contains("unexpected") || err.contains("Usage:"))
            {
                failures.push(format!("{at}: `{seg}`: {err}"));
            }
            continue;
        }
        let Ok(statements) = radose::syntax::parse(&text, 1) else { continue };
        for st in &statements {
            let Ok(cmd) = registry.resolve(st) else { continue };
            // A bare command name in prose (`report`, `audit leakage`) names
            // it; there is nothing to parse.
            if seg.trim() == cmd.signature().name {
                continue;
            }
            checked += 1;
            if let Err(e) = radose::signature::Args::parse(&cmd.signature(), st) {
                failures.push(format!("{at}: `{seg}`: {e}"));
            }
        }
    }
    eprintln!("{checked} shell commands and {cli} command lines named in hints and messages");
    assert!(checked > 20 && cli >= 1, "found too few: {checked} commands, {cli} command lines");
    assert!(failures.is_empty(), "hints that name a command that does not parse:\n{}", failures.join("\n"));
}
