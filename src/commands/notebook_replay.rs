//! `notebook replay FILE`: reruns a saved notebook's cells in a fresh
//! session and compares results (tables by value, figures by data, run
//! metrics), reporting incidental differences apart.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::notebook::{Differences, compare, parse_embedded, run_json};
use crate::output::{Cell, Output, Table};
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};

pub struct NotebookReplay;

impl Command for NotebookReplay {
    fn signature(&self) -> Signature {
        Signature::new("notebook replay", "session", "Replay a saved notebook and compare its results")
            .required("FILE", ArgKind::Path, "a .md or .html notebook written by `notebook save`")
            .table()
            .not_replayable()
            .example("notebook replay reports/session.html", "rerun a notebook and compare")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let file = PathBuf::from(&args.required(0)?.text);
        replay(&file, session.width)
    }
}

fn replay(file: &Path, width: usize) -> Result<Output> {
    let text = std::fs::read_to_string(file).map_err(|e| crate::provenance::io_error(file, e))?;
    let doc = parse_embedded(&text).ok_or_else(|| {
        Error::invalid(
            format!("{}: no embedded radose notebook found", file.display()),
            Some("save one with `notebook save FILE.md|.html`"),
        )
    })?;
    let mut fresh = crate::open_session(Path::new(":memory:"))?;
    fresh.width = width;
    let tolerance = doc["tolerance"].as_f64().unwrap_or(crate::notebook::TOLERANCE);
    let mut t = Table::new(["cell", "command", "result", "detail"]).with_title(format!("replay of {}", file.display()));
    let mut differing = Vec::new();
    let mut incidental_cells = Vec::new();
    for c in doc["cells"].as_array().into_iter().flatten() {
        let index = c["index"].as_u64().unwrap_or(0);
        let command = c["command"].as_str().unwrap_or("").to_string();
        if !c["replayable"].as_bool().unwrap_or(true) {
            t.push(vec![
                Cell::Int(index as i64),
                command.into(),
                "not replayed".into(),
                "it looks at the session or the database, not at data".into(),
            ]);
            continue;
        }
        let statements = crate::syntax::parse(&command, 1)?;
        let mut outputs = Vec::new();
        let mut ok = true;
        let mut error = None;
        let before = fresh.history().len();
        for st in &statements {
            match fresh.execute(st) {
                Ok(o) => outputs.push(o),
                Err(e) => {
                    ok = false;
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let now = match outputs.len() {
            0 => serde_json::Value::Null,
            1 => crate::notebook::output_json(&outputs[0]),
            _ => crate::notebook::output_json(&Output::Many(outputs)),
        };
        let mut d = Differences::default();
        let was_ok = c["ok"].as_bool().unwrap_or(true);
        if was_ok != ok {
            d.results.push(if ok {
                "failed then, succeeds now".to_string()
            } else {
                format!("succeeded then, fails now: {}", error.clone().unwrap_or_default())
            });
        } else if ok {
            compare(&c["output"], &now, "output", tolerance, &mut d);
            // The runs the cell created: their kinds and metrics.
            let runs: Vec<i64> = fresh.history()[before..].iter().flat_map(|h| h.runs.clone()).collect();
            let recorded = c["runs"].as_array().cloned().unwrap_or_default();
            if recorded.len() != runs.len() {
                d.results.push(format!("{} run(s) then, {} now", recorded.len(), runs.len()));
            } else {
                for (k, (rec, id)) in recorded.iter().zip(&runs).enumerate() {
                    let now = run_json(&fresh.store().run_detail(*id)?);
                    compare(rec, &now, &format!("run #{}", k + 1), tolerance, &mut d);
                }
            }
        }
        let listed = |list: &[String]| {
            let more = if list.len() > 3 { format!(" (+{} more)", list.len() - 3) } else { String::new() };
            format!("{}{more}", list.iter().take(3).cloned().collect::<Vec<_>>().join("; "))
        };
        if d.results.is_empty() {
            let detail = if !d.incidental.is_empty() {
                incidental_cells.push(index.to_string());
                format!("incidental only: {}", listed(&d.incidental)).into()
            } else if ok {
                Cell::Null
            } else {
                "an error both times".into()
            };
            t.push(vec![Cell::Int(index as i64), command.into(), "identical".into(), detail]);
        } else {
            differing.push(format!("[{index}] `{command}`: {}", listed(&d.results)));
            t.push(vec![Cell::Int(index as i64), command.into(), "DIFFERS".into(), listed(&d.results).into()]);
        }
    }
    if !incidental_cells.is_empty() {
        t.notes.push(format!(
            "{} cell(s) differ only in incidental values — durations, cache use, run ids — which are not results: \
             cells {}",
            incidental_cells.len(),
            incidental_cells.join(", ")
        ));
    }
    if differing.is_empty() {
        t.notes.push(format!(
            "every replayed cell gave the recorded result (tables by value, figures by the data drawn, run metrics; \
             numbers to {tolerance:e} relative)"
        ));
        Ok(Output::Table(t))
    } else {
        Err(Error::Invalid {
            message: format!(
                "notebook replay: {} cell(s) differ from {}:\n  {}",
                differing.len(),
                file.display(),
                differing.join("\n  ")
            ),
            hint: Some("an input changed, or the session had hidden state; rerun the notebook to refresh it".into()),
        })
    }
}
