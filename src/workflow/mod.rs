//! What several commands share, between the session and the commands:
//! feature matrices from session frames (`features`), groups for the
//! statistics tests (`groups`), a cohort's deep-model inputs and model
//! artifacts (`deep`), and the lookups and result records the learning
//! commands have in common (`lookup`). Nothing here is a command; commands
//! import from here and never from each other.

pub mod deep;
pub mod features;
pub mod groups;
pub mod lookup;
