//! Who and what produced a run: program version, git commit, host, process
//! identity, wall-clock timestamps and content hashes of input files.
//!
//! This is the one place that reads the clock and the process environment
//! for provenance; `core` never does.

use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The program version recorded with every run.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Facts about this process, gathered once per session.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub version: String,
    pub git_commit: Option<String>,
    pub host: String,
    pub pid: u32,
    /// Identifies this process instance beyond its pid (boot id + start time),
    /// so a reused pid is not mistaken for the process that started a run.
    pub process_token: Option<String>,
}

impl Provenance {
    pub fn gather() -> Self {
        let pid = std::process::id();
        Provenance {
            version: VERSION.to_string(),
            git_commit: git_commit(),
            host: hostname(),
            pid,
            process_token: process_token(pid),
        }
    }
}

/// The commit of the git checkout radose runs in, with `-dirty` when the
/// tree has uncommitted changes; `None` outside a checkout or without git.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    if dirty {
        commit.push_str("-dirty");
    }
    Some(commit)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `boot_id:starttime` of a process on Linux; `None` where /proc is absent or
/// the process does not exist.
pub fn process_token(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields resume after ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let start_time = after.split_whitespace().nth(19)?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}:{}", boot.trim(), start_time))
}

/// Whether we can check process liveness at all on this platform.
pub fn can_check_processes() -> bool {
    Path::new("/proc/self/stat").exists()
}

/// Current UTC time as ISO-8601 with milliseconds, e.g. `2026-11-26T19:40:02.123Z`.
pub fn now_iso() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    iso_from_unix_millis(d.as_millis() as i64)
}

/// Formats milliseconds since the Unix epoch as ISO-8601 UTC.
pub fn iso_from_unix_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// SHA-256 of a file's content, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it,
/// flushed to disk, then renamed over `path`. A reader (or a run killed
/// half-way) sees the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path, e));
    }
    Ok(())
}

/// Writes `path` through a writer that needs a path of its own (an image
/// encoder, a model recorder): `write` gets a temporary name in the same
/// folder with the same extension, which is renamed into place when it
/// succeeds — the one way, with [`write_atomic`], radose writes a file.
pub fn write_atomic_via(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => path.with_file_name(format!(".{stem}.tmp-{}.{ext}", std::process::id())),
        None => path.with_file_name(format!(".{stem}.tmp-{}", std::process::id())),
    };
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, e)
    })
}

/// The user's pseudonymisation key, from `RADOSE_PSEUDONYM_KEY` (8+
/// characters): from the environment, so it never enters runs.db or the history.
pub fn pseudonym_key() -> crate::error::Result<String> {
    match std::env::var("RADOSE_PSEUDONYM_KEY") {
        Ok(k) if k.len() >= 8 => Ok(k),
        _ => Err(crate::error::Error::invalid(
            "--pseudonymise needs a key of at least 8 characters in RADOSE_PSEUDONYM_KEY",
            Some("export RADOSE_PSEUDONYM_KEY=… in the shell that starts radose; keep it to map pseudonyms back"),
        )),
    }
}

/// A patient id's pseudonym under `key`: the first 16 hex digits of its HMAC-SHA-256.
pub fn pseudonym(key: &str, id: &str) -> String {
    hmac_sha256_hex(key.as_bytes(), id.as_bytes())[..16].to_string()
}

/// HMAC-SHA-256 (RFC 2104) of `msg` under `key`, as lowercase hex: the
/// keyed hash `--pseudonymise` uses, so ids cannot be recomputed without
/// the user's key.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    hex(&outer.finalize())
}

/// The first 12 hex digits of a hash, as outputs show it.
pub fn short_hash(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Maps an I/O error on `path` to a diagnostic, singling out a missing file.
pub fn io_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::FileNotFound { path: path.to_path_buf() }
    } else {
        Error::Io { path: path.to_path_buf(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_from_unix_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_unix_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_from_unix_millis(1_795_700_000_123), "2026-11-26T13:33:20.123Z");
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(sha256_bytes(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn own_process_token_exists_on_linux() {
        if can_check_processes() {
            assert!(process_token(std::process::id()).is_some());
        }
    }
}
