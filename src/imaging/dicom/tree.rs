//! A DICOM export as a tree of files: every Part 10 file under a folder,
//! indexed by patient, with what `cohort import` matches on — modality,
//! series, description, frame of reference, the object's class. Only the
//! header is read (up to the pixel data). The Patient ID is read to group
//! the files and to match the clinical table; no name, birth date or other
//! identifying attribute is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

use crate::error::Result;

/// One file's header, as far as import needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    pub sop_class: String,
    pub modality: String,
    pub series_uid: String,
    pub description: String,
    pub frame_of_reference: Option<String>,
    /// RT Dose: Dose Summation Type (PLAN, BEAM, FRACTION…).
    pub dose_summation: Option<String>,
    pub study_description: String,
}

/// An image series of one patient: its files' folder, UID, modality,
/// description and frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    pub uid: String,
    pub modality: String,
    pub description: String,
    pub frame_of_reference: Option<String>,
    pub folders: Vec<PathBuf>,
    pub files: usize,
}

/// Every DICOM file under a root, by Patient ID, and what could not be read.
#[derive(Debug, Default)]
pub struct Tree {
    pub patients: BTreeMap<String, Vec<Entry>>,
    /// Files with the DICM marker that did not parse, or had no Patient ID.
    pub skipped: Vec<(PathBuf, String)>,
}

fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let s = obj.element(tag).ok()?.to_str().ok()?.trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn is_part10(path: &Path) -> bool {
    let mut head = [0u8; 132];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && &head[128..132] == b"DICM"
}

/// Every file under `root` (recursively, in name order; linked folders are
/// not followed), indexed;
/// `cancelled` is asked between files.
pub fn scan(root: &Path, cancelled: &dyn Fn() -> bool) -> Result<Tree> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| crate::provenance::io_error(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| crate::provenance::io_error(&dir, e))?;
            let path = entry.path();
            // Folders are entered only as themselves, never through a link (a link loop would never end).
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if path.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    let mut tree = Tree::default();
    for path in files {
        if cancelled() {
            return Err(crate::error::Error::Cancelled);
        }
        if !is_part10(&path) {
            continue;
        }
        if let Err(e) = super::check_lengths(&path) {
            tree.skipped.push((path, e.to_string()));
            continue;
        }
        let obj = match OpenFileOptions::new().read_until(tags::PIXEL_DATA).open_file(&path) {
            Ok(o) => o,
            Err(e) => {
                tree.skipped.push((path, format!("not a readable DICOM file: {e}")));
                continue;
            }
        };
        let Some(patient) = text(&obj, tags::PATIENT_ID) else {
            tree.skipped.push((path, "no Patient ID".into()));
            continue;
        };
        let sop_class = obj.meta().media_storage_sop_class_uid().trim_end_matches('\0').trim().to_string();
        let entry = Entry {
            sop_class,
            modality: text(&obj, tags::MODALITY).unwrap_or_default(),
            series_uid: text(&obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
            description: text(&obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
            frame_of_reference: text(&obj, tags::FRAME_OF_REFERENCE_UID),
            dose_summation: text(&obj, tags::DOSE_SUMMATION_TYPE),
            study_description: text(&obj, tags::STUDY_DESCRIPTION).unwrap_or_default(),
            path,
        };
        tree.patients.entry(patient).or_default().push(entry);
    }
    Ok(tree)
}

/// The image series (files with MR or CT modality) among `entries`.
pub fn image_series(entries: &[Entry]) -> Vec<SeriesEntry> {
    let mut by: BTreeMap<String, SeriesEntry> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.modality == "MR" || e.modality == "CT") {
        let s = by.entry(e.series_uid.clone()).or_insert_with(|| SeriesEntry {
            uid: e.series_uid.clone(),
            modality: e.modality.clone(),
            description: e.description.clone(),
            frame_of_reference: e.frame_of_reference.clone(),
            folders: Vec::new(),
            files: 0,
        });
        s.files += 1;
        if let Some(parent) = e.path.parent()
            && !s.folders.iter().any(|f| f == parent)
        {
            s.folders.push(parent.to_path_buf());
        }
    }
    by.into_values().collect()
}

/// A case-insensitive glob: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Dynamic programming over (pattern prefix, text prefix).
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' {
            let mut any = false;
            for j in 0..=t.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = row[j - 1] && (pc == '?' || pc == t[j - 1]);
            }
        }
        row = next;
    }
    row[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_case_insensitively() {
        assert!(glob_match("*T1*", "Ax t1 SE"));
        assert!(glob_match("*T1*C*", "AX T1 SE +C"));
        assert!(!glob_match("*T1*C*", "AX T1 SE"));
        assert!(glob_match("T?", "t2"));
        assert!(!glob_match("T?", "T12"));
        assert!(glob_match("*", ""));
        assert!(glob_match("GTV", "gtv"));
        assert!(!glob_match("GTV", "GTV2"));
    }
}
