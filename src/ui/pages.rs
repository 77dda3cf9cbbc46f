//! The dashboard's pages and JSON endpoints, each a function of the read-only
//! store and the request: the runs table (the `runs --where` language,
//! sorting, kind/experiment/status facets, live progress of running runs),
//! one run (parameters, metrics, inputs, artifacts, child runs, learning
//! curves, ROC and calibration), runs compared (`compare`'s table, ROC and
//! learning curves overlaid) and an experiment's Tables 2–3 with the
//! published check. Every text from the database is HTML-escaped; every
//! figure is a plotters SVG from `render::figures`.

use std::path::{Path, PathBuf};

use super::http::{Request, Response, percent_encode, same_secret};
use crate::error::{Error, Result};
use crate::output::{Cell, Table};
use crate::render::figures::Figure;
use crate::render::table::html_escape as esc;
use crate::store::query::{Expr, Field, Op, Value, column};
use crate::store::{RunDetail, RunId, RunKind, RunStatus, Store};

/// What every worker shares.
pub struct Shared {
    /// The database's artifact folder (`artifacts/` beside it): a run's files
    /// are served only from `artifacts/run-ID/`.
    pub artifacts: PathBuf,
    pub token: Option<String>,
    pub published: Option<crate::report::Published>,
}

/// Rows the runs table shows without `limit`.
const DEFAULT_LIMIT: usize = 200;
/// The most rows one request may ask for.
const MAX_LIMIT: usize = 5000;
/// The cookie a token given once in the address is kept in.
const TOKEN_COOKIE: &str = "radose_token";

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// The response to `req`.
pub fn answer(store: &Store, shared: &Shared, req: &Request) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        let mut r = Response::error(405, "the dashboard is read-only: GET and HEAD only");
        r.headers.push(("Allow".into(), "GET, HEAD".into()));
        return r;
    }
    let mut set_cookie = None;
    if let Some(token) = &shared.token {
        let bearer = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let cookie = req.header("cookie").and_then(|c| {
            c.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == TOKEN_COOKIE).map(|(_, v)| v)
        });
        let query = req.param("token");
        let ok = [bearer, cookie, query].into_iter().flatten().any(|t| same_secret(t, token));
        if !ok {
            return Response::error(401, "this dashboard needs its token: open it once as /?token=TOKEN");
        }
        if query.is_some() {
            set_cookie = Some(format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"));
        }
    }
    let mut resp = match route(store, shared, req) {
        Ok(r) => r,
        Err(Failure::NotFound(m)) => Response::error(404, &m),
        Err(Failure::Bad(e, line)) => Response::error(400, e.render(line.as_deref()).trim_end()),
        Err(Failure::Internal(e)) => Response::error(500, &e.to_string()),
    };
    if let Some(c) = set_cookie {
        resp.headers.push(("Set-Cookie".into(), c));
    }
    resp
}

/// Why a page could not be made.
enum Failure {
    NotFound(String),
    /// A bad request: the diagnostic the shell would print, under the text typed.
    Bad(Error, Option<String>),
    Internal(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Store { .. } | Error::Io { .. } => Failure::Internal(e),
            other => Failure::Bad(other, None),
        }
    }
}

type Page = std::result::Result<Response, Failure>;

fn route(store: &Store, shared: &Shared, req: &Request) -> Page {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] => runs_page(store, req),
        ["api", "runs"] => runs_json(store, req),
        ["run", id] => run_page(store, shared, run_id(id)?),
        ["api", "run", id] => run_json(store, run_id(id)?),
        ["run", id, "figure", name] => run_figure(store, run_id(id)?, name),
        ["run", id, "artifact", n] => artifact(store, shared, run_id(id)?, n),
        ["compare"] => compare_page(store, req),
        ["compare", name] => compare_figure(store, req, name),
        ["api", "compare"] => {
            let ids = compare_ids(req)?;
            let t = crate::workflow::compare::compare_table(store, &ids, req.param("all").is_some())?;
            Ok(Response::new(200, "application/json", crate::render::table::json(&t)))
        }
        ["experiments"] => experiments_page(store),
        ["experiment", name] => experiment_page(store, shared, name),
        ["api", "experiment", name] => experiment_json(store, shared, name),
        ["static", "style.css"] => Ok(Response::new(200, "text/css; charset=utf-8", STYLE)),
        ["static", "app.js"] => Ok(Response::new(200, "text/javascript; charset=utf-8", SCRIPT)),
        _ => Err(Failure::NotFound(format!("no page at {}", req.path))),
    }
}

fn run_id(text: &str) -> std::result::Result<RunId, Failure> {
    text.parse().map_err(|_| Failure::NotFound(format!("`{text}` is not a run id")))
}

/// The run's detail, or 404.
fn detail(store: &Store, id: RunId) -> std::result::Result<RunDetail, Failure> {
    let found =
        store.query_runs(Some(&Expr::Cmp(Field::Column("r.id"), Op::Eq, Value::Number(id as f64))), None, false, 1)?;
    if found.is_empty() {
        return Err(Failure::NotFound(format!("no run {id} in this database")));
    }
    Ok(store.run_detail(id)?)
}

/// A whole page around `body`.
fn page(title: &str, body: &str) -> Response {
    Response::html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — radose</title><link rel=\"stylesheet\" href=\"/static/style.css\">\
         <script src=\"/static/app.js\" defer></script></head>\n<body>\
         <header><a class=\"brand\" href=\"/\">radose</a><nav><a href=\"/\">Runs</a>\
         <a href=\"/experiments\">Experiments</a></nav><span class=\"ro\">read-only</span></header>\n\
         <main>\n<h1>{}</h1>\n{body}</main></body></html>\n",
        esc(title),
        esc(title)
    ))
}

fn badge(status: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(status), esc(status))
}

/// `2026-12-02T03:31:19.878Z` → `2026-12-02 03:31:19`.
fn when(t: &str) -> String {
    t.replacen('T', " ", 1).split('.').next().unwrap_or(t).trim_end_matches('Z').to_string()
}

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite()).map_or(String::new(), |v| crate::output::format_sig(v, 3))
}

// ---------------------------------------------------------------- runs

/// The runs a request asks for: (runs, the `where` text typed).
struct RunQuery {
    filter: Option<Expr>,
    sort: Option<Field>,
    desc: bool,
    limit: usize,
}

fn run_query(req: &Request) -> std::result::Result<RunQuery, Failure> {
    let mut filter: Option<Expr> = None;
    let mut and = |e: Expr| {
        filter = Some(match filter.take() {
            Some(f) => Expr::And(Box::new(f), Box::new(e)),
            None => e,
        })
    };
    if let Some(text) = req.param("where").map(str::trim).filter(|t| !t.is_empty()) {
        let e = crate::store::query::parse(text).map_err(|e| Failure::Bad(e, Some(text.to_string())))?;
        and(e);
    }
    if let Some(ids) = req.param("ids") {
        let ids: Vec<Value> = ids
            .split(',')
            .map(|s| s.trim().parse::<i64>().map(|i| Value::Number(i as f64)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Failure::Bad(Error::invalid(format!("ids={ids}: expected run ids like 3,5,8"), None), None))?;
        and(Expr::In(Field::Column("r.id"), ids, false));
    }
    for facet in ["kind", "status", "experiment"] {
        if let (Some(v), Some(col)) = (req.param(facet).filter(|v| !v.is_empty()), column(facet)) {
            and(Expr::Cmp(col, Op::Eq, Value::Text(v.to_string())));
        }
    }
    // Top-level runs unless child runs are asked for (a child kind's facet asks).
    if req.param("children").is_none() && req.param("ids").is_none() && req.param("kind").is_none() {
        if let Some(parent) = column("parent") {
            and(Expr::Absent(parent));
        }
    }
    let sort = match req.param("sort").map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(crate::store::query::parse_field(s).map_err(|e| Failure::Bad(e, Some(s.to_string())))?),
        None => None,
    };
    let desc = req.param("desc").is_some() || sort.is_none();
    let limit = match req.param("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| Failure::Bad(Error::invalid(format!("limit={l}: expected a number of runs"), None), None))?,
        None => DEFAULT_LIMIT,
    }
    .clamp(1, MAX_LIMIT);
    Ok(RunQuery { filter, sort, desc, limit })
}

/// One row of the runs table.
struct RunRow {
    id: RunId,
    kind: String,
    status: String,
    started: String,
    ended: Option<String>,
    command: String,
    experiment: Option<String>,
    auc_pooled: Option<f64>,
    auc_mean: Option<f64>,
    children: i64,
    progress: Option<String>,
}

fn run_rows(store: &Store, q: &RunQuery) -> Result<Vec<RunRow>> {
    let runs = store.query_runs(q.filter.as_ref(), q.sort.as_ref(), q.desc, q.limit)?;
    let ids: Vec<RunId> = runs.iter().map(|(r, _)| r.id).collect();
    let overview: std::collections::HashMap<RunId, crate::store::RunOverview> =
        store.run_overview(&ids)?.into_iter().map(|o| (o.id, o)).collect();
    let mut rows = Vec::with_capacity(runs.len());
    for (r, _) in runs {
        let o = overview.get(&r.id);
        let progress = if r.status == RunStatus::Running { progress(store, r.id, r.kind)? } else { None };
        rows.push(RunRow {
            id: r.id,
            kind: r.kind.as_str().to_string(),
            status: r.status.as_str().to_string(),
            started: r.started_at,
            ended: r.ended_at,
            command: r.command,
            experiment: o.and_then(|o| o.experiment.clone()),
            auc_pooled: o.and_then(|o| o.auc_pooled),
            auc_mean: o.and_then(|o| o.auc_mean),
            children: o.map_or(0, |o| o.children),
            progress,
        });
    }
    Ok(rows)
}

/// A running run's progress: fold runs finished and the epoch the running
/// fold reached (deep models), or child runs finished.
pub fn progress(store: &Store, id: RunId, kind: RunKind) -> Result<Option<String>> {
    // Every descendant.
    let mut all = Vec::new();
    let mut stack = vec![id];
    while let Some(r) = stack.pop() {
        for c in store.children_of(r)? {
            stack.push(c.id);
            all.push(c);
        }
    }
    let deep = matches!(kind, RunKind::Train | RunKind::Test | RunKind::TrainConfig | RunKind::TrainOuter);
    if deep {
        let folds: Vec<&crate::store::RunSummary> = all.iter().filter(|c| c.kind == RunKind::TrainFold).collect();
        let done = folds.iter().filter(|c| c.status == RunStatus::Finished).count();
        let running = folds.iter().filter(|c| c.status == RunStatus::Running).map(|c| c.id).max();
        let (run, total) = match running {
            Some(f) => {
                let parent = folds.iter().find(|c| c.id == f).and_then(|c| c.parent);
                let epochs = match parent {
                    Some(p) => {
                        store.run_detail(p)?.params.iter().find(|(k, _)| k == "epochs").map(|(_, v)| v.display())
                    }
                    None => None,
                };
                (f, epochs)
            }
            None => (id, None),
        };
        let epoch = store.latest_step(run, crate::store::records::curve::TRAIN_LOSS)?.map(|(e, _)| e);
        let mut text = format!("{done} fold{} done", if done == 1 { "" } else { "s" });
        if let Some(e) = epoch {
            text.push_str(&format!(" · epoch {e}{}", total.map(|t| format!(" of {t}")).unwrap_or_default()));
        }
        return Ok(Some(text));
    }
    if all.is_empty() {
        return Ok(None);
    }
    let done = all.iter().filter(|c| c.status == RunStatus::Finished).count();
    Ok(Some(format!("{done} of {} child runs finished", all.len())))
}

/// A link to the runs page with `query`'s parameters and one changed.
fn runs_link(req: &Request, key: &str, value: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        req.query.iter().filter(|(k, _)| k != key && k != "token").cloned().collect();
    if !value.is_empty() {
        pairs.push((key.to_string(), value.to_string()));
    }
    let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
    format!("/?{}", q.join("&"))
}

fn runs_page(store: &Store, req: &Request) -> Page {
    let q = run_query(req)?;
    let rows = run_rows(store, &q)?;
    let val = |k: &str| esc(req.param(k).unwrap_or_default());
    let checked = |k: &str, default: bool| {
        if req.param(k).is_some() || (default && req.query.is_empty()) { " checked" } else { "" }
    };
    let mut body = format!(
        "<form class=\"filter\" method=\"get\" action=\"/\">\
         <label>where <input name=\"where\" size=\"60\" value=\"{}\" placeholder=\"kind = train and auc_pooled &gt; 0.7\"></label> \
         <label>sort <input name=\"sort\" size=\"14\" value=\"{}\" placeholder=\"auc_pooled\"></label> \
         <label><input type=\"checkbox\" name=\"desc\" value=\"1\"{}> descending</label> \
         <label><input type=\"checkbox\" name=\"children\" value=\"1\"{}> child runs too</label> \
         <button type=\"submit\">Filter</button></form>\n",
        val("where"),
        val("sort"),
        checked("desc", false),
        checked("children", false),
    );
    // Facets: kinds and experiments with their counts, status.
    body.push_str("<div class=\"facets\"><span>kind:</span>");
    body.push_str(&format!("<a href=\"{}\">all</a>", esc(&runs_link(req, "kind", ""))));
    for (k, n) in store.kind_counts()? {
        let on = if req.param("kind") == Some(k.as_str()) { " class=\"on\"" } else { "" };
        body.push_str(&format!("<a{on} href=\"{}\">{} ({n})</a>", esc(&runs_link(req, "kind", &k)), esc(&k)));
    }
    body.push_str("</div><div class=\"facets\"><span>experiment:</span>");
    body.push_str(&format!("<a href=\"{}\">all</a>", esc(&runs_link(req, "experiment", ""))));
    for (e, n) in store.experiment_counts()? {
        let on = if req.param("experiment") == Some(e.as_str()) { " class=\"on\"" } else { "" };
        body.push_str(&format!("<a{on} href=\"{}\">{} ({n})</a>", esc(&runs_link(req, "experiment", &e)), esc(&e)));
    }
    body.push_str("</div><div class=\"facets\"><span>status:</span>");
    body.push_str(&format!("<a href=\"{}\">all</a>", esc(&runs_link(req, "status", ""))));
    for s in RunStatus::ALL {
        let on = if req.param("status") == Some(s.as_str()) { " class=\"on\"" } else { "" };
        body.push_str(&format!("<a{on} href=\"{}\">{}</a>", esc(&runs_link(req, "status", s.as_str())), s.as_str()));
    }
    body.push_str("</div>\n");
    body.push_str(&format!(
        "<form method=\"get\" action=\"/compare\"><p class=\"count\">{} run{} shown{}</p>\
         <table class=\"runs\" id=\"runs\"><thead><tr><th></th><th>run</th><th>kind</th><th>status</th>\
         <th>experiment</th><th>started</th><th>ended</th><th class=\"num\">AUC</th><th class=\"num\">AUC fold mean</th>\
         <th>progress</th><th>command</th></tr></thead><tbody>\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if rows.len() == q.limit { format!(" (the first {}; `limit=` shows more)", q.limit) } else { String::new() }
    ));
    for r in &rows {
        let children =
            if r.children > 0 { format!(" <span class=\"sub\">+{}</span>", r.children) } else { String::new() };
        body.push_str(&format!(
            "<tr data-run=\"{id}\" data-status=\"{status}\"><td><input type=\"checkbox\" name=\"runs\" value=\"{id}\"></td>\
             <td><a href=\"/run/{id}\">{id}</a>{children}</td><td>{kind}</td><td>{badge}</td><td>{exp}</td><td>{started}</td>\
             <td>{ended}</td><td class=\"num\">{ap}</td><td class=\"num\">{am}</td><td class=\"progress\">{progress}</td>\
             <td class=\"cmd\">{cmd}</td></tr>\n",
            id = r.id,
            status = esc(&r.status),
            kind = esc(&r.kind),
            badge = badge(&r.status),
            exp = esc(r.experiment.as_deref().unwrap_or_default()),
            started = esc(&when(&r.started)),
            ended = esc(&r.ended.as_deref().map(when).unwrap_or_default()),
            ap = num(r.auc_pooled),
            am = num(r.auc_mean),
            progress = esc(r.progress.as_deref().unwrap_or_default()),
            cmd = esc(&r.command),
        ));
    }
    body.push_str("</tbody></table><button type=\"submit\">Compare the selected runs</button></form>\n");
    Ok(page("Runs", &body))
}

fn runs_json(store: &Store, req: &Request) -> Page {
    let q = run_query(req)?;
    let rows = run_rows(store, &q)?;
    let runs: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "kind": r.kind, "status": r.status, "started": r.started, "ended": r.ended,
                "command": r.command, "experiment": r.experiment, "auc_pooled": r.auc_pooled.filter(|v| v.is_finite()),
                "auc_mean": r.auc_mean.filter(|v| v.is_finite()), "children": r.children, "progress": r.progress,
            })
        })
        .collect();
    Ok(Response::json(&serde_json::json!({ "count": runs.len(), "runs": runs })))
}

// ---------------------------------------------------------------- one run

/// The figures a run of `kind` has: (file name, caption).
fn figures_of(store: &Store, d: &RunDetail) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if matches!(d.summary.kind, RunKind::Train | RunKind::TrainConfig | RunKind::TrainFold)
        && crate::report::learning_curves(store, d.summary.id).ok().flatten().is_some_and(|p| !p.folds.is_empty())
    {
        out.push(("curves", "Learning curves: loss and held-out AUC by epoch, per fold"));
    }
    if d.summary.kind.is_model_result() && d.predictions > 0 {
        out.push(("roc", "ROC curves (folds with their mean ± SD, or the test set)"));
        out.push(("calibration", "Calibration"));
    }
    out
}

/// The path of artifact `path` of run `id` when it lies inside the run's
/// own artifact folder (symbolic links resolved), else `None`.
fn servable(shared: &Shared, id: RunId, path: &str) -> Option<PathBuf> {
    let base = shared.artifacts.join(format!("run-{id}")).canonicalize().ok()?;
    let file = Path::new(path).canonicalize().ok()?;
    (file.starts_with(&base) && file.is_file()).then_some(file)
}

fn table_html(title: &str, columns: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new(columns.iter().map(|c| c.to_string()));
    t.title = Some(title.to_string());
    for r in rows {
        t.push(r.into_iter().map(Cell::Text).collect());
    }
    crate::render::table::html(&t)
}

/// The children of `id` as a nested list, `depth` levels down.
fn tree(store: &Store, id: RunId, depth: usize) -> Result<String> {
    let children = store.children_of(id)?;
    if children.is_empty() {
        return Ok(String::new());
    }
    let overview: std::collections::HashMap<RunId, crate::store::RunOverview> = store
        .run_overview(&children.iter().map(|c| c.id).collect::<Vec<_>>())?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut out = String::from("<ul class=\"tree\">");
    for child in &children {
        let (c, kind, status) = (&child.id, child.kind.as_str(), child.status.as_str());
        let auc = overview.get(c).and_then(|o| o.auc_pooled.or(o.auc_mean));
        let auc = if auc.is_some_and(f64::is_finite) { format!(" AUC {}", num(auc)) } else { String::new() };
        out.push_str(&format!("<li><a href=\"/run/{c}\">run {c}</a> {} {}{auc}", esc(kind), badge(status)));
        if depth > 1 {
            out.push_str(&tree(store, *c, depth - 1)?);
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    Ok(out)
}

fn run_page(store: &Store, shared: &Shared, id: RunId) -> Page {
    let d = detail(store, id)?;
    let s = &d.summary;
    let mut body = format!("<pre class=\"cmd\">{}</pre>\n", esc(&s.command));
    let facts = vec![
        vec!["kind".into(), s.kind.as_str().into()],
        vec!["status".into(), s.status.as_str().into()],
        vec!["parent".into(), s.parent.map(|p| p.to_string()).unwrap_or_default()],
        vec!["experiment".into(), d.experiment.clone().unwrap_or_default()],
        vec!["started".into(), s.started_at.clone()],
        vec!["ended".into(), s.ended_at.clone().unwrap_or_default()],
        vec!["seed".into(), d.seed.map(|v| v.to_string()).unwrap_or_default()],
        vec!["radose".into(), d.program_version.clone()],
        vec!["commit".into(), d.git_commit.clone().unwrap_or_default()],
        vec!["host / pid".into(), format!("{} / {}", d.host, d.pid)],
        vec!["error".into(), d.error.clone().unwrap_or_default()],
    ];
    body.push_str(&format!("<div class=\"status\">{}</div>", badge(s.status.as_str())));
    if s.status == RunStatus::Running {
        if let Some(p) = progress(store, id, s.kind)? {
            body.push_str(&format!("<p class=\"live\" data-reload=\"5\">{}</p>", esc(&p)));
        }
    }
    if let Some(p) = s.parent {
        body.push_str(&format!("<p>part of <a href=\"/run/{p}\">run {p}</a></p>"));
    }
    for (name, caption) in figures_of(store, &d) {
        body.push_str(&format!(
            "<figure><img src=\"/run/{id}/figure/{name}.svg\" alt=\"{caption}\"><figcaption>{caption}</figcaption></figure>\n"
        ));
    }
    body.push_str("<div class=\"grid\">");
    body.push_str(&table_html("Run", &["field", "value"], facts));
    let params = d.params.iter().map(|(k, v)| vec![k.clone(), v.display()]).collect();
    body.push_str(&table_html("Parameters", &["parameter", "value"], params));
    body.push_str("</div>");
    // Run-level metrics, then per-fold ones; per-epoch curves are counted.
    let run_level: Vec<Vec<String>> = d
        .metrics
        .iter()
        .filter(|m| m.step.is_none() && m.fold.is_none())
        .map(|m| vec![m.key.clone(), num(Some(m.value))])
        .collect();
    let per_fold: Vec<Vec<String>> = d
        .metrics
        .iter()
        .filter(|m| m.step.is_none() && m.fold.is_some())
        .map(|m| vec![m.key.clone(), m.fold.map(|f| (f + 1).to_string()).unwrap_or_default(), num(Some(m.value))])
        .collect();
    let epochs = d.metrics.iter().filter(|m| m.step.is_some()).count();
    body.push_str("<div class=\"grid\">");
    if !run_level.is_empty() {
        body.push_str(&table_html("Metrics", &["metric", "value"], run_level));
    }
    if !per_fold.is_empty() {
        body.push_str(&table_html("Metrics by fold", &["metric", "fold", "value"], per_fold));
    }
    body.push_str("</div>");
    if epochs > 0 {
        body.push_str(&format!("<p class=\"note\">{epochs} per-epoch values (drawn above)</p>"));
    }
    if !d.datasets.is_empty() {
        let rows = d.datasets.iter().map(|ds| vec![ds.name.clone(), ds.path.clone(), ds.sha256.clone()]).collect();
        body.push_str(&table_html("Inputs (with their content hashes)", &["dataset", "path", "sha256"], rows));
    }
    if !d.artifacts.is_empty() {
        body.push_str("<h2>Artifacts</h2><ul class=\"artifacts\">");
        for (n, (path, sha)) in d.artifacts.iter().enumerate() {
            let name = Path::new(path).file_name().map_or(path.clone(), |f| f.to_string_lossy().into_owned());
            if servable(shared, id, path).is_some() {
                body.push_str(&format!(
                    "<li><a href=\"/run/{id}/artifact/{n}\">{}</a> <code>{}</code> <span class=\"sub\">{}</span></li>",
                    esc(&name),
                    esc(path),
                    esc(sha)
                ));
            } else {
                body.push_str(&format!(
                    "<li>{} <code>{}</code> <span class=\"sub\">outside the run's artifact folder: not served</span></li>",
                    esc(&name),
                    esc(path)
                ));
            }
        }
        body.push_str("</ul>");
    }
    if !d.children.is_empty() {
        body.push_str(&format!("<h2>Child runs</h2>{}", tree(store, id, 3)?));
    }
    Ok(page(&format!("Run {id} — {}", s.kind), &body))
}

fn run_json(store: &Store, id: RunId) -> Page {
    let d = detail(store, id)?;
    let params: serde_json::Map<String, serde_json::Value> =
        d.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.display()))).collect();
    let metrics: Vec<serde_json::Value> = d
        .metrics
        .iter()
        .map(|m| serde_json::json!({"key": m.key, "value": m.value.is_finite().then_some(m.value), "step": m.step, "fold": m.fold}))
        .collect();
    let datasets: Vec<serde_json::Value> = d
        .datasets
        .iter()
        .map(|ds| serde_json::json!({"name": ds.name, "path": ds.path, "sha256": ds.sha256}))
        .collect();
    let artifacts: Vec<serde_json::Value> =
        d.artifacts.iter().map(|(p, h)| serde_json::json!({"path": p, "sha256": h})).collect();
    Ok(Response::json(&serde_json::json!({
        "id": d.summary.id, "parent": d.summary.parent, "kind": d.summary.kind.as_str(),
        "status": d.summary.status.as_str(), "command": d.summary.command, "started": d.summary.started_at,
        "ended": d.summary.ended_at, "experiment": d.experiment, "seed": d.seed, "version": d.program_version,
        "commit": d.git_commit, "host": d.host, "error": d.error, "params": params, "metrics": metrics,
        "datasets": datasets, "artifacts": artifacts, "children": d.children, "predictions": d.predictions,
        "progress": if d.summary.status == RunStatus::Running { progress(store, id, d.summary.kind)? } else { None },
    })))
}

/// An SVG response (an image: its own policy lets plotters' inline styles apply).
fn svg(text: String) -> Response {
    Response::new(200, "image/svg+xml", text)
}

fn run_figure(store: &Store, id: RunId, name: &str) -> Page {
    detail(store, id)?;
    let what = name.strip_suffix(".svg").unwrap_or(name);
    if !["curves", "roc", "calibration"].contains(&what) {
        return Err(Failure::NotFound(format!("no figure `{name}` (curves.svg, roc.svg, calibration.svg)")));
    }
    let (_, fig, _) = crate::report::run_figure(store, id, what, crate::workflow::figures::DEFAULT_BINS)
        .map_err(|e| Failure::NotFound(e.to_string()))?;
    Ok(svg(fig.svg()?))
}

fn artifact(store: &Store, shared: &Shared, id: RunId, n: &str) -> Page {
    let d = detail(store, id)?;
    let index: usize = n.parse().map_err(|_| Failure::NotFound(format!("`{n}` is not an artifact number")))?;
    let Some((path, _)) = d.artifacts.get(index) else {
        return Err(Failure::NotFound(format!("run {id} has no artifact {index}")));
    };
    let Some(file) = servable(shared, id, path) else {
        return Ok(Response::error(403, "the file is outside the run's artifact folder"));
    };
    let bytes = std::fs::read(&file).map_err(|e| Failure::Internal(crate::provenance::io_error(&file, e)))?;
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("csv" | "txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    let mut r = Response::new(200, kind, bytes);
    if kind == "application/octet-stream" {
        r.headers.push(("Content-Disposition".into(), "attachment".into()));
    }
    Ok(r)
}

// ---------------------------------------------------------------- compare

fn compare_ids(req: &Request) -> std::result::Result<Vec<RunId>, Failure> {
    let mut ids = Vec::new();
    for v in req.params("runs") {
        for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            ids.push(part.parse::<RunId>().map_err(|_| {
                Failure::Bad(Error::invalid(format!("runs={part}: expected run ids like 3,5"), None), None)
            })?);
        }
    }
    if ids.len() < 2 {
        return Err(Failure::Bad(
            Error::invalid(
                "compare needs at least two runs",
                Some("tick two runs on the runs page, or /compare?runs=3,5"),
            ),
            None,
        ));
    }
    ids.dedup();
    Ok(ids)
}

fn compare_page(store: &Store, req: &Request) -> Page {
    let ids = compare_ids(req)?;
    for &id in &ids {
        detail(store, id)?;
    }
    let t = crate::workflow::compare::compare_table(store, &ids, req.param("all").is_some())?;
    let mut body = String::from("<table class=\"compare\"><thead><tr>");
    for c in &t.columns {
        body.push_str(&format!("<th>{}</th>", esc(c)));
    }
    body.push_str("</tr></thead><tbody>");
    for (row, texts) in t.rows.iter().zip(t.display_rows()) {
        let differs = texts.first().is_some_and(|s| s.ends_with('≠'));
        body.push_str(if differs { "<tr class=\"differs\">" } else { "<tr>" });
        for (cell, text) in row.iter().zip(&texts) {
            let class = if cell.is_numeric() { " class=\"num\"" } else { "" };
            body.push_str(&format!("<td{class}>{}</td>", esc(text)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    for n in &t.notes {
        body.push_str(&format!("<p class=\"note\">{}</p>", esc(n)));
    }
    let q = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let has_predictions = ids.iter().any(|&id| store.predictions(id).is_ok_and(|p| !p.is_empty()));
    if has_predictions {
        body.push_str(&format!(
            "<figure><img src=\"/compare/roc.svg?runs={q}\" alt=\"ROC curves overlaid\"><figcaption>ROC curves of the \
             runs' pooled predictions</figcaption></figure>"
        ));
    }
    if curves_overlay(store, &ids)?.is_some() {
        body.push_str(&format!(
            "<figure><img src=\"/compare/curves.svg?runs={q}\" alt=\"learning curves overlaid\"><figcaption>Held-out \
             AUC by epoch (mean over folds)</figcaption></figure>"
        ));
    }
    body.push_str(&format!(
        "<p class=\"note\">the same table as <code>compare {}</code></p>",
        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
    ));
    Ok(page(&format!("Compare runs {}", q.replace(',', ", ")), &body))
}

/// The learning curves of the `train` runs among `ids`, overlaid.
fn curves_overlay(store: &Store, ids: &[RunId]) -> Result<Option<Figure>> {
    let mut runs = Vec::new();
    for &id in ids {
        if let Some(panel) = crate::report::learning_curves(store, id)? {
            let points: Vec<(usize, f64)> = panel.mean().into_iter().map(|m| (m.0, m.3)).collect();
            if !points.is_empty() {
                runs.push((format!("run {id} ({})", panel.model), points));
            }
        }
    }
    Ok((!runs.is_empty()).then(|| Figure::CurvesOverlay { title: "held-out AUC by epoch".into(), runs }))
}

fn compare_figure(store: &Store, req: &Request, name: &str) -> Page {
    let ids = compare_ids(req)?;
    let fig = match name {
        "roc.svg" => {
            let mut curves = Vec::new();
            for &id in &ids {
                let p = crate::workflow::compare::patient_predictions(store, id)?;
                let (truth, prob): (Vec<u8>, Vec<f64>) = p.values().copied().unzip();
                if let Some(roc) = crate::core::learn::metrics::roc_curve(&prob, &truth) {
                    curves.push((format!("run {id}"), roc, crate::core::learn::metrics::auc(&prob, &truth)));
                }
            }
            Figure::RocOverlay { title: "ROC curves".into(), curves }
        }
        "curves.svg" => curves_overlay(store, &ids)?
            .ok_or_else(|| Failure::NotFound("none of these runs has learning curves".into()))?,
        _ => return Err(Failure::NotFound(format!("no figure `{name}` (roc.svg, curves.svg)"))),
    };
    Ok(svg(fig.svg()?))
}

// ---------------------------------------------------------------- experiments

fn experiments_page(store: &Store) -> Page {
    let counts = store.experiment_counts()?;
    let mut body = String::from("<ul class=\"experiments\">");
    for (e, n) in &counts {
        body.push_str(&format!(
            "<li><a href=\"/experiment/{}\">{}</a> <span class=\"sub\">{n} runs</span></li>",
            esc(&percent_encode(e)),
            esc(e)
        ));
    }
    body.push_str("</ul>");
    if counts.is_empty() {
        body.push_str("<p class=\"note\">no experiments yet: file runs with <code>--experiment NAME</code></p>");
    }
    Ok(page("Experiments", &body))
}

fn experiment_tables(
    store: &Store,
    shared: &Shared,
    name: &str,
) -> std::result::Result<(Table, Table, Table), Failure> {
    if !store.experiment_counts()?.iter().any(|(e, _)| e == name) {
        return Err(Failure::NotFound(format!("no experiment `{name}`")));
    }
    let ids = crate::report::finished_run_ids(store, Some(name))?;
    let opts = crate::report::Options { published: shared.published.as_ref(), ..crate::report::Options::default() };
    Ok(crate::report::tables(store, &ids, &opts)?)
}

fn experiment_page(store: &Store, shared: &Shared, name: &str) -> Page {
    let (t2, t3, audit) = experiment_tables(store, shared, name)?;
    let mut body = String::new();
    for (title, t) in [("Table 2 — cross-validation", &t2), ("Table 3 — test set", &t3), ("Leakage audit", &audit)]
    {
        if t.rows.is_empty() {
            continue;
        }
        body.push_str(&format!("<h2>{}</h2>", esc(title)));
        body.push_str(&crate::render::table::html(t));
    }
    if body.is_empty() {
        body.push_str(
            "<p class=\"note\">no finished cv, train, holdout, test or audit runs in this experiment yet</p>",
        );
    }
    if shared.published.is_none() {
        body.push_str("<p class=\"note\">start <code>radose ui --published FILE</code> to check the tables against published values</p>");
    }
    body.push_str(&format!("<p><a href=\"/?experiment={}\">the experiment's runs</a></p>", esc(&percent_encode(name))));
    Ok(page(&format!("Experiment {name}"), &body))
}

fn experiment_json(store: &Store, shared: &Shared, name: &str) -> Page {
    let (t2, t3, audit) = experiment_tables(store, shared, name)?;
    let parse =
        |t: &Table| serde_json::from_str::<serde_json::Value>(&crate::render::table::json(t)).unwrap_or_default();
    Ok(Response::json(&serde_json::json!({ "table2": parse(&t2), "table3": parse(&t3), "audit": parse(&audit) })))
}
