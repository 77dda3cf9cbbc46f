//! `radose ui`: a read-only dashboard over the run database, served from
//! the same binary. A listener thread hands each connection to one of a
//! few workers; every worker holds its own read-only connection to the
//! database, so nothing the dashboard does can write a run. Pages and
//! figures are drawn from stored data by the same code as the report
//! (`report`, `render::figures`); a small embedded script only refreshes
//! running runs' rows.

pub mod http;
pub mod pages;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::provenance::Provenance;
use crate::store::Store;

/// Port without `--port`.
pub const DEFAULT_PORT: u16 = 8765;
/// Workers answering requests at once.
const WORKERS: usize = 4;
/// Connections waiting for a worker before new ones get a 503.
const QUEUE: usize = 64;
/// The shortest token accepted for a non-loopback bind.
pub const MIN_TOKEN: usize = 16;

/// What the dashboard serves and where.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub db: PathBuf,
    pub bind: IpAddr,
    /// 0: any free port.
    pub port: u16,
    /// Required on every request when set; required to bind beyond loopback.
    pub token: Option<String>,
    /// The published Tables 2–3 for the experiment page's check.
    pub published: Option<PathBuf>,
}

impl UiConfig {
    /// Refuses a configuration that would expose runs without a token.
    pub fn check(&self) -> Result<()> {
        match &self.token {
            None if !self.bind.is_loopback() => Err(Error::invalid(
                format!("--bind {} is reachable from other machines; it needs --token (or RADOSE_UI_TOKEN)", self.bind),
                Some("keep the default loopback bind (127.0.0.1), or give a token of at least 16 characters"),
            )),
            Some(t) if t.len() < MIN_TOKEN => {
                Err(Error::invalid(format!("the token has {} characters; use at least {MIN_TOKEN}", t.len()), None))
            }
            _ => Ok(()),
        }
    }
}

/// A running dashboard.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// Where it listens (the port chosen when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `cancelled` says so (Ctrl-C), then stops.
    pub fn wait(self, cancelled: &dyn Fn() -> bool) {
        while !cancelled() && !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
    }

    /// Stops accepting, lets the workers finish what they hold, and joins them.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The listener blocks in accept: one connection wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Starts the dashboard: checks the configuration, opens the database
/// read-only (an error here, not on the first page), binds, and spawns the
/// listener and the workers.
pub fn start(cfg: UiConfig, provenance: Provenance) -> Result<Server> {
    cfg.check()?;
    let published = cfg.published.as_ref().map(|p| crate::report::read_published(p)).transpose()?;
    // Every worker opens its own connection; this one checks the database first.
    Store::open_read_only(&cfg.db, provenance.clone())?;
    let listener = TcpListener::bind((cfg.bind, cfg.port))
        .map_err(|e| Error::invalid(format!("cannot listen on {}:{}: {e}", cfg.bind, cfg.port), None))?;
    let addr = listener.local_addr().map_err(|e| Error::invalid(format!("the listening address: {e}"), None))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::sync_channel::<TcpStream>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let shared = Arc::new(pages::Shared {
        artifacts: crate::store::artifact_folder(&cfg.db),
        token: cfg.token.clone(),
        published,
    });
    let mut threads = Vec::new();
    for _ in 0..WORKERS {
        let (rx, stop, shared, db, prov) =
            (rx.clone(), stop.clone(), shared.clone(), cfg.db.clone(), provenance.clone());
        threads.push(std::thread::spawn(move || worker(&rx, &stop, &shared, &db, prov)));
    }
    let accept_stop = stop.clone();
    threads.push(std::thread::spawn(move || accept(&listener, &tx, &accept_stop)));
    Ok(Server { addr, stop, threads })
}

/// Accepts connections until stopped (`Server::stop` connects once to wake
/// it); a full queue answers 503 at once.
fn accept(listener: &TcpListener, tx: &SyncSender<TcpStream>, stop: &AtomicBool) {
    loop {
        let next = listener.accept();
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match next {
            Ok((stream, _)) => {
                if let Err(TrySendError::Full(s)) = tx.try_send(stream) {
                    let _ = http::write_response(&s, &http::Response::error(503, "the dashboard is busy"), false);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Answers connections from the queue with its own read-only store.
fn worker(rx: &Mutex<Receiver<TcpStream>>, stop: &AtomicBool, shared: &pages::Shared, db: &PathBuf, prov: Provenance) {
    let mut store = None;
    while !stop.load(Ordering::Relaxed) {
        let next = match rx.lock() {
            Ok(r) => r.recv_timeout(Duration::from_millis(100)),
            Err(_) => return,
        };
        let Ok(stream) = next else { continue };
        let response = match http::read_request(&stream) {
            Err(refused) => (http::Response::error(refused.status, &refused.message), false),
            Ok(req) => {
                if store.is_none() {
                    store = Store::open_read_only(db, prov.clone()).ok();
                }
                let head = req.method == "HEAD";
                match &store {
                    Some(s) => (pages::answer(s, shared, &req), head),
                    None => (http::Response::error(500, "the run database cannot be opened"), head),
                }
            }
        };
        let _ = http::write_response(&stream, &response.0, response.1);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}
