//! Turning outputs into text (terminal), bytes (files) and figures. Pure:
//! nothing here prints, and only `figures::Figure::png` writes (the file it
//! is given).

pub mod figures;
pub mod table;

use crate::output::Output;

/// Renders a command's output for a terminal `width` characters wide.
pub fn output_text(out: &Output, width: usize) -> String {
    match out {
        Output::Nothing => String::new(),
        Output::Message(m) => format!("{m}\n"),
        Output::Table(t) => table::terminal(t, width),
        Output::Figure(f) => format!(
            "figure: {} ({:.1} KB SVG; `notebook save` embeds it, `plot … --out FILE.svg|.png` writes it)\n",
            f.title,
            f.svg.len() as f64 / 1024.0
        ),
        Output::Many(items) => {
            items.iter().map(|o| output_text(o, width)).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n")
        }
    }
}
