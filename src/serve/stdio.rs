//! `serve` over stdio: newline-delimited JSON-RPC on the given input and output (a desktop
//! host's pipes). Nothing but JSON-RPC is written to the output; logs go wherever `log` goes.

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use serde::Deserialize;
use serde_json::Value;

use super::relay::Link;
use super::{Server, Sink};

/// Numbers the stdio connections (a process usually has one).
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(0);

/// What the read loop needs to know of a message before it is answered.
#[derive(Default, Deserialize)]
struct Peek {
    method: Option<String>,
    id: Option<serde::de::IgnoredAny>,
    params: Option<PeekParams>,
}

#[derive(Deserialize)]
struct PeekParams {
    capabilities: Option<Value>,
}

/// The most requests answered at once.
const MAX_IN_FLIGHT: usize = 16;

/// The longest line (one JSON-RPC message) read; a longer one is answered with a parse error
/// and skipped.
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Serves `server` on `input` and `output` until `input` ends (the host closed the pipe), then
/// returns once every reply has been written (requests in flight are answered first). Requests
/// are answered concurrently (at most 16 at once), replies written as they are ready;
/// upstream `list_changed` notifications are written as they come. Errors only when the output
/// cannot be written.
pub fn serve_stdio(
    server: Arc<Server>,
    mut input: impl BufRead,
    output: impl Write + Send + 'static,
) -> io::Result<()> {
    let (tx, rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let writer = thread::Builder::new().name("serve-stdout".into()).spawn(move || -> io::Result<()> {
        let mut output = output;
        for mut line in rx {
            line.push(b'\n');
            output.write_all(&line)?;
            output.flush()?;
        }
        Ok(())
    })?;
    let notify_tx = tx.clone();
    let sink: Arc<Sink> = Arc::new(move |bytes: &[u8]| {
        let _ = notify_tx.send(bytes.to_vec());
    });
    server.add_sink(&sink);
    // Relayed requests and progress go out on the same pipe.
    let link_tx = tx.clone();
    let key = format!("stdio-{}", NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed));
    let link = Arc::new(Link::new(key, Value::Null, move |bytes| link_tx.send(bytes).is_ok()));
    // A permit per request in flight: sending blocks while MAX_IN_FLIGHT are.
    let (permits, permits_back) = crossbeam_channel::bounded::<()>(MAX_IN_FLIGHT);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line(&mut input, &mut line) {
            Ok(Line::Eof) => break,
            Ok(Line::TooLong) => {
                let why = format!("a message over {MAX_LINE_BYTES} bytes");
                let _ = tx.send(super::error_without_id(crate::jsonrpc::PARSE_ERROR, &why));
            }
            Ok(Line::Data) => {
                let text = String::from_utf8_lossy(&line);
                if text.trim().is_empty() {
                    continue;
                }
                // Each request on a thread of its own (a slow tool does not hold up a ping), at
                // most MAX_IN_FLIGHT at once; replies go out as they are ready.
                let text = text.into_owned();
                let peek = serde_json::from_str::<Peek>(&text).unwrap_or_default();
                if peek.method.as_deref() == Some("initialize") {
                    link.set_capabilities(peek.params.and_then(|p| p.capabilities).unwrap_or_default());
                }
                // `initialize` is answered before the next line is read, so the handshake stays
                // in order; responses (to requests we relayed) and notifications at once, as
                // they may be what the requests in flight wait for.
                if peek.method.as_deref() == Some("initialize") || peek.method.is_none() || peek.id.is_none() {
                    if let Some(reply) = server.handle_text(&text, Some(&link)).reply
                        && tx.send(reply).is_err()
                    {
                        break;
                    }
                    continue;
                }
                if permits.send(()).is_err() {
                    break;
                }
                let (server, tx, permits) = (Arc::clone(&server), tx.clone(), permits_back.clone());
                let link = Arc::clone(&link);
                let spawned = thread::Builder::new().name("serve-stdio-request".into()).spawn(move || {
                    if let Some(reply) = server.handle_text(&text, Some(&link)).reply {
                        let _ = tx.send(reply);
                    }
                    let _ = permits.recv();
                });
                if let Err(e) = spawned {
                    log::warn!("serve: could not start a request thread: {e}");
                    let _ = permits_back.recv();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("serve: reading stdin failed: {e}");
                break;
            }
        }
    }
    drop(sink);
    drop(link);
    drop(tx);
    match writer.join() {
        Ok(r) => r,
        Err(_) => Err(io::Error::other("the stdout writer panicked")),
    }
}

enum Line {
    Data,
    TooLong,
    Eof,
}

/// Reads one line (without its `\n`) into `buf`, at most [`MAX_LINE_BYTES`]; the rest of a
/// longer line is discarded.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Line> {
    let mut too_long = false;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(if buf.is_empty() && !too_long {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Data
            });
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !too_long {
            if buf.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(available.len());
        input.consume(used);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_the_rest_of_a_long_one_skipped() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"a\":1}\n");
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 5));
        input.extend_from_slice(b"\nlast");
        let mut reader = io::BufReader::with_capacity(1024, input.as_slice());
        let mut buf = Vec::new();
        assert!(matches!(read_line(&mut reader, &mut buf).unwrap(), Line::Data));
        assert_eq!(buf, b"{\"a\":1}");
        buf.clear();
        assert!(matches!(read_line(&mut reader, &mut buf).unwrap(), Line::TooLong));
        buf.clear();
        assert!(matches!(read_line(&mut reader, &mut buf).unwrap(), Line::Data));
        assert_eq!(buf, b"last");
        buf.clear();
        assert!(matches!(read_line(&mut reader, &mut buf).unwrap(), Line::Eof));
    }
}
