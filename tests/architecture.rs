//! The invariants ARCHITECTURE.md states, checked against the source: the
//! import graph of `src/` has no cycle, and each boundary ("only `store`
//! imports rusqlite", "commands never print", …) holds. Each check reads
//! the files under `src/` as text; a failure names the file and line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file as a module: its path in the crate (`["core", "masks"]`)
/// and its text with comments and the trailing `#[cfg(test)]` module removed.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    code: String,
}

fn modules() -> Vec<Module> {
    let src = common::root().join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().with_extension("");
        let mut path: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        match path.last().map(String::as_str) {
            Some("lib") if path.len() == 1 => path.clear(),
            Some("main") if path.len() == 1 => path = vec!["<main>".into()],
            Some("mod") => {
                path.pop();
            }
            _ => {}
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let body = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let code: String = body.lines().map(strip_comment).collect::<Vec<_>>().join("\n");
        out.push(Module { path, file, code });
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The line without a `//` comment (a `//` inside a string literal is rare
/// enough in this code base that cutting there only loses text, never adds).
fn strip_comment(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate`, `super` or `self`, brace groups
/// expanded (`crate::a::{b, c::d}` gives `a::b` and `a::c::d`), made
/// absolute; and bare paths starting with a child module's name.
fn referenced_paths(m: &Module, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let code = &m.code;
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != ':';
        if !at_word_start || !is_ident(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let word: String = bytes[start..i].iter().collect();
        let base: Option<Vec<String>> = match word.as_str() {
            "crate" => Some(Vec::new()),
            "super" => Some(m.path[..m.path.len().saturating_sub(1)].to_vec()),
            "self" => Some(m.path.clone()),
            w if children.contains(w) => Some({
                let mut p = m.path.clone();
                p.push(w.to_string());
                p
            }),
            _ => None,
        };
        let Some(base) = base else { continue };
        if !code[char_offset(code, i)..].starts_with("::") {
            continue;
        }
        let (paths, end) = path_tail(&bytes, i, base);
        out.extend(paths);
        i = end;
    }
    out
}

fn char_offset(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

/// Reads `::seg::seg…` or `::{…}` after position `i`, returning the
/// absolute paths named and where reading stopped.
fn path_tail(c: &[char], mut i: usize, mut prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    loop {
        if c.get(i) == Some(&':') && c.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            return (vec![prefix], i);
        }
        if c.get(i) == Some(&'{') {
            i += 1;
            let mut out = Vec::new();
            loop {
                while i < c.len() && (c[i].is_whitespace() || c[i] == ',') {
                    i += 1;
                }
                if i >= c.len() || c[i] == '}' {
                    return (out, i + 1);
                }
                let s = i;
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
                if s == i {
                    // `*` or something unexpected: skip it.
                    i += 1;
                    continue;
                }
                let seg: String = c[s..i].iter().collect();
                let mut p = prefix.clone();
                if seg != "self" {
                    p.push(seg);
                }
                let (paths, end) = path_tail(c, i, p);
                out.extend(paths);
                i = end;
                // Skip `as alias`.
                while i < c.len() && c[i] != ',' && c[i] != '}' {
                    i += 1;
                }
            }
        }
        let s = i;
        while i < c.len() && is_ident(c[i]) {
            i += 1;
        }
        if s == i {
            return (vec![prefix], i);
        }
        prefix.push(c[s..i].iter().collect());
    }
}

/// Module → the modules it imports from (longest known prefix of each path).
fn import_graph(mods: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<Vec<String>> = mods.iter().map(|m| m.path.clone()).collect();
    let name = |p: &[String]| if p.is_empty() { "crate".to_string() } else { p.join("::") };
    let mut graph = BTreeMap::new();
    for m in mods.iter().filter(|m| m.path.first().is_none_or(|p| p != "<main>")) {
        let children: BTreeSet<String> = known
            .iter()
            .filter(|k| k.len() == m.path.len() + 1 && k.starts_with(&m.path))
            .map(|k| k[m.path.len()].clone())
            .collect();
        let mut edges = BTreeSet::new();
        for p in referenced_paths(m, &children) {
            if let Some(target) = (1..=p.len()).rev().map(|n| &p[..n]).find(|q| known.contains(*q))
                && target != m.path.as_slice()
            {
                edges.insert(name(target));
            }
        }
        graph.insert(name(&m.path), edges);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_import_graph_has_no_cycle() {
    let graph = import_graph(&modules());
    // The reader sees the edges it must: a known loop-free pair and one edge.
    assert!(graph["commands::train"].contains("session"), "{:?}", graph["commands::train"]);
    assert!(graph["session"].contains("syntax"));
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles in src/: {found:#?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["c".to_string()].into());
    graph.insert("c".into(), ["a".to_string(), "d".to_string()].into());
    graph.insert("d".into(), BTreeSet::new());
    assert_eq!(cycles(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    // And the path reader expands groups and resolves `super`.
    let m = Module {
        path: vec!["x".into(), "y".into()],
        file: PathBuf::new(),
        code: "use crate::a::{b::C, d, e::{f, g as h}};\nlet v = super::z::w();\nchild::f();".into(),
    };
    let children: BTreeSet<String> = ["child".to_string()].into();
    let got: Vec<String> = referenced_paths(&m, &children).iter().map(|p| p.join("::")).collect();
    assert_eq!(got, vec!["a::b::C", "a::d", "a::e::f", "a::e::g", "x::z::w", "x::y::child::f"]);
}

/// Whether `needle` occurs in `line` where it is not the tail of a longer
/// word (`File::` does not match `ParamFile::`).
fn contains_word(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(i, _)| !line[..i].chars().next_back().is_some_and(is_ident))
}

/// Lines of `src/` matching `needle` outside the modules `allowed` (path
/// prefixes such as `store` or `data::frame`).
fn occurrences(mods: &[Module], needle: &str, allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for m in mods {
        let name = m.path.join("::");
        if allowed.iter().any(|a| name == *a || name.starts_with(&format!("{a}::"))) {
            continue;
        }
        for (n, line) in m.code.lines().enumerate() {
            if contains_word(line, needle) {
                out.push(format!("{}:{}: {}", m.file.display(), n + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn each_boundary_has_one_owner() {
    let mods = modules();
    let rules: &[(&str, &[&str], &str)] = &[
        ("rusqlite", &["store"], "only `store` imports rusqlite"),
        ("postgres::", &["store::db"], "only `store::db` speaks to PostgreSQL"),
        ("burn", &["ml"], "only `ml` imports burn"),
        ("polars", &["data::frame"], "only `data::frame` knows polars"),
        ("dicom_", &["imaging::dicom"], "only `imaging::dicom` knows DICOM"),
        ("rustyline", &["shell::repl"], "only `shell::repl` talks to the terminal"),
        (
            "indicatif",
            &["shell", "<main>"],
            "progress bars belong to the shell; commands report through the session's sink",
        ),
        ("unsafe", &["ml"], "`unsafe` appears only in `ml`"),
    ];
    let mut failures = Vec::new();
    for (needle, allowed, why) in rules {
        for hit in occurrences(&mods, needle, allowed) {
            failures.push(format!("{why}: {hit}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn commands_never_print() {
    let mods = modules();
    let mut failures = Vec::new();
    for needle in ["println!", "eprintln!", "print!(", "eprint!(", "std::io::stdout", "std::io::stderr"] {
        failures.extend(occurrences(&mods, needle, &["shell", "<main>"]));
    }
    assert!(failures.is_empty(), "only the shell and main print:\n{}", failures.join("\n"));
}

#[test]
fn every_file_is_written_atomically() {
    let mods = modules();
    let mut failures = Vec::new();
    for needle in ["fs::write(", "File::create(", "BitMapBackend::new(", "save_file("] {
        // `provenance` holds the helpers; `fuzzing` writes a scratch copy of
        // fuzz input for a reader that takes paths (not a result).
        for hit in occurrences(&mods, needle, &["provenance", "fuzzing"]) {
            if !hit.contains("write_atomic_via") && !hit.contains("(tmp") {
                failures.push(hit);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "files radose writes go through provenance::write_atomic or write_atomic_via:\n{}",
        failures.join("\n")
    );
}

#[test]
fn commands_do_not_borrow_from_each_other() {
    // What several commands need lives in `workflow` (or lower); a command
    // file imports no other command file, and `commands/mod.rs` is the
    // registry alone.
    let graph = import_graph(&modules());
    let mut failures = Vec::new();
    for (module, edges) in &graph {
        if module.starts_with("commands::") {
            for e in edges.iter().filter(|e| e.starts_with("commands")) {
                failures.push(format!("{module} imports {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn run_kinds_and_statuses_are_read_typed() {
    // Their names are written in one place (`store::records`); everything
    // else compares `RunKind`/`RunStatus` values.
    let mods = modules();
    let mut failures = Vec::new();
    for needle in ["\"audit-leakage\"", "\"audit-arm\"", "\"cv-fold\"", "\"train-fold\"", "\"train-config\""] {
        failures.extend(occurrences(&mods, needle, &["store::records"]));
    }
    // A status name is fine as a word in a message or a column title; next
    // to a run's status it is a comparison that belongs to `RunStatus`.
    for needle in ["\"finished\"", "\"running\"", "\"failed\"", "\"cancelled\"", "\"interrupted\""] {
        failures.extend(occurrences(&mods, needle, &["store::records"]).into_iter().filter(|l| l.contains("status")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sub_seeds_are_derived_not_computed() {
    // `Rng::sub_seed(seed, labels)`, never `seed + r` or `seed.wrapping_add(…)`:
    // arithmetic makes seed 7's repeat 1 seed 8's repeat 0.
    let mods = modules();
    let mut failures = Vec::new();
    for m in mods.iter().filter(|m| m.path != ["core", "rng"]) {
        for (n, line) in m.code.lines().enumerate() {
            let arithmetic = ["wrapping_add(", "wrapping_mul(", " + ", " ^ "].iter().any(|op| line.contains(op));
            if line.contains("seed") && arithmetic && !line.contains("sub_seed") {
                failures.push(format!("{}:{}: {}", m.file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_module_is_in_the_architecture_map() {
    // ARCHITECTURE.md names each module (its path, or its name in its
    // parent's row); commands are listed by `help`, not by the map.
    let text = std::fs::read_to_string(common::root().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for m in modules() {
        let (Some(first), Some(last)) = (m.path.first(), m.path.last()) else { continue };
        if first == "<main>" || (first == "commands" && m.path.len() > 1) {
            continue;
        }
        let path = m.path.join("::");
        if !text.contains(&format!("`{path}`")) && !text.contains(&format!("`{last}`")) {
            missing.push(path);
        }
    }
    assert!(missing.is_empty(), "modules ARCHITECTURE.md does not name: {missing:?}");
}

#[test]
fn core_does_no_io_and_reads_no_clock() {
    let mods = modules();
    let mut failures = Vec::new();
    for m in mods.iter().filter(|m| m.path.first().is_some_and(|p| p == "core")) {
        for (n, line) in m.code.lines().enumerate() {
            for needle in ["std::fs", "File::", "Instant::", "SystemTime", "thread_rng", "rand::random"] {
                if contains_word(line, needle) {
                    failures.push(format!("{}:{}: {}", m.file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "core does no I/O, reads no clock, draws no unseeded randomness:\n{}",
        failures.join("\n")
    );
}
