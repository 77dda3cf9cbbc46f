//! radose: a notebook-style shell and experiment tracker for outcome
//! studies that combine MRI radiomics with radiation-dose features.
//!
//! See ARCHITECTURE.md for the module map. In short: `shell` reads
//! statements, `session` executes them through `commands`, which use the
//! pure `core`, the `data` readers, the `store` (runs.db) and `render`.

pub mod commands;
pub mod core;
pub mod data;
pub mod error;
pub mod fuzzing;
pub mod imaging;
pub mod ml;
pub mod notebook;
pub mod output;
pub mod progress;
pub mod provenance;
pub mod render;
pub mod report;
pub mod session;
pub mod shell;
pub mod signature;
pub mod store;
pub mod syntax;
pub mod threads;
pub mod ui;
pub mod workflow;

use std::path::Path;

use error::Result;
use session::Session;
use store::Store;

/// Opens the run database at `db` (`:memory:` for a private one, a
/// `postgres://` URL for a server) and starts a session on it.
pub fn open_session(db: &Path) -> Result<Session> {
    let provenance = provenance::Provenance::gather();
    let store =
        if db == Path::new(":memory:") { Store::open_in_memory(provenance)? } else { Store::open(db, provenance)? };
    Ok(Session::new(store, commands::registry()))
}
