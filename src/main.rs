//! `radose`: parses the process arguments, opens the session, and hands it
//! to the interactive shell or the script runner; maps results to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use radose::session::CancelFlag;
use radose::shell::{repl, script};

/// A notebook-style shell and experiment tracker for radiomics + dose studies.
#[derive(Parser)]
#[command(name = "radose", version, about)]
struct Cli {
    /// The run database: a SQLite file (created if missing; default
    /// runs.db), `:memory:` (keeps nothing) or a PostgreSQL server,
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB`; default: the RADOSE_DB
    /// environment variable, else runs.db.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// Worker threads for training, preprocessing and extraction (default:
    /// every core, or RAYON_NUM_THREADS); results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Run these commands (separated by `;`) and exit.
    #[arg(short = 'c', value_name = "COMMANDS")]
    commands: Option<String>,
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Subcommand)]
enum Action {
    /// Run a script of shell commands (stops at the first error).
    Run {
        /// The script file.
        file: PathBuf,
        /// Continue after a failing command (exit status is still 1).
        #[arg(long)]
        keep_going: bool,
        /// The script profile to use (its `#% profile NAME` values).
        #[arg(long)]
        profile: Option<String>,
        /// Override a script variable (repeatable): `--set EPOCHS=5`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// Time one training step of the network: `radose bench step --batch 4
    /// --size 40x60x60 [--device cpu|gpu] [--steps 3]`; the median seconds is
    /// the last line (the shell's `bench` command).
    Bench {
        /// `step` and the shell command's flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Train work items from the run store until none is left (a Slurm
    /// array task of `train --backend slurm`): `radose --db URL worker
    /// [--parent ID]`; `--collect ID` also waits for the run's other workers
    /// and ends the run (the collect job).
    Worker {
        /// The shell command's flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Serve the read-only dashboard of the run database in a browser:
    /// `radose --db runs.db ui [--port 8765] [--bind 127.0.0.1] [--token T]
    /// [--published FILE]`; Ctrl-C stops it. The database is only ever
    /// opened read-only.
    Ui {
        /// The port (0: any free port).
        #[arg(long, default_value_t = radose::ui::DEFAULT_PORT)]
        port: u16,
        /// The address to listen on; anything but loopback needs a token.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// A secret of 16+ characters every request must carry (open /?token=T
        /// once); default: the RADOSE_UI_TOKEN environment variable.
        #[arg(long)]
        token: Option<String>,
        /// Published Tables 2–3 (experiments/published.csv) for the experiment pages.
        #[arg(long)]
        published: Option<PathBuf>,
    },
    /// Save or replay a notebook: `radose notebook replay FILE` reruns a saved
    /// notebook in a fresh session and compares every cell (the shell's
    /// `notebook` command).
    Notebook {
        /// `replay FILE` (or `save FILE`, which has only an empty session here).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn install_ctrl_c(flag: CancelFlag) {
    let result = ctrlc::set_handler(move || {
        if flag.is_cancelled() {
            eprintln!("\ninterrupted");
            std::process::exit(130);
        }
        flag.cancel();
        eprintln!("\ncancelling… (Ctrl-C again to quit at once)");
    });
    if let Err(e) = result {
        eprintln!("warning: Ctrl-C handling unavailable: {e}");
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w: &usize| *w >= 20).unwrap_or(120)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let db: PathBuf = cli.db.clone().unwrap_or_else(|| {
        std::env::var_os("RADOSE_DB").filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from("runs.db"), PathBuf::from)
    });
    if cli.commands.is_some() && cli.action.is_some() {
        eprintln!("error: give either -c COMMANDS or `radose run FILE`, not both");
        return ExitCode::from(2);
    }
    if let Some(n) = cli.threads
        && let Err(e) = radose::threads::set_global(n)
    {
        eprintln!("error: --threads {n}: {e}");
        return ExitCode::from(2);
    }
    if let Some(Action::Ui { port, bind, token, published }) = &cli.action {
        let cfg = radose::ui::UiConfig {
            db: db.clone(),
            bind: *bind,
            port: *port,
            token: token.clone().or_else(|| std::env::var("RADOSE_UI_TOKEN").ok()),
            published: published.clone(),
        };
        return serve_ui(cfg);
    }
    let mut session = match radose::open_session(&db) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render(None));
            return ExitCode::from(1);
        }
    };
    session.width = terminal_width();
    session.set_progress_sink(std::sync::Arc::new(radose::shell::progress::TerminalBars));
    install_ctrl_c(session.cancel_flag());
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = match (cli.commands, cli.action) {
        (Some(text), _) => script::run_text(&mut session, &text, "-c", false, &mut out, &mut err).exit_code(),
        (None, Some(Action::Run { file, keep_going, profile, set })) => {
            let mut sets = Vec::new();
            for s in &set {
                match s.split_once('=') {
                    Some((k, v)) => sets.push((k.to_string(), v.to_string())),
                    None => {
                        eprintln!("error: --set {s}: write NAME=VALUE");
                        return ExitCode::from(2);
                    }
                }
            }
            script::run_file_with(&mut session, &file, keep_going, profile.as_deref(), &sets, &mut out, &mut err)
                .exit_code()
        }
        (None, Some(Action::Ui { .. })) => 0,
        (None, Some(Action::Bench { args })) => shell_command(&mut session, "bench", args),
        (None, Some(Action::Notebook { args })) => shell_command(&mut session, "notebook", args),
        (None, Some(Action::Worker { args })) => shell_command(&mut session, "worker", args),
        (None, None) => {
            let history = history_path(&db);
            repl::run_shell(&mut session, &history)
        }
    };
    ExitCode::from(code as u8)
}

/// `radose ui`: the dashboard without a session, so the database is never
/// opened for writing; serves until Ctrl-C.
fn serve_ui(cfg: radose::ui::UiConfig) -> ExitCode {
    let server = match radose::ui::start(cfg, radose::provenance::Provenance::gather()) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render(None));
            return ExitCode::from(1);
        }
    };
    let flag = CancelFlag::default();
    install_ctrl_c(flag.clone());
    eprintln!("radose ui: serving http://{}/ (read-only; Ctrl-C stops it)", server.addr());
    server.wait(&|| flag.is_cancelled());
    eprintln!("radose ui: stopped");
    ExitCode::SUCCESS
}

/// Runs the shell command `name` with the process's remaining arguments
/// (each one token, quoted as the shell grammar needs).
fn shell_command(session: &mut radose::session::Session, name: &str, args: Vec<String>) -> i32 {
    let quoted = args.iter().map(|a| radose::syntax::quote(a));
    let line = std::iter::once(name.to_string()).chain(quoted).collect::<Vec<_>>().join(" ");
    script::run_text(session, &line, name, false, &mut std::io::stdout(), &mut std::io::stderr()).exit_code()
}

/// The shell history lives beside the database.
fn history_path(db: &std::path::Path) -> PathBuf {
    if db == std::path::Path::new(":memory:") {
        return std::env::temp_dir().join("radose_history");
    }
    if db.to_str().is_some_and(radose::store::is_server_url) {
        return PathBuf::from(".radose_history");
    }
    db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).join(".radose_history")
}
