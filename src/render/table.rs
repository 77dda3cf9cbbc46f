//! Tables as text: a terminal layout that never drops data (wide tables are
//! split into column blocks), and CSV, Markdown, LaTeX, HTML and JSON.
//! Every renderer is a pure function of the table (and width).

use crate::output::{Cell, Table};

/// Lays out `table` for a terminal `width` characters wide. Columns that do
/// not fit are continued in further blocks, each repeating the first column.
/// A single row too wide for the screen is shown as `column | value` lines.
pub fn terminal(table: &Table, width: usize) -> String {
    if table.rows.len() == 1 {
        let total: usize = table
            .columns
            .iter()
            .zip(&table.rows[0])
            .map(|(c, v)| c.chars().count().max(v.display().chars().count()) + 3)
            .sum();
        if total > width {
            let mut long = Table::new(["column", "value"]);
            long.title = table.title.clone();
            long.notes = table.notes.clone();
            // Long values continue on further lines rather than off screen.
            let name_width = table.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
            let room = width.saturating_sub(name_width + 6).max(20);
            for (c, v) in table.columns.iter().zip(&table.rows[0]) {
                let text = v.display();
                if text.chars().count() <= room {
                    long.push(vec![Cell::Text(c.clone()), v.clone()]);
                    continue;
                }
                let chars: Vec<char> = text.chars().collect();
                for (i, piece) in chars.chunks(room).enumerate() {
                    let name = if i == 0 { c.clone() } else { String::new() };
                    long.push(vec![Cell::Text(name), Cell::Text(piece.iter().collect())]);
                }
            }
            return terminal(&long, width);
        }
    }
    let mut out = String::new();
    if let Some(title) = &table.title {
        out.push_str(title);
        out.push('\n');
    }
    let cells = table.display_rows();
    let widths: Vec<usize> = (0..table.columns.len())
        .map(|c| {
            let body = cells.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0);
            body.max(table.columns[c].chars().count())
        })
        .collect();
    let numeric: Vec<bool> = (0..table.columns.len())
        .map(|c| table.rows.iter().all(|r| r.get(c).is_none_or(|v| v.is_numeric() || *v == Cell::Null)))
        .collect();

    let blocks = column_blocks(&widths, width);
    for (b, block) in blocks.iter().enumerate() {
        if blocks.len() > 1 {
            let shown = if b == 0 { &block[..] } else { &block[1..] };
            let first = shown.first().map_or(0, |c| c + 1);
            let last = shown.last().map_or(0, |c| c + 1);
            out.push_str(&format!("(columns {first}–{last} of {})\n", table.columns.len()));
        }
        let line = |texts: &[&str], header: bool| -> String {
            let parts: Vec<String> =
                block.iter().zip(texts).map(|(&c, t)| pad(t, widths[c], numeric[c] && !header)).collect();
            format!(" {} ", parts.join(" │ ")).trim_end().to_string() + "\n"
        };
        let header: Vec<&str> = block.iter().map(|&c| table.columns[c].as_str()).collect();
        out.push_str(&line(&header, true));
        let rule: Vec<String> = block.iter().map(|&c| "─".repeat(widths[c] + 2)).collect();
        out.push_str(&rule.join("┼"));
        out.push('\n');
        for row in &cells {
            let texts: Vec<&str> = block.iter().map(|&c| row.get(c).map_or("", String::as_str)).collect();
            out.push_str(&line(&texts, false));
        }
        if b + 1 < blocks.len() {
            out.push('\n');
        }
    }
    if table.rows.is_empty() {
        out.push_str(" (no rows)\n");
    }
    for note in &table.notes {
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// Groups column indices into blocks that fit `width`; blocks after the first
/// start with column 0 so each row stays identifiable.
fn column_blocks(widths: &[usize], width: usize) -> Vec<Vec<usize>> {
    let cost = |c: usize| widths[c] + 3;
    let mut blocks = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut used = 0;
    for c in 0..widths.len() {
        if !current.is_empty() && used + cost(c) > width && current.len() > usize::from(!blocks.is_empty()) {
            blocks.push(std::mem::take(&mut current));
            current.push(0);
            used = cost(0);
        }
        current.push(c);
        used += cost(c);
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = width.saturating_sub(s.chars().count());
    if right { format!("{}{s}", " ".repeat(fill)) } else { format!("{s}{}", " ".repeat(fill)) }
}

/// RFC 4180 CSV with full-precision numbers.
pub fn csv(table: &Table) -> String {
    let mut out = String::new();
    let line = |fields: Vec<String>| fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",") + "\n";
    out.push_str(&line(table.columns.clone()));
    for row in &table.rows {
        out.push_str(&line(row.iter().map(Cell::exact).collect()));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// GitHub-flavoured Markdown; numeric columns right-aligned.
pub fn markdown(table: &Table) -> String {
    let mut out = String::new();
    if let Some(title) = &table.title {
        out.push_str(&format!("**{}**\n\n", md_escape(title)));
    }
    let esc: Vec<String> = table.columns.iter().map(|c| md_escape(c)).collect();
    out.push_str(&format!("| {} |\n", esc.join(" | ")));
    let align: Vec<&str> =
        (0..table.columns.len()).map(|c| if column_is_numeric(table, c) { "---:" } else { "---" }).collect();
    out.push_str(&format!("|{}|\n", align.iter().map(|a| format!(" {a} ")).collect::<Vec<_>>().join("|")));
    for row in table.display_rows() {
        let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    for note in &table.notes {
        out.push_str(&format!("\n{}\n", md_escape(note)));
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn column_is_numeric(table: &Table, c: usize) -> bool {
    !table.rows.is_empty() && table.rows.iter().all(|r| r.get(c).is_none_or(|v| v.is_numeric() || *v == Cell::Null))
}

/// A LaTeX `tabular` using booktabs rules.
pub fn latex(table: &Table) -> String {
    let spec: String = (0..table.columns.len()).map(|c| if column_is_numeric(table, c) { 'r' } else { 'l' }).collect();
    let mut out = String::new();
    if let Some(title) = &table.title {
        out.push_str(&format!("% {}\n", title.replace('\n', " ")));
    }
    out.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n"));
    let head: Vec<String> = table.columns.iter().map(|c| tex_escape(c)).collect();
    out.push_str(&format!("{} \\\\\n\\midrule\n", head.join(" & ")));
    for row in table.display_rows() {
        let cells: Vec<String> = row.iter().map(|c| tex_escape(c)).collect();
        out.push_str(&format!("{} \\\\\n", cells.join(" & ")));
    }
    out.push_str("\\bottomrule\n\\end{tabular}\n");
    for note in &table.notes {
        out.push_str(&format!("% {}\n", note.replace('\n', " ")));
    }
    out
}

fn tex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '–' => out.push_str("--"),
            '±' => out.push_str("$\\pm$"),
            '≠' => out.push_str("$\\neq$"),
            '—' => out.push_str("---"),
            _ => out.push(ch),
        }
    }
    out
}

/// An HTML `<table>` fragment (no page around it).
pub fn html(table: &Table) -> String {
    let mut out = String::from("<table>\n");
    if let Some(title) = &table.title {
        out.push_str(&format!("<caption>{}</caption>\n", html_escape(title)));
    }
    out.push_str("<thead><tr>");
    for c in &table.columns {
        out.push_str(&format!("<th>{}</th>", html_escape(c)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (row, texts) in table.rows.iter().zip(table.display_rows()) {
        out.push_str("<tr>");
        for (cell, text) in row.iter().zip(&texts) {
            let class = if cell.is_numeric() { " class=\"num\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", html_escape(text)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n");
    if !table.notes.is_empty() {
        out.push_str("<tfoot>");
        for note in &table.notes {
            out.push_str(&format!("<tr><td colspan=\"{}\">{}</td></tr>", table.columns.len(), html_escape(note)));
        }
        out.push_str("</tfoot>\n");
    }
    out.push_str("</table>\n");
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JSON: `{"title":…, "columns":[…], "rows":[{column: value,…},…]}`.
pub fn json(table: &Table) -> String {
    let rows: Vec<serde_json::Value> = table
        .rows
        .iter()
        .map(|row| {
            let map: serde_json::Map<String, serde_json::Value> =
                table.columns.iter().zip(row).map(|(c, v)| (c.clone(), json_value(v))).collect();
            serde_json::Value::Object(map)
        })
        .collect();
    let doc = serde_json::json!({
        "title": table.title,
        "columns": table.columns,
        "rows": rows,
        "notes": table.notes,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// A table back from [`json`]'s text (numbers as floats or integers, text,
/// booleans, nulls), or `None` when the text is not such a document.
pub fn from_json(text: &str) -> Option<Table> {
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let columns: Vec<String> =
        doc["columns"].as_array()?.iter().map(|c| c.as_str().map(str::to_string)).collect::<Option<_>>()?;
    let mut table = Table::new(columns.clone());
    table.title = doc["title"].as_str().map(str::to_string);
    table.notes =
        doc["notes"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string)).collect();
    for row in doc["rows"].as_array()? {
        table.push(
            columns
                .iter()
                .map(|c| match &row[c.as_str()] {
                    serde_json::Value::Null => Cell::Null,
                    serde_json::Value::Bool(b) => Cell::Bool(*b),
                    serde_json::Value::Number(n) => {
                        n.as_i64().map_or_else(|| Cell::Float(n.as_f64().unwrap_or(f64::NAN)), Cell::Int)
                    }
                    serde_json::Value::String(s) => Cell::Text(s.clone()),
                    other => Cell::Text(other.to_string()),
                })
                .collect(),
        );
    }
    Some(table)
}

fn json_value(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Null => serde_json::Value::Null,
        Cell::Int(v) => (*v).into(),
        Cell::Float(v) => serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Cell::Text(s) => s.clone().into(),
        Cell::Bool(b) => (*b).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(["id", "age", "sex"]).with_title("demo");
        t.push(vec!["P1".into(), Cell::Float(47.5), "male".into()]);
        t.push(vec!["P2".into(), Cell::Null, "fe|male, \"x\"".into()]);
        t
    }

    #[test]
    fn terminal_right_aligns_numbers() {
        let s = terminal(&sample(), 80);
        assert!(s.contains(" P1 │ 47.5 │ male"), "{s}");
        assert!(s.contains(" P2 │      │ fe|male"), "{s}");
    }

    #[test]
    fn narrow_terminal_splits_into_blocks_without_losing_columns() {
        let s = terminal(&sample(), 12);
        assert!(s.contains("(columns 1–2 of 3)"), "{s}");
        assert!(s.contains("(columns 3–3 of 3)"), "{s}");
        assert!(s.contains("fe|male"), "{s}");
    }

    #[test]
    fn csv_quotes_and_keeps_precision() {
        let mut t = Table::new(["x", "y"]);
        t.push(vec![Cell::Float(0.1 + 0.2), "a,b".into()]);
        assert_eq!(csv(&t), "x,y\n0.30000000000000004,\"a,b\"\n");
    }

    #[test]
    fn escapes_in_markup_formats() {
        assert!(markdown(&sample()).contains("fe\\|male"));
        assert!(latex(&Table::new(["a_b"])).contains("a\\_b"));
        assert!(html(&sample()).contains("&quot;x&quot;"));
    }
}
