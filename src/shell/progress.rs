//! The terminal's progress bars (indicatif), the sink the shell and the
//! script runner give their session. indicatif draws only when stderr is a
//! terminal, so piped and CI output stays clean.

use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::{Progress, ProgressSink};

/// Draws one bar per piece of long work on stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalBars;

struct Bar(ProgressBar);

impl Progress for Bar {
    fn set_message(&self, message: String) {
        self.0.set_message(message);
    }
    fn inc(&self, steps: u64) {
        self.0.inc(steps);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ProgressSink for TerminalBars {
    fn start(&self, total: u64, unit: &'static str, message: String) -> Box<dyn Progress> {
        let bar = ProgressBar::new(total);
        let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} · {{elapsed}} · ETA {{eta}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message);
        Box::new(Bar(bar))
    }
}
