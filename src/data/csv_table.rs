//! Reading delimited text tables into [`RawTable`], with line numbers for
//! every row so later validation can point at the exact place.

use std::path::Path;

use crate::core::cohort::RawTable;
use crate::error::{Error, Result};
use crate::provenance::io_error;

/// Reads a CSV (comma-separated, `"` quoting, header row) from `path`.
pub fn read_csv(path: &Path) -> Result<RawTable> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    parse_csv(path, &bytes)
}

/// Parses CSV bytes; `path` is only used in error messages.
pub fn parse_csv(path: &Path, bytes: &[u8]) -> Result<RawTable> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    // The csv crate's line counter skips blank lines; count them ourselves
    // from each record's byte offset.
    let newlines: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
    let line_at = |byte: u64| {
        // A record's offset may point at blank lines skipped before it.
        let mut at = byte as usize;
        while bytes.get(at).is_some_and(|b| *b == b'\n' || *b == b'\r') {
            at += 1;
        }
        newlines.partition_point(|&nl| nl < at) + 1
    };
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        None => {
            return Err(Error::Io { path: path.to_path_buf(), message: "the file is empty (no header row)".into() });
        }
        Some(rec) => rec.map_err(|e| csv_error(path, e, &line_at))?.iter().map(str::to_string).collect(),
    };
    let mut rows = Vec::new();
    let mut locations = Vec::new();
    for rec in records {
        let rec = rec.map_err(|e| csv_error(path, e, &line_at))?;
        let line = rec.position().map_or(0, |p| line_at(p.byte()));
        if rec.len() == 1 && rec.get(0) == Some("") {
            continue; // a blank line
        }
        if rec.len() != headers.len() {
            return Err(Error::MalformedRow {
                path: path.to_path_buf(),
                line,
                message: format!("expected {} fields (as in the header), found {}", headers.len(), rec.len()),
            });
        }
        rows.push(rec.iter().map(str::to_string).collect());
        locations.push(format!("line {line}"));
    }
    Ok(RawTable { path: path.to_path_buf(), headers, rows, locations })
}

fn csv_error(path: &Path, e: csv::Error, line_at: &dyn Fn(u64) -> usize) -> Error {
    let line = e.position().map_or(0, |p| line_at(p.byte()));
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8 text".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    Error::MalformedRow { path: path.to_path_buf(), line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_line_numbers() {
        let t = parse_csv(Path::new("x.csv"), b"\xEF\xBB\xBFa,b\n1, 2\n\n\"3,3\",4\n").unwrap();
        assert_eq!(t.headers, vec!["a", "b"]);
        assert_eq!(t.rows, vec![vec!["1", "2"], vec!["3,3", "4"]]);
        assert_eq!(t.locations, vec!["line 2", "line 4"]);
    }

    #[test]
    fn short_row_is_reported_with_its_line() {
        let e = parse_csv(Path::new("x.csv"), b"a,b\n1,2\n3\n").unwrap_err();
        assert_eq!(e.to_string(), "x.csv: line 3: malformed CSV row: expected 2 fields (as in the header), found 1");
    }
}
