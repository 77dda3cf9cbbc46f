//! The terminal side: the line grammar, the interactive editor with history
//! and completion, and the script runner shared by `run` and `-c`.

pub mod complete;
pub mod parse;
pub mod repl;
pub mod script;
pub mod vars;
