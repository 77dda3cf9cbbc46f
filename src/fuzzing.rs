//! Entry points for the fuzz targets (`fuzz/`, cargo-fuzz) and for the
//! regression test that replays their corpora (`tests/fuzz_corpus.rs`).
//! Each takes arbitrary bytes; returning (with an error or not) is a pass,
//! a panic is a bug.

use std::path::Path;

/// The shell's line grammar, then each statement against its command's signature.
pub fn shell_line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(statements) = crate::syntax::parse(&text, 1) {
        let registry = crate::commands::registry();
        for st in &statements {
            if let Ok(cmd) = registry.resolve(st) {
                let _ = crate::signature::Args::parse(&cmd.signature(), st);
            }
        }
    }
}

/// A cohort manifest and a clinical CSV (the bytes before and after the first NUL).
pub fn manifest_and_csv(data: &[u8]) {
    let (manifest, csv) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let roles = crate::data::manifest::Manifest::parse(Path::new("cohort.toml"), &String::from_utf8_lossy(manifest))
        .map(|m| m.roles())
        .unwrap_or_default();
    if let Ok(raw) = crate::data::csv_table::parse_csv(Path::new("clinical.csv"), csv) {
        let _ = crate::core::cohort::type_and_validate(&raw, &roles);
    }
}

/// The NIfTI-1/2 reader (gzip or not).
pub fn nifti(data: &[u8]) {
    let _ = crate::imaging::nifti::decode_file_bytes(Path::new("fuzz.nii"), data.to_vec());
}

/// The NRRD reader (a detached data file is looked for in a folder that does not exist).
pub fn nrrd(data: &[u8]) {
    let _ = crate::imaging::nrrd::decode_typed(Path::new("/nonexistent-radose-fuzz/fuzz.nrrd"), data.to_vec());
}

/// The DICOM RT Dose reader (through a private temporary file, as it reads files).
pub fn dicom(data: &[u8]) {
    let path = scratch_file("dcm");
    if std::fs::write(&path, data).is_ok() {
        let _ = crate::imaging::dicom::read_rtdose(&path);
    }
    let _ = std::fs::remove_file(&path);
}

/// A folder of DICOM slices grouped into series, and the export scan: the
/// input is split into files at each `--next--`, written into a private
/// temporary folder.
pub fn series(data: &[u8]) {
    let dir = scratch_file("series");
    if std::fs::create_dir_all(&dir).is_ok() {
        let mut rest = data;
        let mut n = 0;
        while !rest.is_empty() && n < 8 {
            let cut = rest.windows(8).position(|w| w == b"--next--");
            let (file, after) = match cut {
                Some(i) => (&rest[..i], &rest[i + 8..]),
                None => (rest, &b""[..]),
            };
            let _ = std::fs::write(dir.join(format!("IM{n}.dcm")), file);
            rest = after;
            n += 1;
        }
        let _ = crate::imaging::dicom::series::list_series(&dir);
        let _ = crate::imaging::dicom::series::read_series(&dir, None);
        if let Ok(tree) = crate::imaging::dicom::tree::scan(&dir, &|| false) {
            for entries in tree.patients.values() {
                let _ = crate::imaging::dicom::tree::image_series(entries);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An RT Structure Set, each structure rasterised onto a small grid.
pub fn rtstruct(data: &[u8]) {
    let path = scratch_file("dcm");
    if std::fs::write(&path, data).is_ok()
        && let Ok(all) = crate::imaging::dicom::rtstruct::read_rtstruct(&path)
    {
        let grid = crate::core::volume::Volume {
            size: [8, 8, 4],
            spacing: [1.2, 1.2, 3.0],
            origin: [-100.0, -80.0, -30.0],
            direction: crate::core::volume::IDENTITY,
            data: vec![0.0; 256],
        };
        for s in &all {
            let _ = crate::imaging::dicom::rtstruct::rasterise_onto(s, &grid, None, None);
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// A registration: a DICOM Spatial Registration or a text 4×4 matrix.
pub fn registration(data: &[u8]) {
    let path = scratch_file("reg");
    if std::fs::write(&path, data).is_ok()
        && let Ok(r) = crate::imaging::registration::read(&path)
    {
        let _ = r.apply([1.0, 2.0, 3.0]);
    }
    let _ = std::fs::remove_file(&path);
}

/// A temporary file name of this call's own: tests replay corpora on several
/// threads of one process, so the process id alone would let two calls
/// overwrite each other's input.
fn scratch_file(extension: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("radose-fuzz-{}-{n}.{extension}", std::process::id()))
}

/// A PyRadiomics parameter file (YAML or JSON).
pub fn params(data: &[u8]) {
    let _ = crate::core::radiomics::ParamFile::parse(&String::from_utf8_lossy(data), "fuzz.yaml");
}

/// The `runs --where` filter, through to its SQL.
pub fn where_expr(data: &[u8]) {
    if let Ok(e) = crate::store::query::parse(&String::from_utf8_lossy(data)) {
        let mut binds = Vec::new();
        let _ = crate::store::query::to_sql(&e, &mut binds);
    }
}

/// Every target by name (the fuzz target and corpus folder names).
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("shell_line", shell_line),
    ("manifest_csv", manifest_and_csv),
    ("nifti", nifti),
    ("nrrd", nrrd),
    ("dicom", dicom),
    ("series", series),
    ("rtstruct", rtstruct),
    ("registration", registration),
    ("params", params),
    ("where_expr", where_expr),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_call_gets_its_own_scratch_file() {
        assert_ne!(super::scratch_file("dcm"), super::scratch_file("dcm"));
    }
}
