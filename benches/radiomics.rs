//! Radiomics on brain1 (256 × 256 × 25, ROI 4137 voxels), every default
//! feature of the seven classes with PyRadiomics' default settings, single
//! thread; the counterpart of benches/radiomics_pyradiomics.py.
//! Run: cargo bench --bench radiomics

use std::path::Path;
use std::time::Instant;

use radose::core::radiomics::ParamFile;
use radose::imaging::radiomics::extract_files;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyradiomics/data");
    let (image, mask) = (dir.join("brain1_image.nrrd"), dir.join("brain1_label.nrrd"));
    for (label, setting) in [("defaults", "{}"), ("resampled 2 mm B-spline", "{\"resampledPixelSpacing\": [2, 2, 2]}")]
    {
        let params = match ParamFile::parse(&format!("{{\"setting\": {setting}}}"), "bench") {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..7 {
            let t = Instant::now();
            match extract_files(&image, &mask, &params, false) {
                Ok(x) => n = x.features.len(),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        // The parts: reading both files, and extraction from memory.
        let t = Instant::now();
        let (img, msk) = match (radose::imaging::read_image(&image), radose::imaging::read_image(&mask)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => std::process::exit(1),
        };
        let read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = radose::core::radiomics::extract(&img.volume, true, &msk.volume, &params, false);
        let compute = t.elapsed().as_secs_f64();
        println!("  of which reading {read:.4} s, extraction {compute:.4} s");
        println!(
            "radiomics brain1 ({label}): {n} features, median {:.4} s, min {:.4} s over {} runs (includes reading both files)",
            times[3],
            times[0],
            times.len()
        );
    }
}
