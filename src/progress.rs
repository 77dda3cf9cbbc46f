//! How long work reports its progress without printing: a command asks the
//! session for a [`Progress`] and counts steps on it; what the counting
//! shows is up to the [`ProgressSink`] the session was given — the shell's
//! terminal bars, nothing for a library caller, a recorder in a test.

use std::sync::Arc;

/// One piece of long work: `total` steps of some unit, counted as they end.
/// Shared by the threads doing the work.
pub trait Progress: Send + Sync {
    fn set_message(&self, message: String);
    fn inc(&self, steps: u64);
    /// The work is over (done, failed or cancelled); the indicator goes away.
    fn finish(&self);
}

/// Makes a [`Progress`] for each piece of long work.
pub trait ProgressSink: Send + Sync {
    fn start(&self, total: u64, unit: &'static str, message: String) -> Box<dyn Progress>;
}

/// Shows nothing: the sink of a session nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn set_message(&self, _: String) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

impl ProgressSink for Silent {
    fn start(&self, _: u64, _: &'static str, _: String) -> Box<dyn Progress> {
        Box::new(Silent)
    }
}

/// A running indicator; finished when dropped, so an error that ends the
/// work early (`?`) also clears it.
pub struct ProgressHandle(Box<dyn Progress>);

impl ProgressHandle {
    pub fn start(sink: &Arc<dyn ProgressSink>, total: u64, unit: &'static str, message: String) -> Self {
        ProgressHandle(sink.start(total, unit, message))
    }

    pub fn set_message(&self, message: String) {
        self.0.set_message(message);
    }

    pub fn inc(&self, steps: u64) {
        self.0.inc(steps);
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        self.0.finish();
    }
}
