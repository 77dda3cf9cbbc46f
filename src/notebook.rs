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
        Output::Note(m) => json!({ "note": m }),
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
        "incidental": t.incidental,
    })
}

/// A run's metrics as a notebook records them: its results, and separately
/// what only describes how it went (durations, cache counts).
pub fn run_json(d: &crate::store::RunDetail) -> Value {
    let values = crate::store::records::run_values(&d.metrics);
    let pick = |incidental: bool| -> serde_json::Map<String, Value> {
        values
            .iter()
            .filter(|(_, v, i)| v.is_finite() && *i == incidental)
            .map(|(k, v, _)| (k.clone(), json!(v)))
            .collect()
    };
    json!({ "kind": d.summary.kind.as_str(), "metrics": pick(false), "incidental": pick(true) })
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
            runs.push(run_json(&session.store().run_detail(id)?));
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
        "tolerance": TOLERANCE,
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
    } else if let Some(m) = o.get("note").and_then(Value::as_str) {
        let _ = write!(out, "_{}_\n\n", m.trim());
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
    table.incidental =
        t["incidental"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string)).collect();
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
    } else if let Some(m) = o.get("note").and_then(Value::as_str) {
        let _ = write!(out, "<p class=\"meta\">{}</p>\n", html_escape(m.trim()));
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

/// The relative tolerance a replay compares numbers with (recorded in each
/// notebook, so a replay uses the tolerance the notebook was saved with).
pub const TOLERANCE: f64 = 1e-9;

/// What a replay found different: in results (a failure), and in incidental
/// values — durations, cache use, run ids — that are reported only.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Differences {
    pub results: Vec<String>,
    pub incidental: Vec<String>,
}

/// The JSON keys under which values are incidental: `Output::Note`'s text
/// and a run's incidental metrics (see [`output_json`] and [`run_json`]).
const INCIDENTAL_KEYS: [&str; 2] = ["note", "incidental"];

/// Compares a recorded output (or run record) with a replayed one. Notes,
/// incidental table columns and incidental run metrics go to
/// `incidental`; everything else — messages, table cells, figure data, run
/// metrics — to `results`, numbers within `tolerance` (relative).
pub fn compare(recorded: &Value, replayed: &Value, path: &str, tolerance: f64, d: &mut Differences) {
    match (recorded, replayed) {
        (Value::Object(a), Value::Object(b)) if a.contains_key("table") && b.contains_key("table") => {
            compare_table(&a["table"], &b["table"], &format!("{path}.table"), tolerance, d);
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, x, y) in union(a, b) {
                let at = format!("{path}.{k}");
                if INCIDENTAL_KEYS.contains(&k) {
                    values(x, y, &at, tolerance, &mut d.incidental);
                } else {
                    compare(x, y, &at, tolerance, d);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), tolerance, d);
            }
        }
        (a, b) => values(a, b, path, tolerance, &mut d.results),
    }
}

/// Every key of two objects with its value on each side (`null` where one
/// side lacks it).
fn union<'a>(
    a: &'a serde_json::Map<String, Value>,
    b: &'a serde_json::Map<String, Value>,
) -> Vec<(&'a str, &'a Value, &'a Value)> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().map(|k| (k.as_str(), a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null))).collect()
}

/// Tables by value, cell by cell; columns either side marks incidental go
/// to `incidental`. Titles and notes under the table (paths, timings) are
/// not results.
fn compare_table(a: &Value, b: &Value, path: &str, tolerance: f64, d: &mut Differences) {
    if a["columns"] != b["columns"] {
        d.results.push(format!("{path}: columns {} then, {} now", a["columns"], b["columns"]));
        return;
    }
    let columns = items(&a["columns"]);
    let incidental =
        |c: usize| columns.get(c).is_some_and(|name| [a, b].iter().any(|t| items(&t["incidental"]).contains(name)));
    let (ra, rb) = (items(&a["rows"]), items(&b["rows"]));
    if ra.len() != rb.len() {
        d.results.push(format!("{path}: {} rows then, {} now", ra.len(), rb.len()));
    }
    for (r, (x, y)) in ra.iter().zip(rb).enumerate() {
        for (c, (u, v)) in items(x).iter().zip(items(y)).enumerate() {
            let at = format!("{path}[{r}].{}", columns.get(c).and_then(Value::as_str).unwrap_or("?"));
            values(u, v, &at, tolerance, if incidental(c) { &mut d.incidental } else { &mut d.results });
        }
    }
}

/// The elements of a JSON array (none for anything else).
fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// Leaf-by-leaf comparison into one list.
fn values(a: &Value, b: &Value, path: &str, tolerance: f64, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() > tolerance * x.abs().max(y.abs()).max(1e-12) {
                out.push(format!("{path}: {x} then, {y} now"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                values(u, v, &format!("{path}[{i}]"), tolerance, out);
            }
        }
        (Value::Array(x), Value::Array(y)) => out.push(format!("{path}: {} entries then, {} now", x.len(), y.len())),
        (Value::Object(x), Value::Object(y)) => {
            for (k, u, v) in union(x, y) {
                values(u, v, &format!("{path}.{k}"), tolerance, out);
            }
        }
        (x, y) if x == y => {}
        (Value::String(x), Value::String(y)) => out.push(format!("{path}: {x:?} then, {y:?} now")),
        (x, y) => out.push(format!("{path}: {x} then, {y} now")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_separates_results_from_incidental_values() {
        let a = json!({"table": {"columns": ["x", "seconds"], "rows": [[1.0, 0.5], ["a", 1]], "notes": ["n1"], "incidental": ["seconds"]}});
        let b = json!({"table": {"columns": ["x", "seconds"], "rows": [[1.0 + 1e-12, 0.7], ["a", 1]], "notes": ["n2"], "incidental": ["seconds"]}});
        let mut d = Differences::default();
        compare(&a, &b, "out", TOLERANCE, &mut d);
        assert!(d.results.is_empty(), "{d:?}");
        assert_eq!(d.incidental, vec!["out.table[0].seconds: 0.5 then, 0.7 now".to_string()]);
        let c =
            json!({"table": {"columns": ["x", "seconds"], "rows": [[2.0, 0.5], ["a", 1]], "incidental": ["seconds"]}});
        let mut d = Differences::default();
        compare(&a, &c, "out", TOLERANCE, &mut d);
        assert_eq!(d.results, vec!["out.table[0].x: 1 then, 2 now".to_string()]);
        // A note is incidental; a message is a result, compared exactly.
        let mut d = Differences::default();
        compare(
            &json!({"many": [{"message": "12 rows"}, {"note": "recorded as run 2"}]}),
            &json!({"many": [{"message": "12 rows"}, {"note": "recorded as run 1"}]}),
            "out",
            TOLERANCE,
            &mut d,
        );
        assert!(d.results.is_empty() && d.incidental.len() == 1, "{d:?}");
        let mut d = Differences::default();
        compare(&json!({"message": "took 0.5 s"}), &json!({"message": "took 0.6 s"}), "out", TOLERANCE, &mut d);
        assert_eq!(d.results.len(), 1);
        // Run records: metrics are results, incidental metrics are not.
        let mut d = Differences::default();
        compare(
            &json!({"kind": "report", "metrics": {"auc": 0.7}, "incidental": {"seconds": 1.0}}),
            &json!({"kind": "report", "metrics": {"auc": 0.7}, "incidental": {"seconds": 2.0}}),
            "run #1",
            TOLERANCE,
            &mut d,
        );
        assert!(d.results.is_empty() && d.incidental.len() == 1, "{d:?}");
    }
}
