//! `audit leakage` and `audit published`: on noise the fold-safe arm stays
//! near 0.5 while the LEAKY arm is clearly higher; the LEAKY arm is used by
//! no other command; the simulated T1+T1C+T2+Dose model is audited end to
//! end and appears in the report; published values are checked cell by cell.

mod common;

use radose::store::RunKind;
use std::path::Path;

fn write_noise(path: &Path, n: usize, p: usize) {
    let mut rng = radose::core::rng::Rng::new(17);
    let mut text = String::from("id,y");
    for j in 0..p {
        text.push_str(&format!(",f{j}"));
    }
    text.push('\n');
    for i in 0..n {
        text.push_str(&format!("P{i:03},{}", i % 2));
        for _ in 0..p {
            text.push_str(&format!(",{:.6}", rng.normal()));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn leaky_arm_is_optimistic_on_noise_and_private_to_audit() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("noise.csv");
    write_noise(&csv, 80, 500);
    let mut s = common::session();
    let (out, err, o) = common::run(
        &mut s,
        &format!(
            "load N {} --id id --outcome y; pipeline P = standardize | mannwhitney k=10 | logistic; audit leakage P on N --folds 5 --repeats 2 --seed 3",
            csv.display()
        ),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    let parent = s
        .store()
        .query_runs(None, None, true, 50)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.kind == RunKind::AuditLeakage)
        .unwrap()
        .0
        .id;
    let d = s.store().run_detail(parent).unwrap();
    let m = |k: &str| d.metrics.iter().find(|x| x.key == k).unwrap().value;
    assert!((m("safe_auc_mean") - 0.5).abs() < 0.12, "fold-safe {}", m("safe_auc_mean"));
    assert!(m("leaky_auc_mean") > 0.8, "LEAKY {}", m("leaky_auc_mean"));
    assert!(m("optimism_ci_low") > 0.2, "{}", m("optimism_ci_low"));
    assert_eq!(d.children.len(), 4, "two arms × two repeats");
    assert!(out.contains("LEAKY") && out.contains("which steps leak"), "{out}");

    // No other code path reaches the leaky protocol.
    let mut users = Vec::new();
    let mut stack = vec![common::root().join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read_to_string(&p).unwrap().contains("leaky_cross_validate") {
                users.push(p.strip_prefix(common::root()).unwrap().display().to_string());
            }
        }
    }
    users.sort();
    assert_eq!(users, vec!["src/commands/audit_leakage.rs", "src/core/learn/audit.rs"]);
}

#[test]
fn simulated_dose_model_audit_reaches_the_report_and_published_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut s = common::session();
    let script = format!(
        "simulate --out {d}/sim --n-a 40 --n-b 12; load S {d}/sim/A; preprocess S --to {d}/pre; load A {d}/pre; \
         extract A --sequences T1,T1C,T2,dose --roi ptv --to {d}/feat; \
         pipeline M = standardize | mannwhitney k=8 then pca n=6 | smote | logistic; \
         audit leakage M on A.T1 A.T1C A.T2 A.dose --folds 3 --seed 5 --experiment au; \
         cv M on A.T1 A.T1C A.T2 A.dose --folds 3 --seed 5 --label T1+T1C+T2+Dose --experiment au; \
         report au --experiment au --out {d}/rep"
    );
    let (out, err, o) = common::run(&mut s, &script, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("optimism (LEAKY − fold-safe)"), "{out}");
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    assert!(
        html.contains("Leakage audit") && html.contains("fold-safe vs LEAKY"),
        "the audit figure and table are in the report"
    );
    assert!(dir.path().join("rep/figures/audit_leakage_T1_T1C_T2_dose.svg").exists());

    // Published check: the report's reproduced Table 2 vs a published table.
    let right = dir.path().join("right.csv");
    let table2 = std::fs::read_to_string(dir.path().join("rep/tables/table2_cv.csv")).unwrap();
    let row = table2.lines().nth(1).unwrap().to_string();
    let cells: Vec<&str> = row.split(',').collect();
    let auc = cells[1].split_whitespace().next().unwrap();
    std::fs::write(&right, format!("table,model,auc,acc,f1\n2,T1+T1C+T2+Dose,{auc},{},{}\n", cells[2], cells[3]))
        .unwrap();
    let (out, err, o) =
        common::run(&mut s, &format!("audit published --table {} --against {d}/rep", right.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(out.contains("3 cells within ±0.02, 0 outside"), "{out}");
    let wrong = dir.path().join("wrong.csv");
    let bad_auc: f64 = auc.parse::<f64>().unwrap() + 0.1;
    std::fs::write(&wrong, format!("table,model,auc,acc,f1\n2,T1+T1C+T2+Dose,{bad_auc},{},{}\n", cells[2], cells[3]))
        .unwrap();
    let (out, _, _) =
        common::run(&mut s, &format!("audit published --table {} --against {d}/rep", wrong.display()), false);
    assert!(out.contains("2 cells within ±0.02, 1 outside") && out.contains("NO"), "{out}");
    // Bad table files.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "table,model,auc,acc,f1\n2,T1,high,0.5\n").unwrap();
    let (_, err, _) =
        common::run(&mut s, &format!("audit published --table {} --against {d}/rep", broken.display()), true);
    assert!(err.contains("broken.csv") && err.contains("line 2"), "{err}");
    let (_, err, _) =
        common::run(&mut s, &format!("audit published --table {} --against {d}/nothing", right.display()), true);
    assert!(err.contains("no tables/table2_cv.csv"), "{err}");
}

#[test]
fn table1_published_values_are_checked_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut s = common::session();
    let (_, err, o) =
        common::run(&mut s, &format!("simulate --out {d}/sim; load A {d}/sim/A; load B {d}/sim/B; table1 A B"), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let table1_run = s
        .store()
        .query_runs(None, None, true, 10)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.kind == RunKind::Table1)
        .unwrap()
        .0
        .id;
    let published = common::root().join("experiments/published_table1.csv");
    let (out, err, o) =
        common::run(&mut s, &format!("audit published --table {} --against {table1_run}", published.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    // 28 counts and summaries as printed, and the 7 variables' p-values above 0.05 as the paper says.
    assert!(
        out.contains("35 cells equal as printed (or within their published bound), 0 not"),
        "the simulated cohort reproduces the paper's Table 1: {out}"
    );
    // The report shows Table 1 as the run recorded it, first.
    let (_, err, o) = common::run(
        &mut s,
        &format!("pipeline P = standardize | logistic; cv P on A --folds 3; report t1 --out {d}/rep --table1 latest"),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    let (t1_at, t2_at) = (html.find("Table 1 —").unwrap(), html.find("Table 2 —").unwrap());
    assert!(t1_at < t2_at, "Table 1 comes first");
    let csv = std::fs::read_to_string(dir.path().join("rep/tables/table1.csv")).unwrap();
    assert!(csv.starts_with("variable,level,A,B,p_value,test") && csv.contains("sex,male,75"), "{csv}");
    // `latest` is the newest table1 run.
    let (out_latest, err, o) =
        common::run(&mut s, &format!("audit published --table {} --against latest", published.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert_eq!(out_latest, out);
    // A p-value below its published bound is outside.
    let strict = dir.path().join("strict_table1.csv");
    std::fs::write(
        &strict,
        std::fs::read_to_string(&published).unwrap().replace("nn,1,32,8,>0.05", "nn,1,32,8,>0.999"),
    )
    .unwrap();
    let (out, _, _) =
        common::run(&mut s, &format!("audit published --table {} --against {table1_run}", strict.display()), false);
    assert!(out.contains("34 cells equal as printed (or within their published bound), 1 not"), "{out}");
    let wrong = dir.path().join("wrong_table1.csv");
    std::fs::write(&wrong, std::fs::read_to_string(&published).unwrap().replace("sex,male,75,15", "sex,male,74,15"))
        .unwrap();
    let (out, _, _) =
        common::run(&mut s, &format!("audit published --table {} --against {table1_run}", wrong.display()), false);
    assert!(out.contains("34 cells equal as printed (or within their published bound), 1 not"), "{out}");
}

#[test]
fn cv_and_the_fold_safe_arm_split_a_seed_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("noise.csv");
    write_noise(&csv, 40, 20);
    let mut s = common::session();
    let script = format!(
        "load N {} --id id --outcome y; pipeline P = standardize | mannwhitney k=5 | logistic; \
         cv P on N --folds 4 --repeats 2 --seed 11; audit leakage P on N --folds 4 --repeats 2 --seed 11",
        csv.display()
    );
    let (_, err, o) = common::run(&mut s, &script, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    let runs = s.store().query_runs(None, None, true, 100).unwrap();
    let id_of = |kind| runs.iter().find(|(r, _)| r.kind == kind).unwrap().0.id;
    // Each fold's AUC and held-out patients, by (repeat × folds + fold).
    let mut cv: Vec<(i64, f64)> = Vec::new();
    for child in s.store().run_detail(id_of(RunKind::Cv)).unwrap().children {
        let d = s.store().run_detail(child).unwrap();
        let m = d.metrics.iter().find(|m| m.key == "auc").unwrap();
        cv.push((m.fold.unwrap(), m.value));
    }
    let mut safe: Vec<(i64, f64)> = Vec::new();
    for child in s.store().run_detail(id_of(RunKind::AuditLeakage)).unwrap().children {
        let d = s.store().run_detail(child).unwrap();
        if d.params.iter().any(|(k, v)| k == "leaky" && v.display() == "false") {
            safe.extend(d.metrics.iter().filter(|m| m.key == "auc").map(|m| (m.fold.unwrap(), m.value)));
        }
    }
    cv.sort_by_key(|f| f.0);
    safe.sort_by_key(|f| f.0);
    assert_eq!(cv.len(), 8);
    let bits = |v: &[(i64, f64)]| v.iter().map(|(f, a)| (*f, a.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&cv), bits(&safe), "the same folds and fitting seeds give the same fold AUCs");
}
