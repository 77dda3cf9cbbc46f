//! The terminal side: the interactive editor with history and completion,
//! and the script runner shared by `run` and `-c`. The line grammar they
//! read is `crate::syntax`, below everything that executes statements.

pub mod complete;
pub mod progress;
pub mod repl;
pub mod script;
pub mod vars;
