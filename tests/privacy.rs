//! Privacy and hostile input: pseudonymised report ids (the key never
//! stored), relative paths in reports, hostile strings through every
//! user-facing name and filter (stored as values, never executed).

mod common;

#[test]
fn pseudonyms_hostile_names_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let db = dir.path().join("runs.db");
    let key = "a-secret-key-held-by-the-user";
    // SAFETY: this test binary has this one test; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("RADOSE_PSEUDONYM_KEY", key) };
    let mut s = radose::open_session(&db).unwrap();
    s.width = 200;
    let hostile = "x'); DROP TABLE runs; -- ü \"q\" /* c */";
    let mut csv = String::from("id,y,a,b\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "T{:03},{},{},{}\n",
            i + 1,
            i % 2,
            (i * 7 % 11) as f64 + 0.5 * (i % 2) as f64,
            (i * 3 % 5) as f64
        ));
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let h = hostile.replace('"', "\\\"");
    let script = format!(
        "load T {d}/t.csv --id id --outcome y; pipeline P = standardize | logistic; \
         cv P on T --folds 3 --experiment \"{h}\" --label \"{h}\"; \
         report plain --experiment \"{h}\" --out {d}/plain; report pseudo --experiment \"{h}\" --out {d}/pseudo --pseudonymise"
    );
    let (_, err, o) = common::run(&mut s, &script, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let plain = std::fs::read_to_string(dir.path().join("plain/tables/predictions.csv")).unwrap();
    let pseudo = std::fs::read_to_string(dir.path().join("pseudo/tables/predictions.csv")).unwrap();
    assert!(plain.contains(",T001,"), "{plain}");
    assert!(!pseudo.contains("T001") && !pseudo.contains("T012"), "{pseudo}");
    let expected = &radose::provenance::hmac_sha256_hex(key.as_bytes(), b"T001")[..16];
    assert!(pseudo.contains(expected), "{pseudo}");
    // Inputs shown relative (never the temporary folder's absolute path).
    let html = std::fs::read_to_string(dir.path().join("plain/index.html")).unwrap();
    assert!(!html.contains(&format!("— {d}/t.csv")), "absolute input paths in the report");
    assert!(html.contains("t.csv — sha256") || html.contains("/t.csv — sha256"), "the input is still named");

    // The hostile label and experiment were stored as values and read back.
    let (out, err, o) = common::run(
        &mut s,
        &format!("runs --where \"experiment = '{}'\"", hostile.replace('\'', "''").replace('"', "\\\"")),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("1 matching"), "{out}");
    let (out, _, _) = common::run(
        &mut s,
        &format!("runs --where \"model = '{}'\"", hostile.replace('\'', "''").replace('"', "\\\"")),
        false,
    );
    assert!(out.contains("1 matching"), "{out}");
    // Names that become identifiers are validated instead.
    for bad in ["load \"a'; DROP\" tests/fixtures/cohort", "pipeline \"p;--\" = standardize | logistic"] {
        let (_, err, _) = common::run(&mut s, bad, true);
        assert!(err.contains("error["), "{bad}: {err}");
    }
    assert_eq!(s.store().integrity_check().unwrap(), "ok");
    assert!(s.store().count_runs().unwrap() >= 5, "the runs table is intact");
    drop(s);
    // The key never reached runs.db (its WAL included).
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
    assert!(!String::from_utf8_lossy(&bytes).contains(key), "the pseudonymisation key leaked into runs.db");
}
