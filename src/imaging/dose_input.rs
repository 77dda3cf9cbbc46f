//! The deep model's dose input: each patient's dose grid cropped to the ROI
//! (the PTV) bounding box, resampled linearly to [D, H, W] — or a [D, H, W]
//! window at the grid's own spacing centred on the ROI — and divided by a
//! scale (the patient's prescription, or a fixed number of Gy).

use std::path::Path;

use crate::core::masks::{CropMode, crop_to_mask, window_around_mask};
use crate::data::manifest::Manifest;
use crate::error::{Error, Result};
use crate::imaging::read_image;

/// One patient's crop as f32 in [D, H, W] order (columns fastest).
pub fn dose_crop(dose: &Path, roi: &Path, shape_dhw: [usize; 3], mode: CropMode, scale: f64) -> Result<Vec<f32>> {
    let d = read_image(dose)?.volume;
    let m = read_image(roi)?.volume;
    let [dd, hh, ww] = shape_dhw;
    let crop = match mode {
        CropMode::Box => crop_to_mask(&d, &m, [ww, hh, dd]).map(|(c, _)| c),
        CropMode::Window => window_around_mask(&d, &m, [ww, hh, dd]),
    }
    .map_err(|e| {
        Error::invalid(format!("{}: cropping the dose to {} failed: {e}", dose.display(), roi.display()), None)
    })?;
    // Volume data run x fastest, then y, then z: already [D, H, W].
    Ok(crop.data.iter().map(|&v| (f64::from(v) / scale) as f32).collect())
}

/// Crops for every patient of a cohort folder, in `ids` order, on up to
/// `workers` threads. Errors name the patient and file; nothing is read
/// before every path has been checked.
pub fn dose_crops(
    dir: &Path,
    manifest: &Manifest,
    ids: &[String],
    roi: &str,
    (shape_dhw, mode): ([usize; 3], CropMode),
    scales: &[f64],
    workers: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Vec<f32>>> {
    let role_missing = |role: &str| {
        Error::invalid(
            format!(
                "{}: [images] names no `{role}` (it has {})",
                dir.join("cohort.toml").display(),
                manifest.images.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Some("run `preprocess COHORT --to DIR` and load DIR: it writes the PTV and the dose on the MR grid"),
        )
    };
    let mut jobs = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let dose = manifest.image_path(dir, "dose", id).ok_or_else(|| role_missing("dose"))?;
        let mask = manifest.image_path(dir, roi, id).ok_or_else(|| role_missing(roi))?;
        for p in [&dose, &mask] {
            if !p.exists() {
                return Err(Error::invalid(
                    format!("patient {id}: {} does not exist", p.display()),
                    Some("every patient needs a dose grid and an ROI mask"),
                ));
            }
        }
        let scale = scales[i];
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::invalid(
                format!("patient {id}: the dose scale is {scale}, not a positive number"),
                None,
            ));
        }
        jobs.push((id.clone(), dose, mask, scale));
    }
    let workers = workers.clamp(1, jobs.len().max(1));
    let mut out: Vec<Option<Result<Vec<f32>>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<(usize, &[(String, std::path::PathBuf, std::path::PathBuf, f64)])> =
            jobs.chunks(jobs.len().div_ceil(workers).max(1)).enumerate().collect();
        let size = jobs.len().div_ceil(workers).max(1);
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(c, chunk)| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(id, dose, mask, scale)| {
                            if cancelled() {
                                return Err(Error::Cancelled);
                            }
                            dose_crop(dose, mask, shape_dhw, mode, *scale)
                                .map_err(|e| Error::invalid(format!("patient {id}: {e}"), None))
                        })
                        .enumerate()
                        .map(|(j, r)| (c * size + j, r))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(results) = h.join() {
                for (i, r) in results {
                    out[i] = Some(r);
                }
            }
        }
    });
    out.into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| Err(Error::invalid(format!("patient {}: reading failed", ids[i]), None))))
        .collect()
}
