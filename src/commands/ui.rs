//! `ui [--port 8765] [--bind 127.0.0.1] [--token T] [--published FILE]`:
//! serves the read-only dashboard over this session's run database until
//! Ctrl-C (or `--seconds N`).

use crate::error::{Error, Result};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::ui::{DEFAULT_PORT, UiConfig};

pub struct Ui;

impl Command for Ui {
    fn signature(&self) -> Signature {
        Signature::new("ui", "tracker", "Serve a read-only dashboard of the runs in a browser (Ctrl-C stops it)")
            .named_with("port", "N", ArgKind::Int, format!("the port (default {DEFAULT_PORT}; 0: any free port)"))
            .named(
                "bind",
                "ADDR",
                ArgKind::Text,
                "the address to listen on (default 127.0.0.1, this machine only; any other needs --token)",
            )
            .named(
                "token",
                "T",
                ArgKind::Text,
                "a secret of 16+ characters every request must carry (default: RADOSE_UI_TOKEN); open /?token=T once",
            )
            .named("published", "FILE", ArgKind::Path, "published Tables 2–3 for the experiment pages' check")
            .named("seconds", "S", ArgKind::Float, "stop after S seconds (demos, scripts) instead of at Ctrl-C")
            .not_replayable()
            .example("ui --port 0 --seconds 0.5", "serve the dashboard on a free port for half a second")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let db = session.store().path().to_path_buf();
        if !db.is_file() {
            return Err(Error::invalid(
                format!("`{}` is not a database file; the dashboard reads one", db.display()),
                Some("start radose with --db FILE (e.g. radose --db runs.db ui)"),
            ));
        }
        let port: u16 = args.parsed("port", "a port number (0–65535)")?.unwrap_or(DEFAULT_PORT);
        let bind = match args.value("bind") {
            Some(t) => t.text.parse().map_err(|_| Error::InvalidValue {
                token: t.text.clone(),
                what: "--bind".into(),
                reason: "an IP address, e.g. 127.0.0.1 or 0.0.0.0".into(),
                span: t.span,
            })?,
            None => std::net::IpAddr::from([127, 0, 0, 1]),
        };
        let token = args.value("token").map(|t| t.text.clone()).or_else(|| std::env::var("RADOSE_UI_TOKEN").ok());
        let seconds: Option<f64> = args.parsed("seconds", "a number of seconds")?;
        let published = args.value("published").map(|t| std::path::PathBuf::from(&t.text));
        let cfg = UiConfig { db, bind, port, token, published };
        let server = crate::ui::start(cfg, session.store().provenance().clone())?;
        let url = format!("http://{}/", server.addr());
        let progress = session.progress(0, "requests", format!("radose ui at {url} — Ctrl-C stops it"));
        let cancel = session.cancel_flag();
        let until = seconds.map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s.max(0.0)));
        server.wait(&|| cancel.is_cancelled() || until.is_some_and(|u| std::time::Instant::now() >= u));
        drop(progress);
        if cancel.is_cancelled() {
            cancel.reset();
        }
        Ok(Output::Message(format!("radose ui at {url} stopped")))
    }
}
