//! `preprocess` over a simulated cohort: outputs on the MR grid, the PTV
//! margin in millimetres, the cache (a second run reads every patient from
//! it), a damaged patient reported while the others finish, and the output
//! folder loading as a cohort.

mod common;

use radose::imaging::read_image;

#[test]
fn preprocess_a_simulated_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let out = dir.path().join("pre");
    let mut s = common::session();
    let (_, err, o) = common::run(&mut s, &format!("simulate --out {} --n-a 12 --n-b 6", sim.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    // Damage one patient's T2 (truncated file); the others must finish.
    let ids: Vec<String> = std::fs::read_to_string(sim.join("A/clinical.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let broken = &ids[3];
    let t2 = sim.join("A/images").join(broken).join("T2.nii.gz");
    let bytes = std::fs::read(&t2).unwrap();
    std::fs::write(&t2, &bytes[..bytes.len() / 3]).unwrap();

    let cmd = format!(
        "load A {}; preprocess A --margin-mm 3 --to {} --out {}",
        sim.join("A").display(),
        out.display(),
        dir.path().join("first.csv").display()
    );
    let (stdout, err, o) = common::run(&mut s, &cmd, false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains("1 of 12 patients failed"), "{stdout}");
    let first = std::fs::read_to_string(dir.path().join("first.csv")).unwrap();
    let broken_row = first.lines().find(|l| l.starts_with(broken.as_str())).unwrap();
    assert!(broken_row.contains("failed") && broken_row.contains("T2.nii.gz"), "{broken_row}");
    assert_eq!(first.lines().filter(|l| l.contains(",done,")).count(), 11, "{first}");

    // Every output of a good patient lies on its T1 grid; the PTV contains
    // the rGTV and reaches 3 mm beyond it, not more.
    let p = &ids[0];
    let t1 = read_image(&sim.join("A/images").join(p).join("T1.nii.gz")).unwrap().volume;
    let rgtv = read_image(&out.join(p).join("rgtv.nii.gz")).unwrap().volume;
    let ptv = read_image(&out.join(p).join("ptv.nii.gz")).unwrap().volume;
    let dose = read_image(&out.join(p).join("dose.nii.gz")).unwrap().volume;
    for v in [&rgtv, &ptv, &dose] {
        assert_eq!(v.size, t1.size);
        assert_eq!(v.spacing, t1.spacing);
    }
    let d2 = radose::core::masks::squared_distance(
        rgtv.size,
        rgtv.spacing,
        &rgtv.data.iter().map(|&x| x > 0.5).collect::<Vec<_>>(),
    );
    for (i, (&m, &d)) in ptv.data.iter().zip(&d2).enumerate() {
        assert_eq!(m > 0.5, d <= 9.0 + 1e-9, "voxel {i}: PTV {m}, distance² {d}");
    }
    assert!(dose.data.iter().any(|&x| x > 1.0), "the dose reached the MR grid");

    // A second run finds every good patient in the cache.
    std::fs::write(&t2, &bytes).unwrap();
    let (_, err, o) = common::run(
        &mut s,
        &format!("preprocess A --margin-mm 3 --to {} --out {}", out.display(), dir.path().join("second.csv").display()),
        false,
    );
    assert_eq!(o.exit_code(), 0, "{err}");
    let second = std::fs::read_to_string(dir.path().join("second.csv")).unwrap();
    assert_eq!(second.lines().filter(|l| l.contains(",cached,")).count(), 11, "{second}");
    assert_eq!(second.lines().filter(|l| l.contains(",done,")).count(), 1, "{second}");

    // The output is a cohort: it loads, with the PTV among its images.
    let (stdout, err, o) = common::run(&mut s, &format!("load P {}; frames", out.display()), false);
    assert_eq!(o.exit_code(), 0, "{err}");
    assert!(stdout.contains('P'), "{stdout}");
    let manifest = std::fs::read_to_string(out.join("cohort.toml")).unwrap();
    assert!(manifest.contains("ptv = \"{id}/ptv.nii.gz\"") && manifest.contains("simulated = true"), "{manifest}");

    // A frame without images is refused with a hint.
    let csv = sim.join("A/clinical.csv");
    let (_, err, _) =
        common::run(&mut s, &format!("load C {} --id patient_id --outcome nn; preprocess C", csv.display()), true);
    assert!(err.contains("was not loaded from a cohort folder"), "{err}");
    let (_, err, _) = common::run(&mut s, "preprocess A --resample 1,x,1", true);
    assert!(err.contains("--resample") && err.contains("1,x,1"), "{err}");
}
