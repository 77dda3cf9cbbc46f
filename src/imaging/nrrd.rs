//! NRRD images (`.nrrd` attached, `.nhdr` + detached data): a reader for the
//! raw, gzip and ASCII encodings in either byte order, and a gzip writer.
//! Written here because no maintained crate reads NRRD with its geometry
//! (`space directions`, `space origin`) — the part radiomics depends on.
//!
//! Geometry is returned in LPS like ITK: a `right-anterior-superior` (RAS)
//! file has its first two axes negated.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;

use crate::core::volume::Volume;
use crate::error::{Error, Result};
use crate::imaging::nifti::{StoredType, max_voxels};
use crate::provenance::io_error;

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), message: format!("not a readable NRRD image: {}", message.into()) }
}

/// Voxel types NRRD names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "signed char" | "int8" | "int8_t" => Kind::I8,
            "uchar" | "unsigned char" | "uint8" | "uint8_t" => Kind::U8,
            "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => Kind::I16,
            "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => Kind::U16,
            "int" | "signed int" | "int32" | "int32_t" => Kind::I32,
            "uint" | "unsigned int" | "uint32" | "uint32_t" => Kind::U32,
            "float" => Kind::F32,
            "double" => Kind::F64,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::I8 => "int8",
            Kind::U8 => "uint8",
            Kind::I16 => "int16",
            Kind::U16 => "uint16",
            Kind::I32 => "int32",
            Kind::U32 => "uint32",
            Kind::F32 => "float32",
            Kind::F64 => "float64",
        }
    }

    fn width(self) -> usize {
        match self {
            Kind::I8 | Kind::U8 => 1,
            Kind::I16 | Kind::U16 => 2,
            Kind::I32 | Kind::U32 | Kind::F32 => 4,
            Kind::F64 => 8,
        }
    }

    fn decode(self, b: &[u8], little: bool) -> f32 {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        if !little {
            a[..b.len()].reverse();
        }
        match self {
            Kind::I8 => a[0] as i8 as f32,
            Kind::U8 => a[0] as f32,
            Kind::I16 => i16::from_le_bytes([a[0], a[1]]) as f32,
            Kind::U16 => u16::from_le_bytes([a[0], a[1]]) as f32,
            Kind::I32 => i32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f32,
            Kind::U32 => u32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f32,
            Kind::F32 => f32::from_le_bytes([a[0], a[1], a[2], a[3]]),
            Kind::F64 => f64::from_le_bytes(a) as f32,
        }
    }
}

/// Decodes every voxel; the common little-endian types take a direct path.
fn decode_all(kind: Kind, body: &[u8], little: bool) -> Vec<f32> {
    match (kind, little) {
        (Kind::I16, true) => body.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]]))).collect(),
        (Kind::U8, _) => body.iter().map(|&b| f32::from(b)).collect(),
        (Kind::I32, true) => {
            body.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32).collect()
        }
        (Kind::U32, true) => {
            body.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32).collect()
        }
        (Kind::F32, true) => body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        _ => body.chunks_exact(kind.width()).map(|c| kind.decode(c, little)).collect(),
    }
}

/// Parses "(a,b,c)" into three numbers.
fn vector(path: &Path, s: &str) -> Result<[f64; 3]> {
    let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
    let parts: Vec<f64> = inner
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(path, format!("cannot read the vector `{s}`")))?;
    match parts.as_slice() {
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(bad(path, format!("`{s}` is not a 3-vector"))),
    }
}

/// Splits "(…) (…) (…)" into its vectors.
fn vectors(path: &Path, s: &str) -> Result<Vec<[f64; 3]>> {
    s.split(')').map(str::trim).filter(|p| !p.is_empty()).map(|p| vector(path, &format!("{p})"))).collect()
}

/// Reads a `.nrrd` or `.nhdr` image.
pub fn read(path: &Path) -> Result<Volume> {
    read_typed(path).map(|(v, _)| v)
}

/// Reads an image and names its stored voxel type.
pub fn read_typed(path: &Path) -> Result<(Volume, &'static str)> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    decode_typed(path, bytes)
}

/// Reads only the slices `z.0..z.1` (along the third axis) of an image: the
/// volume has its full size and geometry, and every voxel outside those
/// slices is 0. For callers that look inside a known bounding box only
/// (radiomics without resampling): a gzip body is inflated up to the last
/// slice wanted and only those slices are converted, so the rest costs
/// neither inflating nor memory. ASCII data is read whole.
pub fn read_typed_slices(path: &Path, z: (usize, usize)) -> Result<(Volume, &'static str)> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    decode(path, bytes, Some(z))
}

/// [`read_typed`] on bytes already in memory (`path` names them in errors;
/// a detached data file is looked for beside it).
pub fn decode_typed(path: &Path, bytes: Vec<u8>) -> Result<(Volume, &'static str)> {
    decode(path, bytes, None)
}

fn decode(path: &Path, bytes: Vec<u8>, slices: Option<(usize, usize)>) -> Result<(Volume, &'static str)> {
    if !bytes.starts_with(b"NRRD000") {
        return Err(bad(path, "the file does not start with the NRRD magic (NRRD000x)"));
    }
    // The header ends at the first empty line.
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let header_end = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(bytes.len()),
    };
    let header = std::str::from_utf8(&bytes[..header_end]).map_err(|_| bad(path, "the header is not text"))?;
    let mut fields = std::collections::HashMap::new();
    for line in header.lines().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.contains(":=") {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let get = |k: &str| fields.get(k).map(String::as_str);
    let kind = get("type")
        .and_then(Kind::parse)
        .ok_or_else(|| bad(path, format!("unsupported or missing type `{}`", get("type").unwrap_or(""))))?;
    let dimension: usize =
        get("dimension").and_then(|d| d.parse().ok()).ok_or_else(|| bad(path, "missing dimension"))?;
    if dimension != 3 {
        return Err(bad(path, format!("only 3-D images are supported (dimension {dimension})")));
    }
    let sizes: Vec<usize> = get("sizes")
        .ok_or_else(|| bad(path, "missing sizes"))?
        .split_whitespace()
        .map(|s| s.parse().map_err(|_| bad(path, format!("bad size `{s}`"))))
        .collect::<Result<_>>()?;
    let size: [usize; 3] = sizes.as_slice().try_into().map_err(|_| bad(path, "sizes must have three values"))?;
    if size.contains(&0) {
        return Err(bad(path, "a size is zero"));
    }
    let n = size.iter().try_fold(1usize, |a, s| a.checked_mul(*s)).filter(|n| *n <= max_voxels()).ok_or_else(|| {
        bad(path, format!("{size:?} voxels exceed the limit of {} (RADOSE_MAX_VOXELS)", max_voxels()))
    })?;
    let little = !matches!(get("endian"), Some("big"));
    let encoding = get("encoding").unwrap_or("raw");

    // Geometry: space directions (columns per axis) or spacings.
    let ras = matches!(get("space"), Some("right-anterior-superior") | Some("RAS"));
    let mut axes: Vec<[f64; 3]> = match get("space directions") {
        Some(d) => vectors(path, d)?,
        None => {
            let sp: Vec<f64> = get("spacings")
                .map(|s| s.split_whitespace().filter_map(|v| v.parse().ok()).collect())
                .unwrap_or_else(|| vec![1.0; 3]);
            (0..3)
                .map(|k| {
                    let mut a = [0.0; 3];
                    a[k] = sp.get(k).copied().unwrap_or(1.0);
                    a
                })
                .collect()
        }
    };
    if axes.len() != 3 {
        return Err(bad(path, "space directions must give three vectors"));
    }
    let mut origin = match get("space origin") {
        Some(o) => vector(path, o)?,
        None => [0.0; 3],
    };
    if ras {
        for a in &mut axes {
            a[0] = -a[0];
            a[1] = -a[1];
        }
        origin[0] = -origin[0];
        origin[1] = -origin[1];
    }
    let mut spacing = [0.0; 3];
    let mut direction = [0.0; 9];
    for (c, a) in axes.iter().enumerate() {
        let norm = a.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(bad(path, format!("axis {} has zero or invalid spacing", c + 1)));
        }
        spacing[c] = norm;
        for r in 0..3 {
            direction[r * 3 + c] = a[r] / norm;
        }
    }

    // Data: attached after the header, or in a detached file.
    let detached: Vec<u8>;
    let raw: &[u8] = match get("data file").or_else(|| get("datafile")) {
        Some(file) => {
            let data_path: PathBuf = path.parent().unwrap_or(Path::new(".")).join(file);
            detached = std::fs::read(&data_path).map_err(|e| io_error(&data_path, e))?;
            &detached
        }
        None => &bytes[header_end..],
    };
    let expected = n * kind.width();
    // Only some slices: a zero volume with those slices decoded. Data of
    // another length than the header promises (a byte skip, a truncated
    // file) goes through the full decoding below, which says what is wrong.
    let plain = get("byte skip").is_none_or(|b| b.trim() == "0");
    if let Some((z0, z1)) = slices.filter(|_| plain && matches!(encoding, "raw" | "gzip" | "gz")) {
        let (z0, z1) = (z0.min(size[2]), z1.clamp(z0.min(size[2]), size[2]));
        let plane = size[0] * size[1];
        let slab = plane * kind.width();
        let part: Option<Vec<u8>> = if encoding == "raw" {
            (raw.len() == expected).then(|| raw[z0 * slab..z1 * slab].to_vec())
        } else {
            // Inflate up to the slices, keep them, inflate the rest without
            // keeping it (its length and the gzip checksum are still checked).
            let mut gz = GzDecoder::new(raw);
            let gzip = |e: std::io::Error| bad(path, format!("gzip: {e}"));
            let before = std::io::copy(&mut (&mut gz).take((z0 * slab) as u64), &mut std::io::sink()).map_err(gzip)?;
            let mut part = Vec::with_capacity((z1 - z0) * slab);
            let kept = (&mut gz).take(((z1 - z0) * slab) as u64).read_to_end(&mut part).map_err(gzip)?;
            let after = std::io::copy(&mut gz, &mut std::io::sink()).map_err(gzip)?;
            (before as usize + kept + after as usize == expected).then_some(part)
        };
        let Some(part) = part else { return decode(path, bytes, None) };
        let mut data = vec![0f32; n];
        data[z0 * plane..z1 * plane].copy_from_slice(&decode_all(kind, &part, little));
        return Ok((Volume { size, spacing, origin, direction, data }, kind.name()));
    }
    let inflated: Vec<u8>;
    let body: &[u8] = match encoding {
        "raw" => raw,
        "gzip" | "gz" => {
            let mut out = Vec::with_capacity(expected);
            GzDecoder::new(raw)
                .take(expected as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(path, format!("gzip: {e}")))?;
            inflated = out;
            &inflated
        }
        "ascii" | "text" | "txt" => {
            let text = String::from_utf8_lossy(raw);
            let values: Vec<f32> = text
                .split_whitespace()
                .map(|t| t.parse::<f32>().map_err(|_| bad(path, format!("bad ASCII value `{t}`"))))
                .collect::<Result<_>>()?;
            if values.len() != n {
                return Err(bad(path, format!("{} ASCII values for {n} voxels", values.len())));
            }
            return Ok((Volume { size, spacing, origin, direction, data: values }, kind.name()));
        }
        other => return Err(bad(path, format!("encoding `{other}` is not supported (use raw, gzip or ascii)"))),
    };
    if body.len() < expected {
        return Err(bad(
            path,
            format!("the header promises {n} voxels ({expected} bytes) but the data has {} bytes", body.len()),
        ));
    }
    // Raw data may carry a prefix (byte skip); the voxels are its last bytes.
    let body = &body[body.len() - expected..];
    let data = decode_all(kind, body, little);
    Ok((Volume { size, spacing, origin, direction, data }, kind.name()))
}

/// Writes a gzip-encoded NRRD of float voxels (LPS space).
pub fn write(path: &Path, v: &Volume) -> Result<()> {
    write_typed(path, v, StoredType::F32)
}

/// Writes a gzip-encoded NRRD (LPS space) storing the voxels as `stored`;
/// integer types round to the nearest value and clamp to the type's range.
pub fn write_typed(path: &Path, v: &Volume, stored: StoredType) -> Result<()> {
    let dir = |c: usize| {
        format!(
            "({},{},{})",
            v.direction[c] * v.spacing[c],
            v.direction[3 + c] * v.spacing[c],
            v.direction[6 + c] * v.spacing[c]
        )
    };
    let type_name = match stored {
        StoredType::U8 => "uchar",
        StoredType::I16 => "short",
        StoredType::F32 => "float",
    };
    let header = format!(
        "NRRD0004\n# written by radose\ntype: {type_name}\ndimension: 3\nspace: left-posterior-superior\nsizes: {} {} {}\nspace directions: {} {} {}\nkinds: domain domain domain\nendian: little\nencoding: gzip\nspace origin: ({},{},{})\n\n",
        v.size[0],
        v.size[1],
        v.size[2],
        dir(0),
        dir(1),
        dir(2),
        v.origin[0],
        v.origin[1],
        v.origin[2]
    );
    let mut raw = Vec::with_capacity(v.len() * 4);
    for &x in &v.data {
        match stored {
            StoredType::U8 => raw.push(x.round().clamp(0.0, 255.0) as u8),
            StoredType::I16 => raw.extend((x.round().clamp(-32768.0, 32767.0) as i16).to_le_bytes()),
            StoredType::F32 => raw.extend(x.to_le_bytes()),
        }
    }
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), Compression::new(6));
    gz.write_all(&raw).map_err(|e| io_error(path, e))?;
    let body = gz.finish().map_err(|e| io_error(path, e))?;
    let mut out = header.into_bytes();
    out.extend(body);
    crate::provenance::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading some slices gives the whole read's voxels there and zeros
    /// elsewhere, for gzip and raw data; data shorter than the header says
    /// is refused as by the whole read.
    #[test]
    fn some_slices_equal_the_whole_read_there() {
        let mut v = Volume::zeros([5, 4, 6], [0.5, 1.5, 2.0], [1.0, 2.0, 3.0]);
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = i as f32 * 0.5 - 3.0;
        }
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("v.nrrd");
        write(&gz, &v).unwrap();
        let raw = dir.path().join("r.nrrd");
        let mut bytes =
            b"NRRD0004\ntype: float\ndimension: 3\nsizes: 5 4 6\nencoding: raw\nendian: little\n\n".to_vec();
        bytes.extend(v.data.iter().flat_map(|x| x.to_le_bytes()));
        std::fs::write(&raw, &bytes).unwrap();
        for p in [&gz, &raw] {
            let (full, kind) = read_typed(p).unwrap();
            for (z0, z1) in [(2, 4), (0, 1), (5, 6), (0, 6)] {
                let (part, part_kind) = read_typed_slices(p, (z0, z1)).unwrap();
                assert_eq!(
                    (part.size, part.spacing, part.origin, part_kind),
                    (full.size, full.spacing, full.origin, kind)
                );
                for (i, (a, b)) in part.data.iter().zip(&full.data).enumerate() {
                    let z = i / 20;
                    let want = if (z0..z1).contains(&z) { *b } else { 0.0 };
                    assert_eq!(a.to_bits(), want.to_bits(), "{} voxel {i}, slices {z0}..{z1}", p.display());
                }
            }
            let cut = std::fs::read(p).unwrap();
            let short = dir.path().join("short.nrrd");
            std::fs::write(&short, &cut[..cut.len() - 12]).unwrap();
            let whole = read_typed(&short).unwrap_err().to_string();
            let some = read_typed_slices(&short, (0, 1)).unwrap_err().to_string();
            assert!(whole.contains("short.nrrd") && some.contains("short.nrrd"), "{whole} / {some}");
        }
    }

    #[test]
    fn round_trip_with_direction() {
        let mut v = Volume::zeros([3, 2, 4], [0.5, 1.5, 2.0], [10.0, -20.0, 5.5]);
        v.direction = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0];
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = i as f32 - 3.25;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.nrrd");
        write(&p, &v).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back.size, v.size);
        assert_eq!(back.data, v.data);
        for k in 0..3 {
            assert!((back.spacing[k] - v.spacing[k]).abs() < 1e-12);
            assert!((back.origin[k] - v.origin[k]).abs() < 1e-12);
        }
        assert_eq!(back.direction, v.direction);
    }

    #[test]
    fn detached_ascii_and_big_endian() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("v.raw");
        std::fs::write(&data, [0u8, 1, 0, 2, 1, 0, 255, 255]).unwrap();
        let hdr = dir.path().join("v.nhdr");
        std::fs::write(&hdr, "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 1\nspacings: 1 2 3\nendian: big\nencoding: raw\ndata file: v.raw\n\n").unwrap();
        let v = read(&hdr).unwrap();
        assert_eq!(v.data, vec![1.0, 2.0, 256.0, -1.0]);
        assert_eq!(v.spacing, [1.0, 2.0, 3.0]);
        let asc = dir.path().join("a.nrrd");
        std::fs::write(&asc, "NRRD0004\ntype: float\ndimension: 3\nsizes: 1 1 2\nencoding: ascii\n\n1.5 -2\n").unwrap();
        assert_eq!(read(&asc).unwrap().data, vec![1.5, -2.0]);
    }

    #[test]
    fn wrong_magic_and_truncation_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.nrrd");
        std::fs::write(&p, "hello").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("NRRD magic"));
        std::fs::write(&p, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 4 4\nencoding: raw\n\n\x01\x02").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("promises 64 voxels"));
    }
}
