//! A minimal HTTP/1.1 server side: read one request (request line, headers, a Content-Length
//! body) from a socket with limits, and write simple responses. Used by `serve`'s Streamable
//! HTTP endpoint and by the test server; nothing here panics on what a client sends.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The largest request head (request line and headers) we accept.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The largest request body we accept.
pub(crate) const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The most headers one request may carry.
const MAX_HEADERS: usize = 100;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as sent (`/messages/?session_id=…`).
    pub target: String,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub http11: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the client wants the connection kept open after this request.
    pub fn keep_alive(&self) -> bool {
        let tokens = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let has = |t: &str| tokens.split(',').any(|x| x.trim() == t);
        if self.http11 { !has("close") } else { has("keep-alive") }
    }

    /// The path part of the target (before `?`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The value of a query parameter (no percent-decoding: our values are plain tokens).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: only the test server reads queries
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Why a request could not be read. Each maps to the status we answer before closing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HttpError {
    /// Malformed request line or headers, or a head over [`MAX_HEAD_BYTES`]: 400.
    BadRequest(String),
    /// A body over [`MAX_BODY_BYTES`]: 413.
    TooLarge(usize),
    /// A POST without Content-Length: 411.
    LengthRequired,
    /// A request body in a transfer coding we do not implement: 501.
    NotImplemented(String),
}

impl HttpError {
    /// The status and a short body to answer with.
    pub fn response(&self) -> (u16, String) {
        match self {
            HttpError::BadRequest(why) => (400, format!("Bad Request: {why}")),
            HttpError::TooLarge(n) => (413, format!("Payload Too Large: limit {n} bytes")),
            HttpError::LengthRequired => (411, "Length Required".into()),
            HttpError::NotImplemented(what) => (501, format!("Not Implemented: {what}")),
        }
    }
}

/// How reading a request ended, when it did not produce one.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// A request.
    Request(Request),
    /// The peer closed the connection (cleanly, between requests), the server is stopping, or
    /// the connection stayed idle too long.
    Closed,
    /// The request is bad: answer with the error's status, then close.
    Bad(HttpError),
}

/// The head of a request, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub method: String,
    pub target: String,
    pub http11: bool,
    pub headers: Vec<(String, String)>,
}

/// Finds the end of the head: the index just past the blank line (CRLF CRLF, or LF LF from a
/// lenient client).
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            let rest = &buf[i + 1..];
            if rest.starts_with(b"\r\n") {
                return Some(i + 3);
            }
            if rest.starts_with(b"\n") {
                return Some(i + 2);
            }
        }
        i += 1;
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request head (without its final blank line being required).
pub(crate) fn parse_head(bytes: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::BadRequest("head is not UTF-8".into()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(HttpError::BadRequest(format!("bad request line {request_line:?}"))),
    };
    if !is_token(method) {
        return Err(HttpError::BadRequest(format!("bad method {method:?}")));
    }
    if target.is_empty() || !target.starts_with('/') || target.bytes().any(|b| b.is_ascii_control()) {
        return Err(HttpError::BadRequest(format!("bad request target {target:?}")));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(HttpError::BadRequest(format!("unsupported version {version:?}"))),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::BadRequest(format!("bad header line {line:?}")));
        };
        if !is_token(name) {
            return Err(HttpError::BadRequest(format!("bad header name {name:?}")));
        }
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::BadRequest(format!("more than {MAX_HEADERS} headers")));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Head { method: method.to_string(), target: target.to_string(), http11, headers })
}

/// The body length a head announces: `Ok(None)` when it has none.
pub(crate) fn body_length(head: &Head) -> Result<Option<usize>, HttpError> {
    if let Some(te) = header(&head.headers, "transfer-encoding") {
        return Err(HttpError::NotImplemented(format!("request transfer-encoding {te:?}")));
    }
    let mut length: Option<usize> = None;
    for (_, v) in head.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::BadRequest(format!("bad content-length {v:?}")));
        }
        // Digits only: parsing fails only on overflow, which is over any limit anyway.
        let n = v.parse::<usize>().unwrap_or(usize::MAX);
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::BadRequest("conflicting content-length headers".into()));
        }
        length = Some(n);
    }
    match length {
        Some(n) if n > MAX_BODY_BYTES => Err(HttpError::TooLarge(MAX_BODY_BYTES)),
        None if head.method == "POST" || head.method == "PUT" => Err(HttpError::LengthRequired),
        other => Ok(other),
    }
}

/// Reads requests from one connection. `buf` keeps bytes read past the previous request
/// (pipelining). The socket must have a read timeout: each timeout checks `stop` and the idle
/// limit, so a read never outlives a server shutdown.
pub(crate) struct RequestReader<'a> {
    pub stop: &'a AtomicBool,
    pub idle_limit: Duration,
    pub buf: Vec<u8>,
}

enum Fill {
    Data,
    Eof,
    Stopped,
}

impl RequestReader<'_> {
    fn fill<S: Read>(&mut self, stream: &mut S, since: Instant) -> io::Result<Fill> {
        let mut chunk = [0u8; 8192];
        loop {
            if self.stop.load(Ordering::SeqCst) || since.elapsed() > self.idle_limit {
                return Ok(Fill::Stopped);
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(Fill::Data);
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next request. I/O errors (a reset) end the connection like a close.
    pub fn next<S: Read + Write>(&mut self, stream: &mut S) -> ReadOutcome {
        let since = Instant::now();
        let end = loop {
            // Tolerate blank lines before a request (RFC 9112 §2.2).
            let blank = self.buf.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
            self.buf.drain(..blank);
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return ReadOutcome::Bad(HttpError::BadRequest(format!("request head over {MAX_HEAD_BYTES} bytes")));
            }
            match self.fill(stream, since) {
                Ok(Fill::Data) => {}
                Ok(Fill::Eof) if self.buf.is_empty() => return ReadOutcome::Closed,
                Ok(Fill::Eof) => return ReadOutcome::Bad(HttpError::BadRequest("truncated request head".into())),
                Ok(Fill::Stopped) | Err(_) => return ReadOutcome::Closed,
            }
        };
        if end > MAX_HEAD_BYTES {
            return ReadOutcome::Bad(HttpError::BadRequest(format!("request head over {MAX_HEAD_BYTES} bytes")));
        }
        let head = match parse_head(&self.buf[..end]) {
            Ok(h) => h,
            Err(e) => return ReadOutcome::Bad(e),
        };
        let length = match body_length(&head) {
            Ok(l) => l.unwrap_or(0),
            Err(e) => return ReadOutcome::Bad(e),
        };
        self.buf.drain(..end);
        if length > self.buf.len()
            && header(&head.headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
            && stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return ReadOutcome::Closed;
        }
        while self.buf.len() < length {
            match self.fill(stream, Instant::now()) {
                Ok(Fill::Data) => {}
                Ok(Fill::Eof) => return ReadOutcome::Bad(HttpError::BadRequest("truncated request body".into())),
                Ok(Fill::Stopped) | Err(_) => return ReadOutcome::Closed,
            }
        }
        let body: Vec<u8> = self.buf.drain(..length).collect();
        ReadOutcome::Request(Request {
            method: head.method,
            target: head.target,
            http11: head.http11,
            headers: head.headers,
            body,
        })
    }
}

/// The reason phrase of the statuses we send.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A complete response with a text body, as bytes.
pub(crate) fn response(status: u16, extra_headers: &[(&str, &str)], body: &str, keep_alive: bool) -> Vec<u8> {
    typed_response(status, "text/plain; charset=utf-8", extra_headers, body, keep_alive)
}

/// A complete response with a body of the given content type, as bytes.
pub(crate) fn typed_response(
    status: u16,
    content_type: &str,
    extra_headers: &[(&str, &str)],
    body: &str,
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra_headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(if keep_alive { "connection: keep-alive\r\n\r\n" } else { "connection: close\r\n\r\n" });
    out.push_str(body);
    out.into_bytes()
}

/// The head of the event-stream response. With `chunked`, the body is chunk-encoded (HTTP/1.1);
/// without, it is delimited by closing the connection (HTTP/1.0).
pub(crate) fn sse_head(chunked: bool) -> Vec<u8> {
    let mut out = String::from(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nx-accel-buffering: no\r\n",
    );
    out.push_str(if chunked {
        "transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
    } else {
        "connection: close\r\n\r\n"
    });
    out.into_bytes()
}

/// One chunk of a chunked body (an empty payload would end the body, so callers never pass one).
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: only the test server streams events or reads queries
pub(crate) fn chunk(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// The last chunk: ends a chunked body.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: only the test server streams events or reads queries
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A Read + Write over fixed input, delivered one byte per read (the worst split), that
    /// records what is written.
    struct Fake {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read_all(input: &[u8]) -> (Vec<ReadOutcome>, Vec<u8>) {
        let stop = AtomicBool::new(false);
        let mut reader = RequestReader { stop: &stop, idle_limit: Duration::from_secs(5), buf: Vec::new() };
        let mut fake = Fake { input: Cursor::new(input.to_vec()), output: Vec::new() };
        let mut out = Vec::new();
        loop {
            let r = reader.next(&mut fake);
            let last = !matches!(r, ReadOutcome::Request(_));
            out.push(r);
            if last {
                return (out, fake.output);
            }
        }
    }

    #[test]
    fn reads_pipelined_requests_with_bodies() {
        let (out, _) = read_all(
            b"\r\n\r\nPOST /messages/?session_id=ab&x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /sse HTTP/1.0\nAccept: text/event-stream\n\n",
        );
        assert_eq!(out.len(), 3);
        let ReadOutcome::Request(post) = &out[0] else { panic!("{out:?}") };
        assert_eq!(post.method, "POST");
        assert_eq!(post.path(), "/messages/");
        assert_eq!(post.query("session_id"), Some("ab"));
        assert_eq!(post.query("x"), Some("1"));
        assert_eq!(post.query("y"), None);
        assert_eq!(post.body, b"hello");
        assert!(post.keep_alive());
        let ReadOutcome::Request(get) = &out[1] else { panic!("{out:?}") };
        assert_eq!(get.target, "/sse");
        assert!(!get.http11);
        assert!(!get.keep_alive());
        assert_eq!(get.header("ACCEPT"), Some("text/event-stream"));
        assert!(matches!(out[2], ReadOutcome::Closed));
    }

    #[test]
    fn answers_expect_continue() {
        let (out, written) = read_all(b"POST /m HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
        assert!(matches!(&out[0], ReadOutcome::Request(r) if r.body == b"{}"));
        assert_eq!(written, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn rejects_bad_heads_without_panicking() {
        let cases: &[(&[u8], u16)] = &[
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET /sse HTTP/2.0\r\n\r\n", 400),
            (b"GET sse HTTP/1.1\r\n\r\n", 400),
            (b"G(T /sse HTTP/1.1\r\n\r\n", 400),
            (b"GET /sse HTTP/1.1\r\nno colon\r\n\r\n", 400),
            (b"GET /sse HTTP/1.1\r\nbad name: x\r\n\r\n", 400),
            (b"GET /\xff HTTP/1.1\r\n\r\n", 400),
            (b"POST /m HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST /m HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"POST /m HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
            (b"POST /m HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413),
            (b"POST /m HTTP/1.1\r\n\r\n", 411),
            (b"POST /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            (b"POST /m HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort", 400),
            (b"GET /sse HTT", 400),
        ];
        for (input, status) in cases {
            let (out, _) = read_all(input);
            match out.last() {
                Some(ReadOutcome::Bad(e)) => {
                    assert_eq!(e.response().0, *status, "{:?}", String::from_utf8_lossy(input))
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
        let mut huge = b"GET /sse HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        let (out, _) = read_all(&huge);
        assert!(matches!(out.last(), Some(ReadOutcome::Bad(HttpError::BadRequest(m))) if m.contains("over")));
    }

    #[test]
    fn writes_chunks() {
        assert_eq!(chunk(b"hello world, this!"), b"12\r\nhello world, this!\r\n");
        let r = response(202, &[], "Accepted", true);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 202 Accepted\r\n"));
        assert!(text.contains("content-length: 8\r\n"));
        assert!(text.ends_with("\r\n\r\nAccepted"));
    }
}
