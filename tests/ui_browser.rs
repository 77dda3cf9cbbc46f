//! The dashboard in a real browser: headless Chromium loads the runs page
//! and a `train` run's page from `radose ui`; a screenshot is taken, the
//! DOM is checked (the runs table, every figure loaded) and the browser's
//! log must show no console error and no Content-Security-Policy refusal.
//!
//! Needs Chromium (`chromium`, `chromium-browser` or `google-chrome` on the
//! PATH, or RADOSE_CHROMIUM). `.ci/run` installs Debian's `chromium` and
//! sets RADOSE_REQUIRE_BROWSER=1, so in CI a missing browser fails the test;
//! elsewhere the test says it was skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RADOSE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs the browser on `url` with `mode` (`--dump-dom` or `--screenshot=FILE`);
/// returns (stdout, stderr).
fn browse(chrome: &Path, profile: &Path, url: &str, mode: &str) -> (String, String) {
    let out = Command::new("timeout")
        .arg("90")
        .arg(chrome)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("the browser runs");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Console messages in the browser's log. Chromium logs every console
/// message, policy violations and failed loads included, as `:CONSOLE`
/// lines; the dashboard's script writes none, so any is an error.
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("Content Security Policy"))
        .collect()
}

#[test]
fn the_console_check_catches_a_policy_violation() {
    let log = "[1:1:1202/034549.663738:INFO:CONSOLE:1] \"Executing inline script violates the following Content \
               Security Policy directive 'script-src 'self''.\", source: http://127.0.0.1/ (1)\n[1:1:WARNING:dbus] x";
    assert_eq!(console_errors(log).len(), 1);
}

#[test]
fn chromium_renders_the_runs_and_a_run_with_no_console_errors() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("RADOSE_REQUIRE_BROWSER").is_none(),
            "RADOSE_REQUIRE_BROWSER is set but no Chromium was found (install Debian's `chromium`)"
        );
        eprintln!("skipped: no Chromium on the PATH (set RADOSE_CHROMIUM, or install Debian's `chromium`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_s, cv1, _cv2, train) = common::dashboard_study(dir.path());
    let cfg = radose::ui::UiConfig {
        db: dir.path().join("runs.db"),
        bind: [127, 0, 0, 1].into(),
        port: 0,
        token: None,
        published: None,
    };
    let server = radose::ui::start(cfg, radose::provenance::Provenance::gather()).unwrap();
    let base = format!("http://{}", server.addr());
    let profile = dir.path().join("chrome-profile");

    // The runs page: the table with every top-level run, rendered.
    let (dom, log) = browse(&chrome, &profile, &format!("{base}/"), "--dump-dom");
    assert!(dom.contains("<table class=\"runs\" id=\"runs\">"), "{dom}\n{log}");
    for id in [cv1, train] {
        assert!(dom.contains(&format!("data-run=\"{id}\"")), "run {id} not in the rendered table");
    }
    assert!(console_errors(&log).is_empty(), "console errors on the runs page: {:?}", console_errors(&log));
    let shot = dir.path().join("runs.png");
    let (_, log) = browse(&chrome, &profile, &format!("{base}/"), &format!("--screenshot={}", shot.display()));
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());

    // A train run's page: its tables and all three figures loaded.
    let (dom, log) = browse(&chrome, &profile, &format!("{base}/run/{train}"), "--dump-dom");
    assert!(dom.contains("<caption>Parameters</caption>"), "{dom}");
    assert!(dom.contains("data-figures=\"3/3\""), "figures not all rendered:\n{dom}\n{log}");
    assert!(console_errors(&log).is_empty(), "console errors on the run page: {:?}", console_errors(&log));
    let shot = dir.path().join("run.png");
    browse(&chrome, &profile, &format!("{base}/run/{train}"), &format!("--screenshot={}", shot.display()));
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));
    server.stop();
}
