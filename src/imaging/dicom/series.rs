//! A folder of single-frame DICOM images (MR or CT, one file per slice) as
//! one volume, the way ITK's `ImageSeriesReader` builds it: files grouped by
//! Series Instance UID, slices sorted by their position along the slice
//! normal (Image Position · (row × column direction)) — never by file name
//! or Instance Number —, the origin at the first slice's Image Position,
//! the direction matrix from Image Orientation (oblique planes kept) with
//! the normal as the third axis, the slice spacing from the first and last
//! positions, and every slice's Rescale Slope/Intercept applied.
//!
//! Refused, with the files named: several series without a choice, mixed
//! orientations or in-plane geometry, two slices at one position, uneven
//! slice spacing or a missing slice, multi-frame files, compressed pixel
//! data. Patient identifiers are never read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

use crate::core::volume::Volume;
use crate::error::{Error, Result};

const NATIVE: [&str; 3] = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"];
/// Relative tolerance on slice spacing (ITK warns beyond about this much).
const SPACING_TOLERANCE: f64 = 1e-3;

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: message.into() }
}

fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let s = obj.element(tag).ok()?.to_str().ok()?.trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn floats(obj: &DefaultDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.element(tag).ok()?.to_multi_float64().ok()
}

fn int(obj: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    obj.element(tag).ok()?.to_int::<i64>().ok()
}

/// One image file's header.
#[derive(Debug, Clone)]
struct Slice {
    path: PathBuf,
    series: String,
    modality: String,
    description: String,
    rows: i64,
    cols: i64,
    spacing: [f64; 2],
    position: [f64; 3],
    orientation: [f64; 6],
    frame_of_reference: Option<String>,
}

/// A series found in a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub uid: String,
    pub modality: String,
    pub description: String,
    pub slices: usize,
}

/// The files of `dir` that are DICOM Part 10 (the `DICM` marker), sorted by name.
pub fn part10_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| crate::provenance::io_error(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| crate::provenance::io_error(dir, e))?.path();
        if !path.is_file() {
            continue;
        }
        let mut head = [0u8; 132];
        let is_dicom = std::fs::File::open(&path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| &head[128..132] == b"DICM");
        if is_dicom {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The image slices of `dir` (files without Image Position, such as RT
/// Structure Sets or registrations, are not slices and are passed over).
fn slices(dir: &Path) -> Result<Vec<Slice>> {
    let files = part10_files(dir)?;
    if files.is_empty() {
        return Err(bad(dir, "no DICOM files (Part 10, with the DICM marker) in this folder"));
    }
    let mut out = Vec::new();
    for path in files {
        super::check_lengths(&path)?;
        let obj = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(&path)
            .map_err(|e| bad(&path, format!("not a readable DICOM file: {e}")))?;
        let Some(position) = floats(&obj, tags::IMAGE_POSITION_PATIENT) else { continue };
        if int(&obj, tags::NUMBER_OF_FRAMES).is_some_and(|n| n > 1) {
            return Err(bad(&path, "a multi-frame image; radose reads single-frame series (one file per slice)"));
        }
        let need = |v: Option<Vec<f64>>, n: usize, name: &str| {
            v.filter(|v| v.len() == n)
                .ok_or_else(|| bad(&path, format!("{name} is missing or has the wrong number of values")))
        };
        let position = need(Some(position), 3, "Image Position (Patient)")?;
        let orientation = need(floats(&obj, tags::IMAGE_ORIENTATION_PATIENT), 6, "Image Orientation (Patient)")?;
        let spacing = need(floats(&obj, tags::PIXEL_SPACING), 2, "Pixel Spacing")?;
        let (Some(rows), Some(cols)) = (int(&obj, tags::ROWS), int(&obj, tags::COLUMNS)) else {
            return Err(bad(&path, "Rows or Columns is missing"));
        };
        let Some(series) = text(&obj, tags::SERIES_INSTANCE_UID) else {
            return Err(bad(&path, "Series Instance UID is missing"));
        };
        out.push(Slice {
            series,
            modality: text(&obj, tags::MODALITY).unwrap_or_default(),
            description: text(&obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
            rows,
            cols,
            spacing: [spacing[0], spacing[1]],
            position: [position[0], position[1], position[2]],
            orientation: [0, 1, 2, 3, 4, 5].map(|i| orientation[i]),
            frame_of_reference: text(&obj, tags::FRAME_OF_REFERENCE_UID),
            path,
        });
    }
    if out.is_empty() {
        return Err(bad(dir, "no image slices here (no file has an Image Position)"));
    }
    Ok(out)
}

fn group(slices: Vec<Slice>) -> BTreeMap<String, Vec<Slice>> {
    let mut by: BTreeMap<String, Vec<Slice>> = BTreeMap::new();
    for s in slices {
        by.entry(s.series.clone()).or_default().push(s);
    }
    by
}

/// The image series in `dir`, with modality, description and slice count.
pub fn list_series(dir: &Path) -> Result<Vec<SeriesInfo>> {
    Ok(group(slices(dir)?)
        .into_iter()
        .map(|(uid, s)| SeriesInfo {
            modality: s[0].modality.clone(),
            description: s[0].description.clone(),
            slices: s.len(),
            uid,
        })
        .collect())
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A series read as a volume, with its Frame of Reference UID.
pub struct Series {
    pub volume: Volume,
    pub info: SeriesInfo,
    pub frame_of_reference: Option<String>,
    /// The files in slice order.
    pub files: Vec<PathBuf>,
}

/// Reads the series `uid` of `dir` (the only one when `None`).
pub fn read_series(dir: &Path, uid: Option<&str>) -> Result<Series> {
    let mut by = group(slices(dir)?);
    let chosen = match uid {
        Some(u) => {
            by.remove(u).ok_or_else(|| bad(dir, format!("no series {u} here; the series are: {}", describe(&by))))?
        }
        None if by.len() == 1 => by.into_values().next().unwrap_or_default(),
        None => {
            return Err(Error::invalid(
                format!(
                    "{}: {} image series; name one as FOLDER#SERIES_UID: {}",
                    dir.display(),
                    by.len(),
                    describe(&by)
                ),
                Some("the series are told apart by their Series Instance UID"),
            ));
        }
    };
    assemble(dir, chosen)
}

fn describe(by: &BTreeMap<String, Vec<Slice>>) -> String {
    by.iter()
        .map(|(uid, s)| {
            let d = if s[0].description.is_empty() { String::new() } else { format!(" \"{}\"", s[0].description) };
            format!("{uid} ({}{d}, {} slices)", if s[0].modality.is_empty() { "?" } else { &s[0].modality }, s.len())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn assemble(dir: &Path, mut s: Vec<Slice>) -> Result<Series> {
    let first = s[0].clone();
    for other in &s[1..] {
        if other.orientation.iter().zip(&first.orientation).any(|(a, b)| (a - b).abs() > 1e-4) {
            return Err(bad(
                &other.path,
                format!("Image Orientation differs from {}'s: mixed orientations in one series", name(&first.path)),
            ));
        }
        if other.rows != first.rows || other.cols != first.cols {
            return Err(bad(
                &other.path,
                format!(
                    "{}×{} pixels, {} has {}×{}",
                    other.cols,
                    other.rows,
                    name(&first.path),
                    first.cols,
                    first.rows
                ),
            ));
        }
        if other.spacing.iter().zip(&first.spacing).any(|(a, b)| (a - b).abs() > 1e-4 * b.abs().max(1.0)) {
            return Err(bad(&other.path, format!("Pixel Spacing differs from {}'s", name(&first.path))));
        }
    }
    let o = first.orientation;
    let (row, col) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let normal = cross(row, col);
    s.sort_by(|a, b| dot(a.position, normal).total_cmp(&dot(b.position, normal)).then_with(|| a.path.cmp(&b.path)));
    let depth: Vec<f64> = s.iter().map(|x| dot(x.position, normal)).collect();
    for (w, d) in s.windows(2).zip(depth.windows(2)) {
        if (d[1] - d[0]).abs() < 1e-4 {
            return Err(bad(
                &w[1].path,
                format!("at the same slice position as {} ({:.3} mm)", name(&w[0].path), d[0]),
            ));
        }
    }
    let n = s.len();
    // ITK's slice spacing: first to last over the gaps between them.
    let dz = if n > 1 { (depth[n - 1] - depth[0]) / (n - 1) as f64 } else { 1.0 };
    if n > 2 {
        // Every gap is checked against the median gap, so one missing slice
        // shows as a gap twice the others.
        let mut gaps: Vec<f64> = depth.windows(2).map(|d| d[1] - d[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let typical = gaps[gaps.len() / 2];
        for (w, d) in s.windows(2).zip(depth.windows(2)) {
            let gap = d[1] - d[0];
            if (gap - typical).abs() > SPACING_TOLERANCE * typical.max(1.0) {
                let what = if gap > 1.5 * typical {
                    format!(
                        "a slice is missing between {} and {} ({gap:.3} mm apart",
                        name(&w[0].path),
                        name(&w[1].path)
                    )
                } else {
                    format!("uneven slice spacing between {} and {} ({gap:.3} mm", name(&w[0].path), name(&w[1].path))
                };
                return Err(bad(dir, format!("{what}; the other slices are {typical:.3} mm apart)")));
            }
        }
    }
    let (cols, rows) = (first.cols as usize, first.rows as usize);
    let per_slice = cols * rows;
    let total = per_slice.checked_mul(n).filter(|t| *t <= crate::imaging::nifti::max_voxels());
    let Some(total) = total else { return Err(bad(dir, "too many voxels")) };
    let mut data = Vec::with_capacity(total);
    for slice in &s {
        data.extend(pixels(&slice.path, per_slice)?);
    }
    let mut direction = [0.0; 9];
    for r in 0..3 {
        direction[r * 3] = row[r];
        direction[r * 3 + 1] = col[r];
        direction[r * 3 + 2] = normal[r];
    }
    let volume = Volume {
        size: [cols, rows, n],
        // Pixel Spacing is (between rows, between columns): x first is the second.
        spacing: [first.spacing[1], first.spacing[0], dz.abs()],
        origin: s[0].position,
        direction,
        data,
    };
    let frame_of_reference = s[0].frame_of_reference.clone();
    let info = SeriesInfo { uid: first.series, modality: first.modality, description: first.description, slices: n };
    Ok(Series { volume, info, frame_of_reference, files: s.into_iter().map(|x| x.path).collect() })
}

/// One slice's stored values × Rescale Slope + Rescale Intercept.
fn pixels(path: &Path, expected: usize) -> Result<Vec<f32>> {
    let obj = dicom_object::open_file(path).map_err(|e| bad(path, format!("not a readable DICOM file: {e}")))?;
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').trim().to_string();
    if !NATIVE.contains(&ts.as_str()) {
        return Err(bad(
            path,
            format!(
                "transfer syntax {ts} (compressed) is not decoded; convert the series to an uncompressed syntax first"
            ),
        ));
    }
    let big = ts == NATIVE[2];
    let bits = int(&obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let signed = int(&obj, tags::PIXEL_REPRESENTATION) == Some(1);
    let slope = obj.element(tags::RESCALE_SLOPE).ok().and_then(|e| e.to_float64().ok()).unwrap_or(1.0);
    let intercept = obj.element(tags::RESCALE_INTERCEPT).ok().and_then(|e| e.to_float64().ok()).unwrap_or(0.0);
    let element = obj.element(tags::PIXEL_DATA).map_err(|_| bad(path, "Pixel Data is missing"))?;
    let Some(primitive) = element.value().primitive() else {
        return Err(bad(path, "Pixel Data is encapsulated (compressed)"));
    };
    let Some(raw) = super::stored_values(primitive, bits, signed, big).filter(|_| bits == 8 || bits == 16) else {
        return Err(bad(path, format!("{bits}-bit pixel data is not supported (8 or 16)")));
    };
    if raw.len() < expected {
        return Err(bad(path, format!("Pixel Data holds {} values for {expected} pixels", raw.len())));
    }
    Ok(raw.iter().take(expected).map(|v| (v * slope + intercept) as f32).collect())
}
