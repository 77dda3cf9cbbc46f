//! A rigid registration between two frames of reference, from a DICOM
//! Spatial Registration object (`imaging::dicom::registration`) or a text
//! file of the 4×4 matrix (16 numbers, row by row; `#` starts a comment).
//! The matrix maps a point of the moving frame (the planning CT's, where the
//! dose and its contours live) into the fixed frame (the MR's), as DICOM's
//! Frame of Reference Transformation Matrix does. A volume is moved by
//! moving its geometry — origin and direction — so its voxels are
//! interpolated once, onto the MR grid, and never twice.

use std::path::Path;

use crate::core::volume::Volume;
use crate::error::{Error, Result};

/// A rigid transform `p ↦ R p + t` with the frames it joins.
#[derive(Debug, Clone, PartialEq)]
pub struct Rigid {
    /// Row-major 4×4; the last row is 0 0 0 1.
    pub matrix: [f64; 16],
    /// The frame it maps from (the dose's), when the file says.
    pub from_frame: Option<String>,
    /// The frame it maps into (the MR's), when the file says.
    pub to_frame: Option<String>,
}

impl Rigid {
    /// Checks the matrix is rigid: an orthonormal rotation (det +1) and a
    /// last row of 0 0 0 1.
    pub fn new(matrix: [f64; 16], from_frame: Option<String>, to_frame: Option<String>, path: &Path) -> Result<Rigid> {
        let bad = |why: &str| Error::invalid(format!("{}: the registration matrix {why}", path.display()), None);
        if (matrix[12].abs() + matrix[13].abs() + matrix[14].abs()) > 1e-9 || (matrix[15] - 1.0).abs() > 1e-9 {
            return Err(bad("has a last row other than 0 0 0 1"));
        }
        let r = |i: usize, j: usize| matrix[i * 4 + j];
        for a in 0..3 {
            for b in 0..3 {
                let dot: f64 = (0..3).map(|k| r(k, a) * r(k, b)).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                if (dot - want).abs() > 1e-4 {
                    return Err(bad(
                        "is not rigid (its 3×3 part is not a rotation); deformable and scaled registrations are not supported",
                    ));
                }
            }
        }
        let det = r(0, 0) * (r(1, 1) * r(2, 2) - r(1, 2) * r(2, 1)) - r(0, 1) * (r(1, 0) * r(2, 2) - r(1, 2) * r(2, 0))
            + r(0, 2) * (r(1, 0) * r(2, 1) - r(1, 1) * r(2, 0));
        if det < 0.0 {
            return Err(bad("mirrors (determinant −1)"));
        }
        Ok(Rigid { matrix, from_frame, to_frame })
    }

    /// A point of the moving frame in the fixed frame.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.matrix;
        [0, 1, 2].map(|i| m[i * 4] * p[0] + m[i * 4 + 1] * p[1] + m[i * 4 + 2] * p[2] + m[i * 4 + 3])
    }

    /// `v` with its geometry moved into the fixed frame (voxels unchanged).
    pub fn apply_volume(&self, v: &Volume) -> Volume {
        let m = &self.matrix;
        let mut direction = [0.0; 9];
        for i in 0..3 {
            for c in 0..3 {
                direction[i * 3 + c] = (0..3).map(|k| m[i * 4 + k] * v.direction[k * 3 + c]).sum();
            }
        }
        Volume { origin: self.apply(v.origin), direction, ..v.clone() }
    }
}

/// Reads a registration: a DICOM Spatial Registration object, or a text file
/// of 16 numbers.
pub fn read(path: &Path) -> Result<Rigid> {
    let bytes = std::fs::read(path).map_err(|e| crate::provenance::io_error(path, e))?;
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        let reg = crate::imaging::dicom::registration::read_reg(path)?;
        return Rigid::new(reg.matrix, reg.moving_frame, reg.fixed_frame, path);
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::invalid(format!("{}: neither DICOM nor a text file of 16 numbers", path.display()), None)
    })?;
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        for word in line.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()) {
            values.push(word.parse::<f64>().map_err(|_| {
                Error::invalid(format!("{}: line {}: `{word}` is not a number", path.display(), n + 1), None)
            })?);
        }
    }
    let matrix: [f64; 16] = values.as_slice().try_into().map_err(|_| {
        Error::invalid(
            format!("{}: {} numbers; a rigid matrix is 16 (4 rows of 4)", path.display(), values.len()),
            Some("write the 4×4 matrix mapping the dose's frame into the MR's, row by row"),
        )
    })?;
    Rigid::new(matrix, None, None, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_matrices_are_read_checked_and_applied() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("reg.txt");
        // 90° about z, then 10 mm along x.
        std::fs::write(&f, "# CT → MR\n0 -1 0 10\n1 0 0 0\n0 0 1 0\n0 0 0 1\n").unwrap();
        let r = read(&f).unwrap();
        assert_eq!(r.apply([1.0, 0.0, 0.0]), [10.0, 1.0, 0.0]);
        let v = Volume {
            size: [1, 1, 1],
            spacing: [1.0; 3],
            origin: [1.0, 2.0, 3.0],
            direction: crate::core::volume::IDENTITY,
            data: vec![0.0],
        };
        let moved = r.apply_volume(&v);
        assert_eq!(moved.origin, [8.0, 1.0, 3.0]);
        assert_eq!(moved.direction, [0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        std::fs::write(&f, "2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1").unwrap();
        assert!(read(&f).unwrap_err().to_string().contains("not rigid"));
        std::fs::write(&f, "1 0 0 0 0 1 0 0 0 0 1 0").unwrap();
        assert!(read(&f).unwrap_err().to_string().contains("12 numbers"));
        std::fs::write(&f, "1 0 0 x").unwrap();
        assert!(read(&f).unwrap_err().to_string().contains("`x` is not a number"));
    }
}
