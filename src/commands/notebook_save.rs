//! `notebook save FILE.md|FILE.html [--from N] [--to M] [--only-ok]`: the
//! session as a document a colleague can read and rerun (`radose notebook
//! replay FILE`), its cells and their results embedded.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::notebook::{cells, html_doc, markdown_doc, provenance};
use crate::output::Output;
use crate::session::{Command, Session};
use crate::signature::{ArgKind, Args, Signature};
use crate::syntax;

pub struct NotebookSave;

impl Command for NotebookSave {
    fn signature(&self) -> Signature {
        Signature::new("notebook save", "session", "Save the session as a Markdown/HTML notebook")
            .required("FILE", ArgKind::Path, "a .md or .html notebook")
            .named("from", "N", ArgKind::Int, "first cell (default 1)")
            .named("to", "M", ArgKind::Int, "last cell (default the last)")
            .switch("only-ok", "leave out cells that failed")
            .not_replayable()
            .example("notebook save reports/session.html", "this session as a self-contained HTML notebook")
    }

    fn run(&self, args: &Args, session: &mut Session) -> Result<Output> {
        let file = PathBuf::from(&args.required(0)?.text);
        save(args, session, &file)
    }
}

fn save(args: &Args, session: &Session, file: &Path) -> Result<Output> {
    let from: usize = args.parsed("from", "a cell number")?.unwrap_or(1);
    let to: usize = args.parsed("to", "a cell number")?.unwrap_or(usize::MAX);
    let cs = cells(session, from, to, args.has("only-ok"))?;
    if cs.is_empty() {
        return Err(Error::invalid("no cells to save in that range", Some("`history` numbers the cells")));
    }
    let prov = provenance(session, &cs);
    let replay = format!("radose notebook replay {}", syntax::quote(&file.display().to_string()));
    let title = file.file_stem().and_then(|s| s.to_str()).unwrap_or("notebook").to_string();
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    }
    let mut written = vec![file.display().to_string()];
    match ext.as_str() {
        "md" => {
            let fig_dir_name = format!("{title}_files");
            let (text, figs) = markdown_doc(&title, &prov, &cs, &fig_dir_name, &replay);
            if !figs.is_empty() {
                let dir = file.with_file_name(&fig_dir_name);
                std::fs::create_dir_all(&dir).map_err(|e| crate::provenance::io_error(&dir, e))?;
                for (name, svg) in &figs {
                    let p = dir.join(name);
                    crate::provenance::write_atomic(&p, svg.as_bytes())?;
                    written.push(p.display().to_string());
                }
            }
            crate::provenance::write_atomic(file, text.as_bytes())?;
        }
        "html" | "htm" => crate::provenance::write_atomic(file, html_doc(&title, &prov, &cs, &replay).as_bytes())?,
        _ => {
            let tok = args.required(1)?;
            return Err(Error::InvalidValue {
                token: tok.text.clone(),
                what: "FILE".into(),
                reason: "a notebook is saved as .md or .html".into(),
                span: tok.span,
            });
        }
    }
    Ok(Output::Message(format!("saved {} cells to {} (replay: `{replay}`)", cs.len(), written.join(", "))))
}
