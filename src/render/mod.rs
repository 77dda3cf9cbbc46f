//! Turning outputs into text (terminal), bytes (files) and figures. Pure:
//! nothing here prints, and only `figures::Figure::png` writes (the file it
//! is given).

pub mod explore;
pub mod figures;
pub mod table;

use crate::output::Output;

/// Renders a command's output for a terminal `width` characters wide.
pub fn output_text(out: &Output, width: usize) -> String {
    match out {
        Output::Nothing => String::new(),
        Output::Message(m) | Output::Note(m) => format!("{m}\n"),
        Output::Table(t) => table::terminal(t, width),
        Output::Figure(f) => format!(
            "figure: {} ({:.1} KB SVG; `--out FILE.svg|.png` writes it, `notebook save FILE.html` embeds it)\n",
            f.title,
            f.svg.len() as f64 / 1024.0
        ),
        // Parts apart by a blank line; a note stays under what it is about.
        Output::Many(items) => {
            let mut text = String::new();
            for item in items {
                let part = output_text(item, width);
                if part.is_empty() {
                    continue;
                }
                if !text.is_empty() && !matches!(item, Output::Note(_)) {
                    text.push('\n');
                }
                text.push_str(&part);
            }
            text
        }
    }
}
