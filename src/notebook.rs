//! Notebooks: a session's cells (command, output, figures, runs, duration,
//! error) as a readable Markdown or self-contained HTML document that also
//! embeds the cells as JSON, and the replay that re-executes them in a fresh
//! session and compares each output with the recorded one.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::output::{Cell, Output, Table};
use crate::render::table::{html, html_escape, markdown};
use crate::session::Session;

/// A cell as recorded.
#[derive(Debug, Clone)]
pub struct NoteCell {
    pub index: usize,
    pub command: String,
    pub ok: bool,
    pub error: Option<String>,
    pub seconds: f64,
    pub replayable: bool,
    pub output: Value,
    /// Per run created: (kind, summary metrics).
    pub runs: Vec<Value>,
    /// (title, svg) of each figure.
    pub figures: Vec<(String, String)>,
}

/// The JSON form of an output (tables by value, figures by the data drawn).
pub fn output_json(o: &Output) -> Value {
    match o {
        Output::Nothing => Value::Null,
        Output::Message(m) => json!({ "message": m }),
        Output::Table(t) => json!({ "table": table_json(t) }),
        Output::Figure(f) => json!({ "figure": { "title": f.title, "data": f.data } }),
        Output::Many(items) => json!({ "many": items.iter().map(output_json).collect::<Vec<_>>() }),
    }
}

fn table_json(t: &Table) -> Value {
    let cell = |c: &Cell| match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => json!(i),
        Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Cell::Text(s) => json!(s),
        Cell::Bool(b) => json!(b),
    };
    json!({
        "title": t.title,
        "columns": t.columns,
        "rows": t.rows.iter().map(|r| r.iter().map(cell).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "notes": t.notes,
    })
}

/// The session's cells `from..=to` (1-based), optionally without errors.
pub fn cells(session: &Session, from: usize, to: usize, only_ok: bool) -> crate::error::Result<Vec<NoteCell>> {
    let mut out = Vec::new();
    for (i, h) in session.history().iter().enumerate() {
        let index = i + 1;
        if index < from || index > to || (only_ok && !h.ok) || h.text.trim_start().starts_with("notebook") {
            continue;
        }
        let mut runs = Vec::new();
        for &id in &h.runs {
            let d = session.store().run_detail(id)?;
            let metrics: serde_json::Map<String, Value> = d
                .metrics
                .iter()
                .filter(|m| m.fold.is_none() && m.step.is_none() && m.value.is_finite())
                .map(|m| (m.key.clone(), json!(m.value)))
                .collect();
            runs.push(json!({ "kind": d.summary.kind, "metrics": metrics }));
        }
        let figures = h
            .output
            .as_ref()
            .map(|o| o.figures().iter().map(|f| (f.title.clone(), f.svg.clone())).collect())
            .unwrap_or_default();
        out.push(NoteCell {
            index,
            command: h.text.clone(),
            ok: h.ok,
            error: h.error.clone(),
            seconds: h.duration.as_secs_f64(),
            replayable: h.replayable,
            output: h.output.as_ref().map_or(Value::Null, output_json),
            runs,
            figures,
        });
    }
    Ok(out)
}

/// The embedded, machine-readable notebook.
pub fn embedded(cells: &[NoteCell]) -> Value {
    json!({
        "radose_notebook": 1,
        "version": env!("CARGO_PKG_VERSION"),
        "cells": cells.iter().map(|c| json!({
            "index": c.index, "command": c.command, "ok": c.ok, "error": c.error,
            "replayable": c.replayable, "output": c.output, "runs": c.runs,
        })).collect::<Vec<_>>(),
    })
}

/// Provenance lines for the header.
pub fn provenance(session: &Session, cells: &[NoteCell]) -> Vec<(String, String)> {
    let p = session.store().provenance();
    let mut rows = vec![
        ("program".to_string(), format!("radose {}", p.version)),
        ("git commit".to_string(), p.git_commit.clone().unwrap_or_else(|| "—".into())),
        ("run database".to_string(), session.store().path().display().to_string()),
        ("written".to_string(), crate::provenance::now_iso()),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for h in session.history().iter().filter(|h| cells.iter().any(|c| c.command == h.text)) {
        for &id in &h.runs {
            if let Ok(ds) = session.store().datasets(id) {
                for d in ds {
                    if seen.insert((d.path.clone(), d.sha256.clone())) {
                        rows.push(("input".into(), format!("{} sha256 {}", d.path, d.sha256)));
                    }
                }
            }
        }
    }
    rows
}

fn output_markdown(o: &Value, out: &mut String, figure_links: &mut dyn FnMut() -> Option<String>) {
    if let Some(m) = o.get("message").and_then(Value::as_str) {
        let _ = write!(out, "```text\n{m}\n```\n\n");
    } else if let Some(t) = o.get("table") {
        out.push_str(&markdown(&table_from_json(t)));
        out.push('\n');
    } else if let Some(f) = o.get("figure") {
        let title = f.get("title").and_then(Value::as_str).unwrap_or("figure");
        if let Some(link) = figure_links() {
            let _ = write!(out, "![{title}]({link})\n\n");
        }
    } else if let Some(items) = o.get("many").and_then(Value::as_array) {
        for i in items {
            output_markdown(i, out, figure_links);
        }
    }
}

/// Rebuilds a table from its JSON form.
pub fn table_from_json(t: &Value) -> Table {
    let mut table =
        Table::new(t["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_string)));
    table.title = t["title"].as_str().map(str::to_string);
    table.notes = t["notes"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string)).collect();
    for r in t["rows"].as_array().into_iter().flatten() {
        let row: Vec<Cell> = r
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| match v {
                Value::Null => Cell::Null,
                Value::Bool(b) => Cell::Bool(*b),
                Value::Number(n) if n.is_i64() => Cell::Int(n.as_i64().unwrap_or_default()),
                Value::Number(n) => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => Cell::Text(s.clone()),
                other => Cell::Text(other.to_string()),
            })
            .collect();
        table.rows.push(row);
    }
    table
}

/// The notebook as Markdown; figures are written by the caller to the
/// returned (file name, svg) list and linked from `figures_dir`.
pub fn markdown_doc(
    title: &str,
    prov: &[(String, String)],
    cells: &[NoteCell],
    figures_dir: &str,
    replay: &str,
) -> (String, Vec<(String, String)>) {
    let mut out = format!("# {title}\n\n| provenance | |\n| --- | --- |\n");
    for (k, v) in prov {
        let _ = writeln!(out, "| {k} | {} |", v.replace('|', "\\|"));
    }
    out.push('\n');
    let mut files = Vec::new();
    for c in cells {
        let _ = write!(out, "## [{}] `{}`\n\n", c.index, c.command.replace('`', "'"));
        if let Some(e) = &c.error {
            let _ = write!(
                out,
                "> **error** (the session went on)\n>\n> ```text\n{}\n> ```\n\n",
                e.lines().map(|l| format!("> {l}")).collect::<Vec<_>>().join("\n")
            );
        }
        let mut k = 0;
        let figs = &c.figures;
        let mut link = || {
            let (title, svg) = figs.get(k)?;
            k += 1;
            let name = format!("cell{}-{}.svg", c.index, k);
            files.push((name.clone(), svg.clone()));
            let _ = title;
            Some(format!("{figures_dir}/{name}"))
        };
        output_markdown(&c.output, &mut out, &mut link);
        let _ = write!(
            out,
            "_{:.2} s{}_\n\n",
            c.seconds,
            if c.runs.is_empty() { String::new() } else { format!(" · {} run(s)", c.runs.len()) }
        );
    }
    let _ = write!(out, "---\n\nReplay: `{replay}`\n\n<!-- radose-notebook\n{}\n-->\n", embedded(cells));
    (out, files)
}

fn output_html(o: &Value, figures: &mut std::slice::Iter<'_, (String, String)>, out: &mut String) {
    if let Some(m) = o.get("message").and_then(Value::as_str) {
        let _ = write!(out, "<pre class=\"out\">{}</pre>\n", html_escape(m));
    } else if let Some(t) = o.get("table") {
        out.push_str(&html(&table_from_json(t)));
    } else if o.get("figure").is_some() {
        if let Some((title, svg)) = figures.next() {
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            let _ = write!(out, "<figure>{body}<figcaption>{}</figcaption></figure>\n", html_escape(title));
        }
    } else if let Some(items) = o.get("many").and_then(Value::as_array) {
        for i in items {
            output_html(i, figures, out);
        }
    }
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h2{font-size:1.05em;margin-top:1.8em}h2 code{background:#f3f3f3;padding:.15em .4em}pre.out{background:#fafafa;border:1px solid #eee;padding:.6em;overflow-x:auto}\
.error{border-left:4px solid #b00020;background:#fff4f4;padding:.4em .8em}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .5em}th{background:#f2f2f2}td.num{text-align:right}caption{text-align:left;font-weight:bold}\
tfoot td{border:none;color:#555}figure svg{max-width:100%;height:auto}.meta{color:#666;font-size:.85em}";

/// The notebook as self-contained HTML (inline SVG, embedded cells).
pub fn html_doc(title: &str, prov: &[(String, String)], cells: &[NoteCell], replay: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{0}</title><style>{CSS}</style></head><body>\n<h1>{0}</h1>\n<table><caption>provenance</caption>\n",
        html_escape(title)
    );
    for (k, v) in prov {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>\n", html_escape(k), html_escape(v));
    }
    out.push_str("</table>\n");
    for c in cells {
        let _ = write!(out, "<h2>[{}] <code>{}</code></h2>\n", c.index, html_escape(&c.command));
        if let Some(e) = &c.error {
            let _ = write!(
                out,
                "<div class=\"error\"><strong>error</strong> (the session went on)<pre>{}</pre></div>\n",
                html_escape(e)
            );
        }
        let mut figs = c.figures.iter();
        output_html(&c.output, &mut figs, &mut out);
        let _ = write!(
            out,
            "<p class=\"meta\">{:.2} s{}</p>\n",
            c.seconds,
            if c.runs.is_empty() { String::new() } else { format!(" · {} run(s)", c.runs.len()) }
        );
    }
    let json = embedded(cells).to_string().replace("</", "<\\/");
    let _ = write!(
        out,
        "<hr/><p class=\"meta\">Replay: <code>{}</code></p>\n<script type=\"application/json\" id=\"radose-notebook\">{json}</script>\n</body></html>\n",
        html_escape(replay)
    );
    out
}

/// Extracts the embedded cells from a saved notebook (Markdown or HTML).
pub fn parse_embedded(text: &str) -> Option<Value> {
    let json = if let Some(i) = text.find("<!-- radose-notebook\n") {
        let rest = &text[i + "<!-- radose-notebook\n".len()..];
        &rest[..rest.find("\n-->")?]
    } else {
        let start = text.find("id=\"radose-notebook\">")? + "id=\"radose-notebook\">".len();
        let rest = &text[start..];
        &rest[..rest.find("</script>")?]
    };
    serde_json::from_str(&json.replace("<\\/", "</")).ok()
}

/// Masks what legitimately changes between runs: durations ("0.52 s",
/// "12.3s") and run ids in "run N".
pub fn normalise(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let num = |t: &str| !t.is_empty() && t.trim_end_matches(['s', ',', '.', ')']).parse::<f64>().is_ok();
        if (num(w) && (next.starts_with('s') && next.len() <= 2))
            || (w.ends_with('s') && w.len() > 1 && w[..w.len() - 1].parse::<f64>().is_ok())
        {
            out.push("#");
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

/// Differences between a recorded and a replayed output (empty: identical).
pub fn compare(recorded: &Value, replayed: &Value, path: &str, diffs: &mut Vec<String>) {
    match (recorded, replayed) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            if (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1e-12) {
                diffs.push(format!("{path}: {a} then, {b} now"));
            }
        }
        (Value::String(a), Value::String(b)) => {
            if normalise(a) != normalise(b) {
                diffs.push(format!("{path}: {a:?} then, {b:?} now"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                diffs.push(format!("{path}: {} entries then, {} now", a.len(), b.len()));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, x) in a {
                // Notes and titles carry paths and timings; values are compared.
                if k == "notes" || k == "title" {
                    continue;
                }
                match b.get(k) {
                    Some(y) => compare(x, y, &format!("{path}.{k}"), diffs),
                    None => diffs.push(format!("{path}.{k}: missing now")),
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => diffs.push(format!("{path}: {a} then, {b} now")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_masks_durations_only() {
        assert_eq!(normalise("simulated in 0.6 s, images 1.2 MB"), "simulated in # s, images 1.2 MB");
        assert_eq!(normalise("took 12.5s"), "took #");
        assert_eq!(normalise("rows 1–5 of 97"), "rows 1–5 of 97");
    }

    #[test]
    fn compare_finds_value_changes() {
        let a = json!({"table": {"columns": ["x"], "rows": [[1.0], ["a"]], "notes": ["n1"]}});
        let b = json!({"table": {"columns": ["x"], "rows": [[1.0 + 1e-12], ["a"]], "notes": ["n2"]}});
        let mut d = Vec::new();
        compare(&a, &b, "out", &mut d);
        assert!(d.is_empty(), "{d:?}");
        let c = json!({"table": {"columns": ["x"], "rows": [[2.0], ["a"]]}});
        compare(&a, &c, "out", &mut d);
        assert_eq!(d, vec!["out.table.rows[0][0]: 1 then, 2 now".to_string()]);
    }
}
