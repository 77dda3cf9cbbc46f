//! `radose ui`: the dashboard served on an ephemeral loopback port over a
//! database made by a small `cv` and `train`. Every page and JSON endpoint
//! is fetched over a real socket and its content checked (runs listed, a
//! filter applied, a learning-curve SVG with one line per fold, the compare
//! page's DeLong p-value equal to `compare`'s, Tables 2–3 with the
//! published check, live progress of a running run); path traversal,
//! oversized and malformed requests, writes and a non-loopback bind
//! without a token are refused.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use radose::store::{NewRun, ParamValue, RunKind};
use radose::ui::{UiConfig, start};

/// Sends `raw` and returns (status, headers, body).
fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    // A refused request may be answered before all of it is sent.
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, target: &str) -> (u16, String, String) {
    exchange(addr, format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

fn ok(addr: SocketAddr, target: &str) -> String {
    let (status, _, body) = get(addr, target);
    assert_eq!(status, 200, "{target}: {body}");
    body
}

fn config(db: &Path) -> UiConfig {
    UiConfig { db: db.to_path_buf(), bind: [127, 0, 0, 1].into(), port: 0, token: None, published: None }
}

fn prov() -> radose::provenance::Provenance {
    radose::provenance::Provenance::gather()
}

#[test]
fn the_dashboard_serves_runs_pages_figures_and_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, cv1, cv2, train) = common::dashboard_study(dir.path());
    let db = dir.path().join("runs.db");
    let published = dir.path().join("published.csv");
    std::fs::write(&published, "table,model,auc,acc,f1\n2,first,0.7,0.7,0.5\n").unwrap();
    let server = start(UiConfig { published: Some(published), ..config(&db) }, prov()).unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    // Runs: every top-level run listed, security headers on every response.
    let (status, head, runs) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"), "{head}");
    assert!(head.contains("X-Content-Type-Options: nosniff"));
    for id in [cv1, cv2, train] {
        assert!(runs.contains(&format!("<tr data-run=\"{id}\" data-status=\"finished\">")), "run {id} missing");
    }
    assert!(!runs.contains("data-status=\"running\""));
    // A filter in the runs language, a facet, sorting.
    let cv_only = ok(addr, "/?where=kind+%3D+cv+and+auc_pooled+%3E+0");
    assert!(cv_only.contains(&format!("data-run=\"{cv1}\"")) && !cv_only.contains(&format!("data-run=\"{train}\"")));
    let trains = ok(addr, "/?kind=train");
    assert!(trains.contains(&format!("data-run=\"{train}\"")) && !trains.contains(&format!("data-run=\"{cv1}\"")));
    let sorted = ok(addr, "/?where=kind+%3D+cv&sort=seed");
    let (a, b) =
        (sorted.find(&format!("data-run=\"{cv1}\"")).unwrap(), sorted.find(&format!("data-run=\"{cv2}\"")).unwrap());
    assert!(a < b, "sorted by seed ascending");
    let folds = ok(addr, "/?kind=train-fold");
    assert_eq!(folds.matches("<tr data-run=").count(), 2, "a child kind's facet lists its runs");
    // A bad filter: 400 with the diagnostic the shell prints for it.
    let (status, _, body) = get(addr, "/?where=kind+%3D");
    assert_eq!(status, 400);
    let (_, shell_err, _) = common::run(&mut s, "runs --where \"kind =\"", true);
    let line = shell_err.lines().find(|l| l.contains("error[")).unwrap();
    let first_line = line[line.find("error[").unwrap()..].to_string();
    assert!(body.contains(&first_line), "{body}\nvs the shell's:\n{shell_err}");
    assert!(body.contains("  | kind ="), "{body}");
    // The same rows as JSON.
    let json: serde_json::Value = serde_json::from_str(&ok(addr, "/api/runs?where=kind+%3D+cv")).unwrap();
    assert_eq!(json["count"], 2);
    assert!(json["runs"].as_array().unwrap().iter().all(|r| r["kind"] == "cv" && r["auc_pooled"].is_number()));

    // A run: its record, its figures, its children, its artifacts.
    let page = ok(addr, &format!("/run/{train}"));
    for needle in [
        "<caption>Parameters</caption>",
        "<caption>Metrics</caption>",
        &format!("/run/{train}/figure/curves.svg"),
        &format!("/run/{train}/figure/roc.svg"),
        &format!("/run/{train}/figure/calibration.svg"),
        "Child runs",
        "train-config",
        "<caption>Inputs (with their content hashes)</caption>",
    ] {
        assert!(page.contains(needle), "run page lacks {needle}");
    }
    let (status, head, curves) = get(addr, &format!("/run/{train}/figure/curves.svg"));
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: image/svg+xml"));
    assert!(curves.starts_with("<svg"), "{}", &curves[..100.min(curves.len())]);
    // One line per fold: the legend names folds 1 and 2 and no third, and the
    // faint fold lines come in exactly two colours.
    assert!(curves.contains("fold 1\n</text>") && curves.contains("fold 2\n</text>"));
    assert!(!curves.contains("fold 3\n</text>"));
    let colours: std::collections::BTreeSet<&str> = curves
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains("opacity=\"0.45\""))
        .filter_map(|l| l.split("stroke=\"").nth(1).and_then(|r| r.split('"').next()))
        .collect();
    assert_eq!(colours.len(), 2, "{colours:?}");
    for fig in ["roc", "calibration"] {
        assert!(ok(addr, &format!("/run/{train}/figure/{fig}.svg")).starts_with("<svg"));
    }
    let detail: serde_json::Value = serde_json::from_str(&ok(addr, &format!("/api/run/{train}"))).unwrap();
    assert_eq!(detail["kind"], "train");
    assert!(detail["metrics"].as_array().unwrap().iter().any(|m| m["key"] == "auc_pooled"));
    // A fold's model file is served from its own artifact folder.
    let fold = s
        .store()
        .query_runs(None, None, false, 500)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.kind == RunKind::TrainFold)
        .unwrap()
        .0
        .id;
    let fold_detail = s.store().run_detail(fold).unwrap();
    let n = fold_detail
        .artifacts
        .iter()
        .position(|(p, _)| p.ends_with("model.json"))
        .unwrap_or_else(|| panic!("{:?}", fold_detail.artifacts));
    let model = ok(addr, &format!("/run/{fold}/artifact/{n}"));
    assert!(model.contains("\"spec\""));
    // A file recorded outside the run's folder is not served.
    let outside = s.store().run_detail(cv1).unwrap().artifacts.iter().position(|(p, _)| p.ends_with("outside.svg"));
    let outside = outside.expect("`plot roc --out` recorded the file on the run");
    assert_eq!(get(addr, &format!("/run/{cv1}/artifact/{outside}")).0, 403);
    assert_eq!(get(addr, &format!("/run/{fold}/artifact/99")).0, 404);
    assert_eq!(get(addr, "/run/99999").0, 404);

    // Compare: the DeLong p-value as `compare` prints it.
    let cmp = dir.path().join("compare.json");
    let (_, err, outcome) = common::run(&mut s, &format!("compare {cv1} {cv2} --out {}", cmp.display()), false);
    assert_eq!(outcome.exit_code(), 0, "{err}");
    let table: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cmp).unwrap()).unwrap();
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[""].as_str().is_some_and(|s| s.starts_with("DeLong p")))
        .unwrap();
    let p = row[format!("run {cv2}")].as_f64().unwrap();
    let api: serde_json::Value = serde_json::from_str(&ok(addr, &format!("/api/compare?runs={cv1},{cv2}"))).unwrap();
    let api_row = api["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[""].as_str().is_some_and(|s| s.starts_with("DeLong p")))
        .unwrap();
    assert_eq!(api_row[format!("run {cv2}")].as_f64().unwrap(), p);
    let page = ok(addr, &format!("/compare?runs={cv1}&runs={cv2}"));
    // The p-value as the shell prints it is the one on the page.
    let (out, _, _) = common::run(&mut s, &format!("compare {cv1} {cv2}"), false);
    let line = out.lines().find(|l| l.contains("DeLong p vs run")).unwrap();
    let shown = line.split('│').next_back().unwrap().trim();
    assert!(shown.parse::<f64>().is_ok_and(|v| (v - p).abs() < 1e-3), "{shown} vs {p}");
    assert!(page.contains(&format!("<td class=\"num\">{shown}</td>")), "p = {shown} not on the page");
    assert!(page.contains("<tr class=\"differs\"><td>param label ≠</td>"), "differing parameters highlighted");
    assert!(page.contains(&format!("/compare/roc.svg?runs={cv1},{cv2}")));
    assert!(ok(addr, &format!("/compare/roc.svg?runs={cv1},{cv2}")).starts_with("<svg"));
    assert!(ok(addr, &format!("/compare/curves.svg?runs={train},{cv1}")).starts_with("<svg"));
    assert_eq!(get(addr, &format!("/compare?runs={cv1}")).0, 400);

    // Experiment: Tables 2–3 live from the database, with the published check.
    let page = ok(addr, "/experiment/e");
    assert!(page.contains("Table 2 — cross-validation"), "{page}");
    assert!(page.contains("published check:"), "{page}");
    let tables: serde_json::Value = serde_json::from_str(&ok(addr, "/api/experiment/e")).unwrap();
    assert_eq!(tables["table2"]["rows"].as_array().unwrap().len(), 3);
    assert!(ok(addr, "/experiments").contains("href=\"/experiment/e\""));
    assert_eq!(get(addr, "/experiment/nothing").0, 404);
    assert!(ok(addr, "/static/app.js").contains("/api/runs"));

    // Refused: traversal, oversized, malformed, writes, bodies.
    assert_eq!(exchange(addr, b"GET /run/1/../../etc/passwd HTTP/1.1\r\n\r\n").0, 400);
    assert_eq!(exchange(addr, b"GET /static/%2e%2e/%2e%2e/Cargo.toml HTTP/1.1\r\n\r\n").0, 400);
    let long = format!("GET /?where={} HTTP/1.1\r\n\r\n", "x".repeat(10_000));
    assert_eq!(exchange(addr, long.as_bytes()).0, 414);
    let fat = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "y".repeat(40_000));
    assert_eq!(exchange(addr, fat.as_bytes()).0, 431);
    assert_eq!(exchange(addr, b"HELLO\r\n\r\n").0, 400);
    assert_eq!(exchange(addr, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").0, 400);
    assert_eq!(exchange(addr, b"POST / HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(exchange(addr, b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").0, 413);
    assert_eq!(get(addr, "/nowhere").0, 404);
    server.stop();
}

#[test]
fn running_runs_show_their_progress_live() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut store = radose::store::Store::open(&db, prov()).unwrap();
    let train = store.begin_run(&NewRun::new(RunKind::Train, "train Q on A".into(), Vec::new())).unwrap();
    let mut grid_point = NewRun::new(RunKind::TrainConfig, String::new(), vec![("epochs".into(), ParamValue::Int(10))]);
    grid_point.parent = Some(train);
    let grid_point = store.begin_run(&grid_point).unwrap();
    let mut fold = NewRun::new(RunKind::TrainFold, String::new(), Vec::new());
    fold.parent = Some(grid_point);
    let fold = store.begin_run(&fold).unwrap();
    for epoch in 1..=3 {
        store.log_metric(fold, "train_loss", 0.7, Some(epoch), Some(0)).unwrap();
    }
    let server = start(config(&db), prov()).unwrap();
    let addr = server.addr();
    let page = ok(addr, "/");
    assert!(page.contains(&format!("<tr data-run=\"{train}\" data-status=\"running\">")), "{page}");
    assert!(page.contains("0 folds done · epoch 3 of 10"), "{page}");
    let json: serde_json::Value = serde_json::from_str(&ok(addr, &format!("/api/runs?ids={train}"))).unwrap();
    assert_eq!(json["runs"][0]["status"], "running");
    // The run moves on; the next poll sees it.
    store.log_metric(fold, "train_loss", 0.6, Some(4), Some(0)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(addr, &format!("/api/runs?ids={train}"))).unwrap();
    assert_eq!(json["runs"][0]["progress"], "0 folds done · epoch 4 of 10");
    assert!(ok(addr, &format!("/run/{train}")).contains("data-reload"));
    server.stop();
}

#[test]
fn beyond_loopback_a_token_is_required_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    drop(radose::store::Store::open(&db, prov()).unwrap());
    let open = UiConfig { bind: [0, 0, 0, 0].into(), ..config(&db) };
    let err = start(open.clone(), prov()).err().expect("a non-loopback bind without a token is refused");
    assert!(err.to_string().contains("needs --token"), "{err}");
    let short = UiConfig { token: Some("short".into()), ..open.clone() };
    assert!(start(short, prov()).is_err());
    let token = "s3cret-token-0123456789";
    let server = start(UiConfig { token: Some(token.into()), bind: [127, 0, 0, 1].into(), ..open }, prov()).unwrap();
    let addr = server.addr();
    assert_eq!(get(addr, "/").0, 401);
    assert_eq!(get(addr, "/api/runs?token=wrong-token-0123456789").0, 401);
    let (status, head, _) = get(addr, &format!("/?token={token}"));
    assert_eq!(status, 200);
    assert!(head.contains("Set-Cookie: radose_token="), "{head}");
    let bearer = format!("GET /api/runs HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n");
    assert_eq!(exchange(addr, bearer.as_bytes()).0, 200);
    let cookie = format!("GET /api/runs HTTP/1.1\r\nCookie: other=1; radose_token={token}\r\n\r\n");
    assert_eq!(exchange(addr, cookie.as_bytes()).0, 200);
    server.stop();
    // The database is opened read-only: a write through such a connection fails.
    let ro = radose::store::Store::open_read_only(&db, prov()).unwrap();
    assert!(ro.log_metric(1, "x", 1.0, None, None).is_err());
    assert!(radose::store::Store::open_read_only(&dir.path().join("absent.db"), prov()).is_err());
}
