//! N4 with SimpleITK's defaults on the reference input (brain1 float32,
//! shrunk 4 × 4 × 1 = 64 × 64 × 25, Otsu mask), the input SimpleITK 2.5.7
//! took 34.03 s on (preprocessing_reference_params.json, "wall_seconds").
//! With image paths after `--` (NIfTI/NRRD, e.g. a paper-size simulated
//! MR), it also times N4 as `preprocess --n4` runs it (Otsu mask, no
//! shrink) on each; with N4_SHRINK=1 also shrunk 2 and 4 times along
//! every axis, with the log field's difference to the unshrunk one.
//! Run: cargo bench --bench n4 [-- IMAGE…]

use std::path::Path;
use std::time::Instant;

use radose::core::n4::{N4Params, n4, otsu_mask};
use radose::imaging::nrrd;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyradiomics/preprocessing");
    let input = match nrrd::read(&dir.join("brain1_n4_input_shrink441_float32.nrrd")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut times = Vec::new();
    let mut iterations = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let Some(mask) = otsu_mask(&input, 200) else {
            eprintln!("flat input");
            std::process::exit(1);
        };
        match n4(&input, &mask, &N4Params::default(), &|| false) {
            Ok(r) => iterations = r.iterations,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    for path in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        let image = match radose::imaging::read_image(Path::new(&path)) {
            Ok(i) => i.volume,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let t = Instant::now();
        let full = match radose::core::n4::correct(&image, [1, 1, 1], &N4Params::default(), &|| false) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "n4 {}x{}x{} ({path}): {:.3} s, iterations per level {:?}",
            image.size[0],
            image.size[1],
            image.size[2],
            t.elapsed().as_secs_f64(),
            full.iterations
        );
        // What `--shrink` buys and costs: the time, and the log field's
        // difference to the unshrunk one inside the Otsu foreground.
        if std::env::var_os("N4_SHRINK").is_none() {
            continue;
        }
        let Some(mask) = otsu_mask(&image, 200) else { continue };
        for f in [[2, 2, 2], [4, 4, 4]] {
            let t = Instant::now();
            let Ok(r) = radose::core::n4::correct(&image, f, &N4Params::default(), &|| false) else { continue };
            let secs = t.elapsed().as_secs_f64();
            let d: Vec<f64> = r
                .log_bias
                .data
                .iter()
                .zip(&full.log_bias.data)
                .zip(&mask)
                .filter(|(_, m)| **m)
                .map(|((a, b), _)| f64::from((a - b).abs()))
                .collect();
            let mean = d.iter().sum::<f64>() / d.len().max(1) as f64;
            let max = d.iter().copied().fold(0.0, f64::max);
            println!(
                "  --shrink {},{},{}: {secs:.3} s; |Δ log field| vs unshrunk in the foreground: mean {mean:.2e}, max {max:.2e} (max relative field difference {:.2}%)",
                f[0],
                f[1],
                f[2],
                100.0 * max.exp_m1()
            );
        }
    }
    println!(
        "n4 64x64x25 (Otsu mask + N4, defaults): median {:.3} s, min {:.3} s over {} runs; iterations per level {:?}",
        times[times.len() / 2],
        times[0],
        times.len(),
        iterations
    );
}
