//! NIfTI single-file images (`.nii`, `.nii.gz`): a reader for NIfTI-1 and
//! NIfTI-2 and a NIfTI-1 writer.
//!
//! Written here rather than taken from the `nifti` crate because radose needs
//! byte-identical output for a seed (gzip header without a timestamp), direct
//! control of qform/sform, and errors that name the file and the field. The
//! `nifti` crate is used in the tests as an independent reader.
//!
//! Geometry: NIfTI stores a RAS affine; radose's [`Volume`] is LPS like ITK,
//! so the first two rows are negated on the way in and out.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;

use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::provenance::io_error;

const HEADER_SIZE: usize = 348;
const VOX_OFFSET: usize = 352;
/// The most voxels radose will allocate for one image.
pub const DEFAULT_MAX_VOXELS: usize = 1 << 30;

/// The largest image radose reads, in voxels: `RADOSE_MAX_VOXELS` from the
/// environment, else 2³⁰. Headers promising more are refused before any
/// allocation, and compressed data is never inflated past it.
pub fn max_voxels() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("RADOSE_MAX_VOXELS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_MAX_VOXELS)
    })
}

/// How voxel values are stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredType {
    U8,
    I16,
    F32,
}

impl StoredType {
    fn code(self) -> i16 {
        match self {
            StoredType::U8 => 2,
            StoredType::I16 => 4,
            StoredType::F32 => 16,
        }
    }
    fn bytes(self) -> usize {
        match self {
            StoredType::U8 => 1,
            StoredType::I16 => 2,
            StoredType::F32 => 4,
        }
    }
}

fn put_i16(buf: &mut [u8], at: usize, v: i16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_i32(buf: &mut [u8], at: usize, v: i32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_f32(buf: &mut [u8], at: usize, v: f32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The RAS affine (3×4, row-major) of a volume.
fn ras_affine(v: &Volume) -> [[f64; 4]; 3] {
    let mut m = [[0.0; 4]; 3];
    for r in 0..3 {
        let sign = if r < 2 { -1.0 } else { 1.0 };
        for c in 0..3 {
            m[r][c] = sign * v.direction[r * 3 + c] * v.spacing[c];
        }
        m[r][3] = sign * v.origin[r];
    }
    m
}

/// Quaternion (b, c, d) and qfac of a rotation matrix, as nifti1_io's
/// `nifti_mat44_to_quatern` computes them.
fn quaternion(rot: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let mut r = rot;
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if qfac < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
    }
    let a = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (a, b, c, d) = if a > 0.5 {
        let a = 0.5 * a.sqrt();
        (a, 0.25 * (r[2][1] - r[1][2]) / a, 0.25 * (r[0][2] - r[2][0]) / a, 0.25 * (r[1][0] - r[0][1]) / a)
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            let b = 0.5 * xd.sqrt();
            (0.25 * (r[2][1] - r[1][2]) / b, b, 0.25 * (r[0][1] + r[1][0]) / b, 0.25 * (r[0][2] + r[2][0]) / b)
        } else if yd > 1.0 {
            let c = 0.5 * yd.sqrt();
            (0.25 * (r[0][2] - r[2][0]) / c, 0.25 * (r[0][1] + r[1][0]) / c, c, 0.25 * (r[1][2] + r[2][1]) / c)
        } else {
            let d = 0.5 * zd.sqrt();
            (0.25 * (r[1][0] - r[0][1]) / d, 0.25 * (r[0][2] + r[2][0]) / d, 0.25 * (r[1][2] + r[2][1]) / d, d)
        }
    };
    // nifti keeps a ≥ 0.
    let s = if a < 0.0 { -1.0 } else { 1.0 };
    ([s * b, s * c, s * d], qfac)
}

/// Encodes a volume as NIfTI-1 bytes (uncompressed), storing voxels as `stored`.
pub fn encode(v: &Volume, stored: StoredType, description: &str) -> Vec<u8> {
    let n = v.len();
    let mut buf = vec![0u8; VOX_OFFSET + n * stored.bytes()];
    put_i32(&mut buf, 0, HEADER_SIZE as i32);
    buf[38] = b'r';
    let dims = [3i16, v.size[0] as i16, v.size[1] as i16, v.size[2] as i16, 1, 1, 1, 1];
    for (i, d) in dims.iter().enumerate() {
        put_i16(&mut buf, 40 + 2 * i, *d);
    }
    put_i16(&mut buf, 70, stored.code());
    put_i16(&mut buf, 72, (stored.bytes() * 8) as i16);
    let affine = ras_affine(v);
    let rot = [0, 1, 2].map(|r| [0, 1, 2].map(|c| affine[r][c] / v.spacing[c]));
    let (q, qfac) = quaternion(rot);
    let pixdim = [qfac as f32, v.spacing[0] as f32, v.spacing[1] as f32, v.spacing[2] as f32, 0.0, 0.0, 0.0, 0.0];
    for (i, p) in pixdim.iter().enumerate() {
        put_f32(&mut buf, 76 + 4 * i, *p);
    }
    put_f32(&mut buf, 108, VOX_OFFSET as f32);
    put_f32(&mut buf, 112, 1.0); // scl_slope
    buf[123] = 2; // xyzt_units: millimetres
    let desc = description.as_bytes();
    let len = desc.len().min(79);
    buf[148..148 + len].copy_from_slice(&desc[..len]);
    put_i16(&mut buf, 252, 1); // qform_code: scanner anatomical
    put_i16(&mut buf, 254, 1); // sform_code: scanner anatomical
    for (i, value) in q.iter().chain(&[affine[0][3], affine[1][3], affine[2][3]]).enumerate() {
        put_f32(&mut buf, 256 + 4 * i, *value as f32);
    }
    for (r, row) in affine.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            put_f32(&mut buf, 280 + 16 * r + 4 * c, *value as f32);
        }
    }
    buf[344..348].copy_from_slice(b"n+1\0");
    let body = &mut buf[VOX_OFFSET..];
    match stored {
        StoredType::U8 => {
            for (dst, &x) in body.iter_mut().zip(&v.data) {
                *dst = x.round().clamp(0.0, 255.0) as u8;
            }
        }
        StoredType::I16 => {
            for (dst, &x) in body.chunks_exact_mut(2).zip(&v.data) {
                dst.copy_from_slice(&(x.round().clamp(-32768.0, 32767.0) as i16).to_le_bytes());
            }
        }
        StoredType::F32 => {
            for (dst, &x) in body.chunks_exact_mut(4).zip(&v.data) {
                dst.copy_from_slice(&x.to_le_bytes());
            }
        }
    }
    buf
}

/// Writes `path` (gzip-compressed when it ends in `.gz`, with no timestamp,
/// so the same volume always gives the same bytes). Returns the bytes written.
///
/// Deflate at level 1, or stored blocks when a megabyte from the middle of
/// the volume does not shrink below 95% at level 1: N4-corrected or
/// interpolated floating-point MR hardly compresses (a 13.1 MB T1 came out at
/// 13.5 MB at level 1 and 11.5 MB at level 6, which took three times as
/// long), while masks, doses and simulated images do.
pub fn write(path: &Path, v: &Volume, stored: StoredType, description: &str) -> Result<Vec<u8>> {
    let bytes = encode(v, stored, description);
    let out = if path.extension().is_some_and(|e| e == "gz") {
        let level = if compresses(&bytes) { Compression::fast() } else { Compression::none() };
        let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::with_capacity(bytes.len() / 2), level);
        gz.write_all(&bytes).map_err(|e| io_error(path, e))?;
        gz.finish().map_err(|e| io_error(path, e))?
    } else {
        bytes
    };
    crate::provenance::write_atomic(path, &out)?;
    Ok(out)
}

/// Whether deflate at level 1 shrinks a megabyte from the middle of `bytes`
/// (all of them when shorter) below 95%.
fn compresses(bytes: &[u8]) -> bool {
    const SAMPLE: usize = 1 << 20;
    let start = bytes.len().saturating_sub(SAMPLE) / 2;
    let sample = &bytes[start..(start + SAMPLE).min(bytes.len())];
    let mut z = flate2::write::DeflateEncoder::new(Vec::with_capacity(sample.len()), Compression::fast());
    match z.write_all(sample).and_then(|()| z.finish()) {
        Ok(c) => (c.len() as f64) < 0.95 * sample.len() as f64,
        Err(_) => true,
    }
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: format!("not a readable NIfTI-1 image: {}", message.into()) }
}

/// Reads a `.nii` or `.nii.gz` file (NIfTI-1 or NIfTI-2) into a volume
/// (values as f32 after the scaling slope and intercept).
pub fn read(path: &Path) -> Result<Volume> {
    read_typed(path).map(|(v, _)| v)
}

/// Reads an image and names its stored voxel type.
pub fn read_typed(path: &Path) -> Result<(Volume, &'static str)> {
    let raw = std::fs::read(path).map_err(|e| io_error(path, e))?;
    decode_file_bytes(path, raw)
}

/// [`read_typed`] on bytes already in memory, gzip or not (`path` names
/// them in errors).
pub fn decode_file_bytes(path: &Path, raw: Vec<u8>) -> Result<(Volume, &'static str)> {
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        // Never inflate more than the largest image we accept plus its header.
        GzDecoder::new(&raw[..])
            .take((max_voxels().saturating_mul(8) + 4096) as u64)
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("gzip: {e}")))?;
        out
    } else {
        raw
    };
    decode_typed(path, &bytes)
}

/// The header fields radose uses, from a NIfTI-1 or NIfTI-2 header.
struct Header {
    little: bool,
    ndim: i64,
    dims: [i64; 7],
    datatype: i16,
    vox_offset: usize,
    slope: f64,
    inter: f64,
    /// qfac, then the three spacings.
    pixdim: [f64; 4],
    qform_code: i64,
    sform_code: i64,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
}

fn header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 4 {
        return Err(bad(path, "the file is too short for a header"));
    }
    let first = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (version, little) = match (i32::from_le_bytes(first), i32::from_be_bytes(first)) {
        (348, _) => (1, true),
        (_, 348) => (1, false),
        (540, _) => (2, true),
        (_, 540) => (2, false),
        _ => return Err(bad(path, "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2)")),
    };
    let size = if version == 1 { HEADER_SIZE } else { 540 };
    if bytes.len() < size {
        return Err(bad(path, format!("{} bytes is shorter than the {size}-byte header", bytes.len())));
    }
    let take = |at: usize, n: usize| -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[at..at + n]);
        if !little {
            b[..n].reverse();
        }
        b
    };
    let i16_at = |at: usize| i16::from_le_bytes([take(at, 2)[0], take(at, 2)[1]]);
    let i32_at = |at: usize| {
        let b = take(at, 4);
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let f32_at = |at: usize| {
        let b = take(at, 4);
        f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let i64_at = |at: usize| i64::from_le_bytes(take(at, 8));
    let f64_at = |at: usize| f64::from_le_bytes(take(at, 8));
    Ok(if version == 1 {
        if &bytes[344..347] != b"n+1" {
            return Err(bad(path, "only single-file NIfTI-1 (magic n+1) is supported"));
        }
        Header {
            little,
            ndim: i64::from(i16_at(40)),
            dims: [0, 1, 2, 3, 4, 5, 6].map(|k| i64::from(i16_at(42 + 2 * k))),
            datatype: i16_at(70),
            vox_offset: f32_at(108).max(VOX_OFFSET as f64) as usize,
            slope: f32_at(112),
            inter: f32_at(116),
            pixdim: [f32_at(76), f32_at(80), f32_at(84), f32_at(88)],
            qform_code: i64::from(i16_at(252)),
            sform_code: i64::from(i16_at(254)),
            quatern: [f32_at(256), f32_at(260), f32_at(264)],
            qoffset: [f32_at(268), f32_at(272), f32_at(276)],
            srow: [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f32_at(280 + 16 * r + 4 * c))),
        }
    } else {
        if &bytes[4..7] != b"n+2" {
            return Err(bad(path, "only single-file NIfTI-2 (magic n+2) is supported"));
        }
        Header {
            little,
            ndim: i64_at(16),
            dims: [0, 1, 2, 3, 4, 5, 6].map(|k| i64_at(24 + 8 * k)),
            datatype: i16_at(12),
            vox_offset: usize::try_from(i64_at(168)).unwrap_or(0).max(544),
            slope: f64_at(176),
            inter: f64_at(184),
            pixdim: [f64_at(104), f64_at(112), f64_at(120), f64_at(128)],
            qform_code: i64::from(i32_at(344)),
            sform_code: i64::from(i32_at(348)),
            quatern: [f64_at(352), f64_at(360), f64_at(368)],
            qoffset: [f64_at(376), f64_at(384), f64_at(392)],
            srow: [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f64_at(400 + 32 * r + 8 * c))),
        }
    })
}

/// Decodes NIfTI-1 or NIfTI-2 bytes; `path` names the source in errors.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Volume> {
    decode_typed(path, bytes).map(|(v, _)| v)
}

fn decode_typed(path: &Path, bytes: &[u8]) -> Result<(Volume, &'static str)> {
    let h = header(path, bytes)?;
    if !(1..=7).contains(&h.ndim) {
        return Err(bad(path, format!("dim[0] = {} is out of range", h.ndim)));
    }
    let mut size = [1usize; 3];
    for (i, s) in size.iter_mut().enumerate().take((h.ndim as usize).min(3)) {
        let d = h.dims[i];
        if d < 1 {
            return Err(bad(path, format!("dim[{}] = {d}", i + 1)));
        }
        *s = usize::try_from(d).map_err(|_| bad(path, format!("dim[{}] = {d}", i + 1)))?;
    }
    if (3..h.ndim as usize).any(|i| h.dims[i] > 1) {
        return Err(bad(path, "images with more than three dimensions are not supported"));
    }
    let n = size.iter().try_fold(1usize, |a, s| a.checked_mul(*s)).filter(|n| *n <= max_voxels()).ok_or_else(|| {
        bad(
            path,
            format!(
                "{} × {} × {} voxels exceeds the limit of {} (RADOSE_MAX_VOXELS)",
                size[0],
                size[1],
                size[2],
                max_voxels()
            ),
        )
    })?;
    let (width, name) = match h.datatype {
        2 => (1, "uint8"),
        256 => (1, "int8"),
        4 => (2, "int16"),
        512 => (2, "uint16"),
        8 => (4, "int32"),
        768 => (4, "uint32"),
        16 => (4, "float32"),
        64 => (8, "float64"),
        other => return Err(bad(path, format!("datatype {other} is not supported"))),
    };
    let end = h.vox_offset + n * width;
    if bytes.len() < end {
        return Err(bad(path, format!("the header promises {n} voxels but the file ends after {} bytes", bytes.len())));
    }
    let mut data: Vec<f32> = Vec::with_capacity(n);
    for chunk in bytes[h.vox_offset..end].chunks_exact(width) {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(chunk);
        if !h.little {
            b[..width].reverse();
        }
        data.push(match h.datatype {
            2 => b[0] as f32,
            256 => b[0] as i8 as f32,
            4 => i16::from_le_bytes([b[0], b[1]]) as f32,
            512 => u16::from_le_bytes([b[0], b[1]]) as f32,
            8 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            768 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            16 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => f64::from_le_bytes(b) as f32,
        });
    }
    if h.slope != 0.0 && (h.slope != 1.0 || h.inter != 0.0) {
        for x in &mut data {
            *x = (f64::from(*x) * h.slope + h.inter) as f32;
        }
    }
    let pixdim = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
    let affine = if h.sform_code > 0 {
        h.srow
    } else if h.qform_code > 0 {
        qform_affine(h.quatern, h.qoffset, pixdim, h.pixdim[0])
    } else {
        [[pixdim[0], 0.0, 0.0, 0.0], [0.0, pixdim[1], 0.0, 0.0], [0.0, 0.0, pixdim[2], 0.0]]
    };
    let mut spacing = [0.0; 3];
    let mut direction = [0.0; 9];
    let mut origin = [0.0; 3];
    for c in 0..3 {
        let norm = (0..3).map(|r| affine[r][c].powi(2)).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(bad(path, format!("axis {} has zero or invalid spacing", c + 1)));
        }
        spacing[c] = norm;
        for r in 0..3 {
            let sign = if r < 2 { -1.0 } else { 1.0 };
            direction[r * 3 + c] = sign * affine[r][c] / norm;
        }
    }
    for r in 0..3 {
        origin[r] = if r < 2 { -affine[r][3] } else { affine[r][3] };
    }
    Ok((Volume { size, spacing, origin, direction, data }, name))
}

fn qform_affine(q: [f64; 3], offset: [f64; 3], pixdim: [f64; 3], qfac: f64) -> [[f64; 4]; 3] {
    let [b, c, d] = q;
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let r = [
        [a * a + b * b - c * c - d * d, 2.0 * (b * c - a * d), 2.0 * (b * d + a * c)],
        [2.0 * (b * c + a * d), a * a + c * c - b * b - d * d, 2.0 * (c * d - a * b)],
        [2.0 * (b * d - a * c), 2.0 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ];
    let qfac = if qfac < 0.0 { -1.0 } else { 1.0 };
    let scale = [pixdim[0], pixdim[1], pixdim[2] * qfac];
    [0, 1, 2].map(|i| [r[i][0] * scale[0], r[i][1] * scale[1], r[i][2] * scale[2], offset[i]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::volume::IDENTITY;

    #[test]
    fn round_trip_geometry_and_values() {
        let mut v = Volume::zeros([3, 4, 5], [0.9, 1.1, 2.5], [-10.0, 20.5, 3.0]);
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = i as f32 * 0.5;
        }
        let dir = tempfile::tempdir().unwrap();
        for (name, ty) in [("a.nii.gz", StoredType::F32), ("b.nii", StoredType::I16)] {
            let path = dir.path().join(name);
            write(&path, &v, ty, "test").unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back.size, v.size);
            for k in 0..3 {
                assert!((back.spacing[k] - v.spacing[k]).abs() < 1e-6);
                assert!((back.origin[k] - v.origin[k]).abs() < 1e-5);
            }
            for (a, b) in back.direction.iter().zip(IDENTITY) {
                assert!((a - b).abs() < 1e-6);
            }
            if ty == StoredType::F32 {
                assert_eq!(back.data, v.data);
            }
        }
    }

    #[test]
    fn qform_alone_gives_the_same_geometry() {
        let v = Volume::zeros([2, 2, 2], [1.5, 1.5, 3.0], [5.0, -7.0, 11.0]);
        let mut bytes = encode(&v, StoredType::U8, "");
        put_i16(&mut bytes, 254, 0); // drop the sform
        let back = decode(Path::new("q.nii"), &bytes).unwrap();
        for k in 0..3 {
            assert!((back.origin[k] - v.origin[k]).abs() < 1e-5, "{:?}", back.origin);
            assert!((back.spacing[k] - v.spacing[k]).abs() < 1e-6);
        }
        for (a, b) in back.direction.iter().zip(IDENTITY) {
            assert!((a - b).abs() < 1e-6, "{:?}", back.direction);
        }
    }

    #[test]
    fn truncated_and_absurd_headers_are_refused() {
        let v = Volume::zeros([2, 2, 2], [1.0; 3], [0.0; 3]);
        let bytes = encode(&v, StoredType::I16, "");
        assert!(decode(Path::new("t.nii"), &bytes[..bytes.len() - 1]).unwrap_err().to_string().contains("file ends"));
        let mut huge = bytes.clone();
        for i in 0..3 {
            put_i16(&mut huge, 42 + 2 * i, 30000);
        }
        assert!(decode(Path::new("h.nii"), &huge).unwrap_err().to_string().contains("exceeds the limit"));
    }
}
