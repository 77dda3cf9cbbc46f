//! The interactive shell: a rustyline editor with persistent history,
//! reverse search (Ctrl-R), completion and multi-line input. The only code
//! that talks to the terminal.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::data::frame::column_names;
use crate::error::Error;
use crate::output::Output;
use crate::render::output_text;
use crate::session::Session;
use crate::shell::complete::{Completion, CompletionState, complete};
use crate::syntax::{SHELL_WORDS, is_incomplete, parse};

struct ShellHelper {
    state: Arc<Mutex<CompletionState>>,
    files: FilenameCompleter,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let decision = match self.state.lock() {
            Ok(state) => complete(&state, line, pos),
            Err(_) => Completion::None,
        };
        match decision {
            Completion::Words { start, words } => {
                Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
            }
            Completion::Path => self.files.complete_path(line, pos),
            Completion::None => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, _default: bool) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) { ValidationResult::Incomplete } else { ValidationResult::Valid(None) })
    }
}

impl Helper for ShellHelper {}

fn refresh_completion(state: &Arc<Mutex<CompletionState>>, session: &Session) {
    if let Ok(mut s) = state.lock() {
        if s.registry.all().is_empty() {
            s.registry = session.registry().clone();
        }
        s.frames = session.frames().iter().map(|(name, f)| (name.clone(), column_names(&f.df))).collect();
    }
}

/// Runs the interactive shell until `exit`, `quit` or Ctrl-D. History is
/// kept in `history_path`. Returns the process exit code.
pub fn run_shell(session: &mut Session, history_path: &Path) -> i32 {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    let state = Arc::new(Mutex::new(CompletionState::default()));
    editor.set_helper(Some(ShellHelper { state: state.clone(), files: FilenameCompleter::new() }));
    let _ = editor.load_history(history_path);

    println!(
        "radose {} — `help` lists commands, Ctrl-D quits. Runs are recorded in {}",
        crate::provenance::VERSION,
        session.store().path().display()
    );
    let mut shown = 0;
    loop {
        refresh_completion(&state, session);
        let line = match editor.readline("radose> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C drops the line being typed
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: reading input: {e}");
                return 1;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if editor.add_history_entry(line.as_str()).unwrap_or(false) {
            let _ = editor.append_history(history_path);
        }
        let statements = match parse(&line, 1) {
            Ok(s) => s,
            Err(e) => {
                eprint!("{}", e.render(Some(&line)));
                continue;
            }
        };
        for st in &statements {
            if SHELL_WORDS.contains(&st.tokens[0].text.as_str()) {
                return 0;
            }
            match session.execute(st) {
                Ok(out) => {
                    print!("{}", output_text(&out, session.width));
                    show_figures(&out, &mut shown);
                }
                Err(e) => {
                    eprint!("{}", e.render(Some(&st.text)));
                    if matches!(e, Error::Cancelled) {
                        break;
                    }
                }
            }
        }
    }
    0
}

/// Each figure of an output, written as SVG to this process's figures folder
/// (under the system's temporary folder), its path printed so a terminal
/// can open it; `--out` and notebooks keep figures for good.
fn show_figures(out: &Output, shown: &mut usize) {
    let figures = out.figures();
    if figures.is_empty() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("radose-figures-{}", std::process::id()));
    for f in figures {
        *shown += 1;
        let slug: String = f
            .title
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let path = dir.join(format!("{shown}-{}.svg", slug.chars().take(60).collect::<String>()));
        let written = std::fs::create_dir_all(&dir)
            .map_err(|e| crate::provenance::io_error(&dir, e))
            .and_then(|()| crate::provenance::write_atomic(&path, f.svg.as_bytes()));
        match written {
            Ok(()) => println!("  shown: {}", path.display()),
            Err(e) => eprintln!("  could not show the figure: {e}"),
        }
    }
}
