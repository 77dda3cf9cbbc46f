//! N4 with SimpleITK's defaults on the reference input (brain1 float32,
//! shrunk 4 × 4 × 1 = 64 × 64 × 25, Otsu mask), the input SimpleITK 2.5.7
//! took 34.03 s on (preprocessing_reference_params.json, "wall_seconds").
//! With image paths after `--` (NIfTI/NRRD, e.g. a paper-size simulated
//! MR), it also times N4 as `preprocess --n4` runs it (Otsu mask, no
//! shrink), stage by stage within the iterations, on each.
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
        match radose::core::n4::correct(&image, [1, 1, 1], &N4Params::default(), &|| false) {
            Ok(r) => println!(
                "n4 {}x{}x{} ({path}): {:.3} s, iterations per level {:?}",
                image.size[0],
                image.size[1],
                image.size[2],
                t.elapsed().as_secs_f64(),
                r.iterations
            ),
            Err(e) => eprintln!("{path}: {e}"),
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
