//! A pure event-stream parser (WHATWG "server-sent events"): bytes in, events out. No I/O.
//!
//! [`EventParser`] implements the "Interpreting an event stream" section of the WHATWG HTML
//! standard for the parts a client library needs: line splitting (CRLF, LF or a bare CR, also
//! when a CRLF is split between two reads), dropping one leading byte order mark, comments,
//! the `event`, `data`, `id` and `retry` fields, and dispatch on an empty line. The stream may be
//! fed in pieces of any size; the result never depends on where the pieces were cut.
//!
//! Text is decoded as UTF-8 one complete line at a time (invalid sequences become U+FFFD), so a
//! character split between two reads is decoded whole.
//!
//! Memory is bounded: the bytes held for the event in progress never exceed the `max_event_bytes`
//! given to [`EventParser::new`]; a stream that tries is answered with [`EventTooLarge`].

use std::mem;

/// The default cap on one event, in bytes (see [`EventParser::new`]).
pub(crate) const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The UTF-8 byte order mark, dropped once at the very start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The `event:` field; "message" when absent or empty.
    pub event: String,
    /// The data lines joined with '\n' (no trailing newline).
    pub data: String,
    /// The last event id in force when this event was dispatched (`None` if never set).
    pub id: Option<String>,
}

/// An event grew past the configured cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventTooLarge {
    /// The cap that was exceeded, in bytes (the `max_event_bytes` of [`EventParser::new`]).
    pub limit: usize,
}

/// Where the parser stands with respect to the byte order mark at the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// This many bytes of the stream have been read and all of them match the BOM.
    Bom(usize),
    /// The BOM has been dropped, or the stream did not start with one.
    Done,
}

/// An incremental event-stream parser.
///
/// Feed it the bytes of one stream, in order, in pieces of any size, with [`EventParser::feed`].
///
/// **Size cap.** The bytes held for the event in progress are the line being read (complete or
/// not, whatever its field, comments included), the data buffer and the event type buffer. When
/// their sum would exceed `max_event_bytes`, `feed` returns [`EventTooLarge`] instead of
/// buffering. Events are dispatched and forgotten, so a long stream of small events never
/// reaches the cap. Because a whole line counts, whether a stream trips the cap does not depend
/// on how it was split into pieces.
///
/// **After an error** the parser is spent: the event in progress is dropped, its buffers are
/// freed, and every later `feed` returns the same error. (`retry` and `last_event_id` keep the
/// values they had.) Open a new stream with a new parser.
///
/// **End of stream**: an event not yet terminated by an empty line is simply never dispatched,
/// as the standard says; drop the parser.
#[derive(Debug)]
pub(crate) struct EventParser {
    /// The cap on the bytes held for the event in progress.
    max_event_bytes: usize,
    /// The start of a line whose end has not arrived yet (raw bytes, not yet decoded).
    line: Vec<u8>,
    /// The data buffer: each `data` value followed by '\n'.
    data: String,
    /// The event type buffer.
    event: String,
    /// The last event ID buffer (`None` until an `id` field is seen).
    last_id: Option<String>,
    /// The last valid `retry` value, in milliseconds.
    retry: Option<u64>,
    /// The previous piece ended in a CR: an LF at the start of the next one ends no line.
    skip_lf: bool,
    /// Byte order mark detection at the start of the stream.
    start: Start,
    /// A cap was exceeded: the parser is spent.
    failed: bool,
}

impl EventParser {
    /// A parser for a new stream that refuses events larger than `max_event_bytes` (see the
    /// type's documentation for what counts); [`DEFAULT_MAX_EVENT_BYTES`] is a sensible value.
    pub(crate) fn new(max_event_bytes: usize) -> EventParser {
        EventParser {
            max_event_bytes,
            line: Vec::new(),
            data: String::new(),
            event: String::new(),
            last_id: None,
            retry: None,
            skip_lf: false,
            start: Start::Bom(0),
            failed: false,
        }
    }

    /// Feeds the next bytes of the stream (any split: a CRLF may be split between two calls, a
    /// UTF-8 character may be split between two calls); pushes every event completed to `out`.
    ///
    /// On error, the events completed by `bytes` before the cap was exceeded have already been
    /// pushed to `out`, and the parser is spent (see [`EventParser`]).
    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), EventTooLarge> {
        if self.failed {
            return Err(self.too_large());
        }
        let result = self.feed_lines(bytes, out);
        if result.is_err() {
            self.failed = true;
            self.line = Vec::new();
            self.data = String::new();
            self.event = String::new();
        }
        result
    }

    /// The last `retry:` value received, in milliseconds.
    ///
    /// A value too large for a `u64` saturates to `u64::MAX`; callers should clamp it to
    /// whatever reconnection delay they are prepared to wait.
    #[cfg_attr(not(test), allow(dead_code))] // reason: for stream resumption (streamable HTTP); tested now
    pub(crate) fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The last event id (WHATWG "last event ID buffer").
    ///
    /// `None` until the stream sends an `id` field; an `id` field with an empty value makes it
    /// `Some("")` (the standard's way of resetting it).
    #[cfg_attr(not(test), allow(dead_code))] // reason: for stream resumption (streamable HTTP); tested now
    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Splits `bytes` into lines and interprets each complete one.
    fn feed_lines(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), EventTooLarge> {
        let mut rest = self.strip_bom(bytes)?;
        if self.skip_lf
            && let Some((&first, tail)) = rest.split_first()
        {
            self.skip_lf = false;
            if first == b'\n' {
                rest = tail;
            }
        }
        while let Some(end) = find_line_end(rest) {
            let terminator = match rest[end] {
                b'\r' => match rest.get(end + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None => {
                        self.skip_lf = true;
                        1
                    }
                },
                _ => 1,
            };
            if self.line.is_empty() {
                // The common case: the whole line is in `bytes`; interpret it in place.
                self.check(end)?;
                self.interpret(&rest[..end], out)?;
            } else {
                self.check(self.line.len() + end)?;
                let mut line = mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                let result = self.interpret(&line, out);
                line.clear();
                self.line = line; // keep the allocation for the next partial line
                result?;
            }
            rest = &rest[end + terminator..];
        }
        if !rest.is_empty() {
            self.check(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Drops a byte order mark at the very start of the stream, however it is split.
    ///
    /// Returns the bytes left to parse. When the stream starts with part of a BOM and then
    /// diverges, the matched part is not a BOM: it goes back to the start of the first line.
    fn strip_bom<'a>(&mut self, mut bytes: &'a [u8]) -> Result<&'a [u8], EventTooLarge> {
        while let Start::Bom(matched) = self.start {
            let Some((&byte, tail)) = bytes.split_first() else {
                break;
            };
            if byte == BOM[matched] {
                bytes = tail;
                self.start = if matched + 1 == BOM.len() { Start::Done } else { Start::Bom(matched + 1) };
            } else {
                self.start = Start::Done;
                self.check(matched)?;
                self.line.extend_from_slice(&BOM[..matched]);
            }
        }
        Ok(bytes)
    }

    /// Interprets one complete line (without its terminator).
    fn interpret(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), EventTooLarge> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment (keep-alive)
        }
        // ':' is ASCII, so splitting the raw bytes there never cuts a character, and decoding
        // the pieces separately gives what decoding the whole line would.
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                let value = String::from_utf8_lossy(value);
                // Lossy decoding can make a value longer than its bytes (1 byte -> U+FFFD, 3 bytes).
                self.check(value.len() + 1)?;
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                let value = String::from_utf8_lossy(value);
                self.check_total(self.data.len().saturating_add(value.len()))?;
                self.event.clear();
                self.event.push_str(&value);
            }
            // An id containing NUL is ignored.
            b"id" if !value.contains(&0) => self.last_id = Some(String::from_utf8_lossy(value).into_owned()),
            // A retry that is not all ASCII digits is ignored.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let millis =
                    value.iter().fold(0u64, |n, &digit| n.saturating_mul(10).saturating_add(u64::from(digit - b'0')));
                self.retry = Some(millis);
            }
            _ => {} // unknown fields, and the ignored cases above
        }
        Ok(())
    }

    /// Dispatches the event in progress (on an empty line), if it has any data.
    fn dispatch(&mut self, out: &mut Vec<Event>) {
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        self.data.pop(); // the '\n' after the last data line
        let event = if self.event.is_empty() { String::from("message") } else { mem::take(&mut self.event) };
        out.push(Event { event, data: mem::take(&mut self.data), id: self.last_id.clone() });
    }

    /// Fails if holding `extra` more bytes with the event in progress would exceed the cap.
    fn check(&self, extra: usize) -> Result<(), EventTooLarge> {
        self.check_total(self.data.len().saturating_add(self.event.len()).saturating_add(extra))
    }

    /// Fails if `total` bytes held for the event in progress would exceed the cap.
    fn check_total(&self, total: usize) -> Result<(), EventTooLarge> {
        if total > self.max_event_bytes { Err(self.too_large()) } else { Ok(()) }
    }

    fn too_large(&self) -> EventTooLarge {
        EventTooLarge { limit: self.max_event_bytes }
    }
}

/// The index of the first CR or LF in `hay`.
///
/// Searches eight bytes at a time (the classic "does this word contain a zero byte" bit trick,
/// applied to the word XOR a repeated CR and XOR a repeated LF), which is several times faster
/// than testing byte by byte on long data lines.
fn find_line_end(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    /// High bit set in each byte of the result at or above a zero byte of `word`; the lowest
    /// one set marks exactly the first zero byte (false positives only appear above a true one).
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    let (words, tail) = hay.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        let found = zero_bytes(word ^ LFS) | zero_bytes(word ^ CRS);
        if found != 0 {
            // Little-endian: byte k of the chunk is bits 8k..8k+8.
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter().position(|&b| b == b'\n' || b == b'\r').map(|i| words.len() * 8 + i)
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests;
