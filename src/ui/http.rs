//! The little HTTP/1.1 the dashboard needs, on `std::net`: one GET (or
//! HEAD) per connection, a request line and headers read under fixed
//! limits, the query string decoded, and responses that always carry the
//! same restrictive security headers. Anything else is refused with the
//! status that says why.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The longest request line (method, target, version) accepted.
pub const MAX_REQUEST_LINE: usize = 4096;
/// The most header bytes accepted after the request line.
pub const MAX_HEADERS: usize = 16 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The policy every response carries: nothing from elsewhere, no inline
/// script, no framing, no forms posting anywhere but here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The query's pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `key`.
    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra headers (e.g. `Set-Cookie`).
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), headers: Vec::new() }
    }

    pub fn html(body: String) -> Response {
        Response::new(200, "text/html; charset=utf-8", body)
    }

    pub fn json(value: &serde_json::Value) -> Response {
        Response::new(200, "application/json", value.to_string())
    }

    /// A plain-text error with `status`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", format!("{} {}\n{message}\n", status, reason(status)))
    }
}

/// Why a request could not be read: the status to answer and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refused {
    Refused { status, message: message.into() }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Reads one line ending in `\n` of at most `limit` bytes.
fn read_line(reader: &mut impl BufRead, limit: usize, too_long: u16, what: &str) -> Result<String, Refused> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|e| refuse(400, format!("could not read the {what}: {e}")))?;
    if n == 0 {
        return Err(refuse(400, format!("the connection closed before the {what}")));
    }
    if !buf.ends_with(b"\n") {
        return Err(if buf.len() > limit {
            refuse(too_long, format!("the {what} is longer than {limit} bytes"))
        } else {
            refuse(400, format!("the {what} ended without a line break"))
        });
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| refuse(400, format!("the {what} is not UTF-8")))
}

/// Reads and parses one request from `stream`.
pub fn read_request(stream: &TcpStream) -> Result<Request, Refused> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(stream);
    let line = read_line(&mut reader, MAX_REQUEST_LINE, 414, "request line")?;
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        let h = read_line(&mut reader, MAX_HEADERS, 431, "header")?;
        if h.is_empty() {
            break;
        }
        header_bytes += h.len() + 2;
        if header_bytes > MAX_HEADERS {
            return Err(refuse(431, format!("the headers are longer than {MAX_HEADERS} bytes")));
        }
        let Some((k, v)) = h.split_once(':') else {
            return Err(refuse(400, format!("a header without `:`: {}", h.chars().take(60).collect::<String>())));
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let req = parse_request_line(&line, headers)?;
    let has_body =
        req.header("content-length").is_some_and(|v| v.trim() != "0") || req.header("transfer-encoding").is_some();
    if has_body {
        return Err(refuse(413, "the dashboard takes no request bodies"));
    }
    Ok(req)
}

/// `GET /path?query HTTP/1.1` → a request (the method checked by the caller).
pub fn parse_request_line(line: &str, headers: Vec<(String, String)>) -> Result<Request, Refused> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(400, "the request line is not `METHOD TARGET HTTP/1.x`"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(refuse(400, format!("unsupported protocol `{version}`")));
    }
    if !method.chars().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
        return Err(refuse(400, "the method is not a word in capitals"));
    }
    if !target.starts_with('/') {
        return Err(refuse(400, "the target must be a path starting with `/`"));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(raw_path, false).ok_or_else(|| refuse(400, "the path has a bad %-escape"))?;
    if path.contains('\0') || path.split('/').any(|seg| seg == "..") {
        return Err(refuse(400, "the path may not contain `..` or NUL"));
    }
    let query = parse_query(raw_query).ok_or_else(|| refuse(400, "the query string has a bad %-escape"))?;
    Ok(Request { method: method.to_string(), path, query, headers })
}

/// `a=1&b=x+y` → pairs, `+` as space, %-escapes decoded (UTF-8).
pub fn parse_query(q: &str) -> Option<Vec<(String, String)>> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// Decodes %XX escapes (and `+` as a space when `plus`); `None` for a bad
/// escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str, plus: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes text for a query value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes `resp` (headers only for HEAD) and closes the exchange.
pub fn write_response(mut stream: &TcpStream, resp: &Response, head_only: bool) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\nX-Content-Type-Options: nosniff\r\n\
         X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(&resp.body)?;
    }
    stream.flush()
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_and_queries() {
        let r = parse_request_line("GET /runs?where=kind+%3D+cv&sort=auc HTTP/1.1", Vec::new()).unwrap();
        assert_eq!(r.path, "/runs");
        assert_eq!(r.param("where"), Some("kind = cv"));
        assert_eq!(r.param("sort"), Some("auc"));
        for bad in
            ["GET /a/../b HTTP/1.1", "GET /%2e%2e/x HTTP/1.1", "GET x HTTP/1.1", "GET / FTP/1", "GET /%zz HTTP/1.1"]
        {
            assert_eq!(parse_request_line(bad, Vec::new()).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(percent_decode(&percent_encode("kind = cv & x ≠ 'é'"), true).unwrap(), "kind = cv & x ≠ 'é'");
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
