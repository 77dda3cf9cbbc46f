//! What several commands share, between the session and the commands:
//! feature matrices from session frames (`features`), groups for the
//! statistics tests (`groups`) and what those tests share (`stat_tests`),
//! a cohort's deep-model inputs and model artifacts (`deep`), a run's
//! figure (`figures`), the lookups and result records the learning
//! commands have in common (`lookup`), the frame verbs' statement shape
//! and derived frames with their lineage (`derive`), what the exploration
//! plots and statistics share (`explore`), and what an unfinished run needs to
//! be resumed in a new process (`restore`), runs side by side (`compare`),
//! dose-volume figures (`dvh`), a grid search's estimates, best
//! configuration and closing records whichever way its folds were trained
//! (`grid`). Nothing here is a command; commands
//! import from here and never from each other.

pub mod cluster;
pub mod compare;
pub mod deep;
pub mod derive;
pub mod dvh;
pub mod explore;
pub mod features;
pub mod figures;
pub mod grid;
pub mod groups;
pub mod lookup;
pub mod restore;
pub mod stat_tests;
