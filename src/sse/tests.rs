//! Unit tests of the event-stream parser: fields, line endings, chunking, the size cap.

use super::*;

/// Everything a parse of a stream produces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<Event>,
    retry: Option<u64>,
    last_id: Option<String>,
    error: Option<EventTooLarge>,
}

/// Feeds `pieces` in order to a fresh parser (stopping at the first error).
fn parse_pieces<'a>(max: usize, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = EventParser::new(max);
    let mut events = Vec::new();
    let mut error = None;
    for piece in pieces {
        if let Err(e) = parser.feed(piece, &mut events) {
            error = Some(e);
            break;
        }
    }
    Outcome { events, retry: parser.retry(), last_id: parser.last_event_id().map(str::to_owned), error }
}

/// Parses a stream given in one piece with the default cap; returns the events.
fn events(stream: &[u8]) -> Vec<Event> {
    let outcome = parse_pieces(DEFAULT_MAX_EVENT_BYTES, [stream]);
    assert_eq!(outcome.error, None);
    outcome.events
}

fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
    Event { event: event.to_owned(), data: data.to_owned(), id: id.map(str::to_owned) }
}

fn msg(data: &str) -> Event {
    ev("message", data, None)
}

#[test]
fn lf_line_endings() {
    assert_eq!(events(b"data: a\n\ndata: b\n\n"), [msg("a"), msg("b")]);
}

#[test]
fn crlf_line_endings() {
    assert_eq!(events(b"data: a\r\n\r\ndata: b\r\n\r\n"), [msg("a"), msg("b")]);
}

#[test]
fn bare_cr_line_endings() {
    assert_eq!(events(b"data: a\r\rdata: b\rdata: c\r\r"), [msg("a"), msg("b\nc")]);
    // CR CR LF is two line ends (an empty line), not three.
    assert_eq!(events(b"data: a\r\r\ndata: b\r\n\r\n"), [msg("a"), msg("b")]);
}

#[test]
fn mixed_line_endings() {
    assert_eq!(events(b"data: a\ndata: b\r\ndata: c\r\r\n"), [msg("a\nb\nc")]);
}

#[test]
fn crlf_split_across_feeds_is_one_line_end() {
    // If the LF were a second line end, "a" would be dispatched on its own.
    let outcome = parse_pieces(100, [&b"data: a\r"[..], b"\ndata: b\r\n\r\n"]);
    assert_eq!(outcome.events, [msg("a\nb")]);
    // Empty pieces between the CR and the LF change nothing.
    let outcome = parse_pieces(100, [&b"data: a\r"[..], b"", b"", b"\ndata: b\r\n\r\n"]);
    assert_eq!(outcome.events, [msg("a\nb")]);
    // A CR at the end of a piece followed by something other than LF is a bare CR.
    let outcome = parse_pieces(100, [&b"data: a\r"[..], b"data: b\r", b"\r"]);
    assert_eq!(outcome.events, [msg("a\nb")]);
    // CR | CR: an empty line, the event is dispatched.
    let outcome = parse_pieces(100, [&b"data: a\r"[..], b"\r"]);
    assert_eq!(outcome.events, [msg("a")]);
    // CR | LF | LF: the second LF is an empty line.
    let outcome = parse_pieces(100, [&b"data: a\r"[..], b"\n", b"\n"]);
    assert_eq!(outcome.events, [msg("a")]);
}

#[test]
fn bom_at_start_is_dropped() {
    assert_eq!(events(b"\xEF\xBB\xBFdata: a\n\n"), [msg("a")]);
    // Only one: a second BOM starts the first line, whose field name is then not "data".
    assert_eq!(events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n"), [msg("b")]);
}

#[test]
fn bom_split_across_feeds_is_dropped() {
    for pieces in [
        &[&b"\xEF"[..], b"\xBB", b"\xBF", b"data: a\n\n"][..],
        &[&b"\xEF\xBB"[..], b"\xBFdata: a\n\n"],
        &[&b""[..], b"\xEF", b"", b"\xBB\xBFdata: a", b"\n\n"],
    ] {
        let outcome = parse_pieces(100, pieces.iter().copied());
        assert_eq!(outcome.events, [msg("a")], "{pieces:?}");
    }
}

#[test]
fn bom_not_at_start_is_kept() {
    assert_eq!(events(b"data: \xEF\xBB\xBFa\n\n"), [msg("\u{FEFF}a")]);
    assert_eq!(events(b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: c\n\n"), [msg("a"), msg("c")]);
    let outcome = parse_pieces(100, [&b"data: x\n"[..], b"\xEF\xBB\xBF", b"data: y\n\n"]);
    assert_eq!(outcome.events, [msg("x")]);
}

#[test]
fn partial_bom_at_start_is_part_of_the_first_line() {
    // EF BB then 'd': not a BOM, the two bytes stay and spoil the field name "data".
    assert_eq!(events(b"\xEF\xBBdata: a\n\ndata: b\n\n"), [msg("b")]);
    let outcome = parse_pieces(100, [&b"\xEF"[..], b"\xBB", b"data: a\n\ndata: b\n\n"]);
    assert_eq!(outcome.events, [msg("b")]);
    // EF then LF: a first line of one (invalid) byte, ignored; the rest parses.
    let outcome = parse_pieces(100, [&b"\xEF"[..], b"\ndata: b\n\n"]);
    assert_eq!(outcome.events, [msg("b")]);
}

#[test]
fn comments_are_ignored() {
    let stream = b": ping - 2025-01-01 00:00:00\n:\ndata: a\n: in the middle\ndata: b\n\n: ping\n\n";
    assert_eq!(events(stream), [msg("a\nb")]);
    // A comment line is not an empty line: it does not dispatch.
    assert_eq!(events(b"data: a\n:\n"), []);
}

#[test]
fn multi_line_data_is_joined_with_lf() {
    assert_eq!(events(b"data: {\ndata:   \"a\": 1\ndata: }\n\n"), [msg("{\n  \"a\": 1\n}")]);
}

#[test]
fn one_space_after_the_colon_is_removed() {
    assert_eq!(events(b"data:x\n\n"), [msg("x")]);
    assert_eq!(events(b"data:  two spaces\n\n"), [msg(" two spaces")]);
    assert_eq!(events(b"data:\tx\n\n"), [msg("\tx")]);
    assert_eq!(events(b"data: a: b:c\n\n"), [msg("a: b:c")]);
    assert_eq!(events(b"data: x \n\n"), [msg("x ")]);
}

#[test]
fn field_without_colon_has_an_empty_value() {
    // "data" alone appends an empty line: the event is dispatched with empty data.
    assert_eq!(events(b"data\n\n"), [msg("")]);
    assert_eq!(events(b"data\ndata\n\n"), [msg("\n")]);
    assert_eq!(events(b"data:\n\n"), [msg("")]);
    // "event" alone sets an empty type, which means "message".
    assert_eq!(events(b"event: x\nevent\ndata: a\n\n"), [msg("a")]);
    // "id" alone sets the last event id to "".
    let outcome = parse_pieces(100, [&b"id: 1\nid\ndata: a\n\n"[..]]);
    assert_eq!(outcome.events, [ev("message", "a", Some(""))]);
    assert_eq!(outcome.last_id.as_deref(), Some(""));
}

#[test]
fn field_names_are_case_sensitive_and_space_sensitive() {
    assert_eq!(events(b"Data: a\nDATA: b\ndata : c\n data: d\ndata: e\n\n"), [msg("e")]);
}

#[test]
fn no_data_dispatches_nothing() {
    assert_eq!(events(b"\n\n\n"), []);
    assert_eq!(events(b"event: endpoint\n\n"), []);
    assert_eq!(events(b"id: 1\nretry: 5\n\n"), []);
}

#[test]
fn event_type_is_reset_after_dispatch() {
    assert_eq!(events(b"event: a\ndata: 1\n\ndata: 2\n\n"), [ev("a", "1", None), msg("2")]);
    // ...and after an empty line that dispatched nothing.
    assert_eq!(events(b"event: a\n\ndata: 2\n\n"), [msg("2")]);
    // The last `event` line of an event wins; an empty one means "message".
    assert_eq!(events(b"event: a\nevent: b\ndata: 1\n\n"), [ev("b", "1", None)]);
    assert_eq!(events(b"event: a\nevent:\ndata: 1\n\n"), [msg("1")]);
}

#[test]
fn id_persists_across_events() {
    let outcome = parse_pieces(100, [&b"data: a\n\nid: 1\ndata: b\n\ndata: c\n\n"[..]]);
    assert_eq!(
        outcome.events,
        [ev("message", "a", None), ev("message", "b", Some("1")), ev("message", "c", Some("1"))]
    );
    assert_eq!(outcome.last_id.as_deref(), Some("1"));
    // An id after the data but before the empty line applies to that event.
    assert_eq!(events(b"data: a\nid: 7\n\n"), [ev("message", "a", Some("7"))]);
}

#[test]
fn id_is_set_even_when_nothing_is_dispatched() {
    let outcome = parse_pieces(100, [&b"id: 1\ndata: a\n\nid: 2\n\n"[..]]);
    assert_eq!(outcome.events, [ev("message", "a", Some("1"))]);
    assert_eq!(outcome.last_id.as_deref(), Some("2"));
    // Even when the event is never completed (end of stream).
    let outcome = parse_pieces(100, [&b"data: a\nid: 3\n"[..]]);
    assert_eq!(outcome.events, []);
    assert_eq!(outcome.last_id.as_deref(), Some("3"));
}

#[test]
fn id_with_nul_is_ignored() {
    let outcome = parse_pieces(100, [&b"id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"[..]]);
    assert_eq!(outcome.events, [ev("message", "a", Some("1")), ev("message", "b", Some("1"))]);
    assert_eq!(outcome.last_id.as_deref(), Some("1"));
    let outcome = parse_pieces(100, [&b"id: \0\n"[..]]);
    assert_eq!(outcome.last_id, None);
}

#[test]
fn nothing_is_known_before_the_stream_says_it() {
    let parser = EventParser::new(DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(parser.retry(), None);
    assert_eq!(parser.last_event_id(), None);
}

#[test]
fn retry_accepts_only_ascii_digits() {
    assert_eq!(parse_pieces(100, [&b"retry: 3000\n"[..]]).retry, Some(3000));
    assert_eq!(parse_pieces(100, [&b"retry:0\n"[..]]).retry, Some(0));
    assert_eq!(parse_pieces(100, [&b"retry: 007\n"[..]]).retry, Some(7));
    for bad in ["3s", "-1", "+5", " 5", "1 000", "1.5", "", "\u{0663}", "0x10"] {
        let stream = format!("retry: 1000\nretry: {bad}\n");
        assert_eq!(parse_pieces(100, [stream.as_bytes()]).retry, Some(1000), "retry: {bad:?}");
    }
    assert_eq!(parse_pieces(100, [&b"retry\n"[..]]).retry, None);
    // The last valid value wins.
    assert_eq!(parse_pieces(100, [&b"retry: 1\nretry: 2\nretry: x\n"[..]]).retry, Some(2));
    // Too large for a u64: saturates.
    assert_eq!(parse_pieces(100, [&b"retry: 99999999999999999999999\n"[..]]).retry, Some(u64::MAX));
}

#[test]
fn retry_does_not_dispatch_or_touch_the_event() {
    assert_eq!(events(b"data: a\nretry: 10\ndata: b\n\n"), [msg("a\nb")]);
}

#[test]
fn unknown_fields_are_ignored() {
    assert_eq!(events(b"foo: bar\ndata: a\nx\nretry2: 5\n\n"), [msg("a")]);
    assert_eq!(events(b"foo: bar\n\n"), []);
}

#[test]
fn utf8_character_split_across_feeds() {
    let stream = "event: é\ndata: €😀\n\n".as_bytes();
    let emoji = stream.iter().position(|&b| b == 0xF0).expect("the emoji is in the stream");
    for split in [emoji + 1, emoji + 2, emoji + 3, 8, 9] {
        let outcome = parse_pieces(100, [&stream[..split], &stream[split..]]);
        assert_eq!(outcome.events, [ev("é", "€😀", None)], "split at {split}");
    }
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    assert_eq!(events(b"data: a\xFFb\xC3\n\n"), [msg("a\u{FFFD}b\u{FFFD}")]);
    // A truncated 3-byte sequence is one U+FFFD; a bad lead byte is another.
    assert_eq!(events(b"data: \xE2\x82x\x80\n\n"), [msg("\u{FFFD}x\u{FFFD}")]);
    assert_eq!(events(b"event: \xFF\ndata: a\n\n"), [ev("\u{FFFD}", "a", None)]);
    let outcome = parse_pieces(100, [&b"id: \xFE1\n"[..]]);
    assert_eq!(outcome.last_id.as_deref(), Some("\u{FFFD}1"));
    // Split between feeds, an incomplete sequence waits for the end of the line.
    let outcome = parse_pieces(100, [&b"data: \xE2\x82"[..], b"\xAC\xE2\x82", b"\n\n"]);
    assert_eq!(outcome.events, [msg("€\u{FFFD}")]);
}

#[test]
fn incomplete_event_at_end_of_stream_is_not_dispatched() {
    assert_eq!(events(b"data: a\n\ndata: b\n"), [msg("a")]);
    assert_eq!(events(b"data: a\n\ndata: b"), [msg("a")]);
}

#[test]
fn cap_error_carries_the_limit() {
    let outcome = parse_pieces(16, [&b"data: 0123456789abcdef\n\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 16 }));
    assert_eq!(outcome.events, []);
    // Also when the line never ends: the pending partial line counts.
    let outcome = parse_pieces(16, [&b"data: 0123456789abcdef"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 16 }));
}

#[test]
fn cap_boundary_is_inclusive() {
    // A line of exactly the cap is fine; one more byte is not.
    let outcome = parse_pieces(10, [&b"data: abcd\n\n"[..]]);
    assert_eq!((outcome.events, outcome.error), (vec![msg("abcd")], None));
    let outcome = parse_pieces(10, [&b"data: abcde\n\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 10 }));
}

#[test]
fn cap_counts_data_accumulated_over_lines_and_the_event_name() {
    // "data:abc" leaves "abc\n" (4 bytes); the next line (7 bytes) would make 11 > 10.
    let outcome = parse_pieces(10, [&b"data:abc\ndata:ab\n\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 10 }));
    // Each line alone is fine when the event is dispatched in between.
    let outcome = parse_pieces(10, [&b"data:abc\n\ndata:ab\n\n"[..]]);
    assert_eq!((outcome.events, outcome.error), (vec![msg("abc"), msg("ab")], None));
    // The event name counts: "event:abcde" holds 5 bytes, "data:ab" (7 bytes) makes 12.
    let outcome = parse_pieces(10, [&b"event:abcde\ndata:ab\n\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 10 }));
}

#[test]
fn cap_counts_decoded_bytes() {
    // 9 bytes on the wire, but four U+FFFD (12 bytes) plus '\n' once decoded: refused at once,
    // by the line itself, not later.
    let outcome = parse_pieces(10, [&b"data:\xFF\xFF\xFF\xFF\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 10 }));
    // Three U+FFFD and '\n' make exactly 10: fine.
    let outcome = parse_pieces(10, [&b"data:\xFF\xFF\xFF\n\n"[..]]);
    assert_eq!((outcome.events, outcome.error), (vec![msg("\u{FFFD}\u{FFFD}\u{FFFD}")], None));
}

#[test]
fn cap_counts_long_comment_lines() {
    let outcome = parse_pieces(10, [&b": 0123456789\ndata: a\n\n"[..]]);
    assert_eq!(outcome.error, Some(EventTooLarge { limit: 10 }));
}

#[test]
fn many_small_events_far_beyond_the_cap_are_fine() {
    let mut parser = EventParser::new(64);
    let mut out = Vec::new();
    // About 600 KB in all, ten thousand times the cap.
    let one = b": ping\nid: 42\nevent: message\ndata: {\"jsonrpc\":\"2.0\"}\n\n";
    for _ in 0..10_000 {
        parser.feed(one, &mut out).expect("each event is under the cap");
    }
    assert_eq!(out.len(), 10_000);
    assert!(out.iter().all(|e| *e == ev("message", "{\"jsonrpc\":\"2.0\"}", Some("42"))));
}

#[test]
fn events_before_the_error_are_delivered_and_the_parser_stays_spent() {
    let mut parser = EventParser::new(16);
    let mut out = Vec::new();
    let result = parser.feed(b"retry: 5\nid: 1\ndata: ok\n\ndata: 0123456789abcdef\n\n", &mut out);
    assert_eq!(result, Err(EventTooLarge { limit: 16 }));
    assert_eq!(out, [ev("message", "ok", Some("1"))]);
    assert_eq!(parser.feed(b"data: small\n\n", &mut out), Err(EventTooLarge { limit: 16 }));
    assert_eq!(out.len(), 1);
    assert_eq!((parser.retry(), parser.last_event_id()), (Some(5), Some("1")));
    assert!(parser.line.capacity() == 0 && parser.data.capacity() == 0, "buffers freed");
}

#[test]
fn realistic_mcp_legacy_sse_stream() {
    let stream = concat!(
        "event: endpoint\r\ndata: /messages/?session_id=abc\r\n\r\n",
        ": ping - 2025-01-01 00:00:00.000000+00:00\r\n\r\n",
        "event: message\r\n",
        "data: {\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2024-11-05\",",
        "\"capabilities\":{\"resources\":{}},\"serverInfo\":{\"name\":\"db\",\"version\":\"1.0\"}}}\r\n\r\n",
        ": ping - 2025-01-01 00:00:15.000000+00:00\r\n\r\n",
        "event: message\r\n",
        "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resources\":[{\"uri\":\"database://metadata\",",
        "\"name\":\"metadata\",\"description\":\"Tables – and “quotes”\"}]}}\r\n\r\n",
        "event: message\r\n",
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/list_changed\"}\r\n\r\n",
    );
    let expected = [
        ev("endpoint", "/messages/?session_id=abc", None),
        ev(
            "message",
            concat!(
                "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2024-11-05\",",
                "\"capabilities\":{\"resources\":{}},\"serverInfo\":{\"name\":\"db\",\"version\":\"1.0\"}}}"
            ),
            None,
        ),
        ev(
            "message",
            concat!(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resources\":[{\"uri\":\"database://metadata\",",
                "\"name\":\"metadata\",\"description\":\"Tables – and “quotes”\"}]}}"
            ),
            None,
        ),
        ev("message", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/list_changed\"}", None),
    ];
    assert_eq!(events(stream.as_bytes()), expected);
    // As a network would deliver it: in 7-byte reads.
    let outcome = parse_pieces(DEFAULT_MAX_EVENT_BYTES, stream.as_bytes().chunks(7));
    assert_eq!(outcome.events, expected);
    assert_eq!((outcome.retry, outcome.last_id, outcome.error), (None, None, None));
}

/// A small xorshift64 generator: deterministic pseudo-random splits without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (n > 0); the slight modulo bias does not matter here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Cuts `stream` at `cuts` (sorted, possibly repeated: repeated cuts make empty pieces).
fn pieces<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        pieces.push(&stream[start..cut]);
        start = cut;
    }
    pieces.push(&stream[start..]);
    pieces
}

/// Every way of feeding `stream` gives `expected`.
fn assert_split_independent(max: usize, stream: &[u8], expected: &Outcome) {
    let whole = parse_pieces(max, [stream]);
    assert_eq!(&whole, expected, "whole stream {:?}", String::from_utf8_lossy(stream));
    let bytewise = parse_pieces(max, stream.chunks(1));
    assert_eq!(&bytewise, expected, "one byte at a time");
    for split in 0..=stream.len() {
        let outcome = parse_pieces(max, pieces(stream, &[split]));
        assert_eq!(&outcome, expected, "split at {split}");
    }
    for seed in 1..=200u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let count = rng.below(stream.len().min(24) + 1);
        let mut cuts: Vec<usize> = (0..count).map(|_| rng.below(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let outcome = parse_pieces(max, pieces(stream, &cuts));
        assert_eq!(&outcome, expected, "seed {seed}, cuts {cuts:?}");
    }
}

fn ok(events: Vec<Event>, retry: Option<u64>, last_id: Option<&str>) -> Outcome {
    Outcome { events, retry, last_id: last_id.map(str::to_owned), error: None }
}

#[test]
fn splitting_never_changes_the_result() {
    let cases: Vec<(&[u8], Outcome)> = vec![
        (
            b"\xEF\xBB\xBFevent: endpoint\r\ndata: /messages/?session_id=abc\r\n\r\n\
              : ping\r\n\r\nevent: message\r\ndata: {\"id\":1}\r\n\r\n",
            ok(vec![ev("endpoint", "/messages/?session_id=abc", None), msg("{\"id\":1}")], None, None),
        ),
        (
            b"data: a\rdata: b\r\rid: 7\rretry: 250\r\revent: x\rdata: c\r\r",
            ok(vec![msg("a\nb"), ev("x", "c", Some("7"))], Some(250), Some("7")),
        ),
        (
            "data: é€😀\r\n\r\nevent: ü\ndata: 日本語\r\rdata:  x\n\n".as_bytes(),
            ok(vec![msg("é€😀"), ev("ü", "日本語", None), msg(" x")], None, None),
        ),
        (
            b"\xEF\xBB\xBF\xEF\xBB\xBF\r\n\xEF\xBB\xBFdata\r\n\r\r\n\n",
            ok(vec![], None, None), // a BOM-led field name is not "data"; the rest are empty lines
        ),
        (
            b"\xEF\xBBdata: x\n\ndata: y\r\n\r\n",
            ok(vec![msg("y")], None, None), // half a BOM is not a BOM
        ),
        (
            b"id: 1\ndata: a\xFF\xE2\x82\n\nid: 2\0\nretry: 1x\nretry: 12\ndata\ndata\n\n:c\r\nfoo\n\ndata: z",
            ok(
                vec![ev("message", "a\u{FFFD}\u{FFFD}", Some("1")), ev("message", "\n", Some("1"))],
                Some(12),
                Some("1"),
            ),
        ),
        (b"\r\n\r\r\n\n\r", ok(vec![], None, None)),
        (b"", ok(vec![], None, None)),
    ];
    for (stream, expected) in &cases {
        assert_split_independent(DEFAULT_MAX_EVENT_BYTES, stream, expected);
    }
}

#[test]
fn splitting_never_changes_where_the_cap_trips() {
    let stream = b"retry: 9\r\nid: 1\r\ndata: 0123\r\n\r\ndata: 012\r\ndata: 0123456789\r\n\r\ndata: late\r\n\r\n";
    let expected = Outcome {
        events: vec![ev("message", "0123", Some("1"))],
        retry: Some(9),
        last_id: Some("1".to_owned()),
        error: Some(EventTooLarge { limit: 16 }),
    };
    assert_split_independent(16, stream, &expected);
    // A long comment trips the cap however it arrives, even if the stream ends inside it.
    let expected =
        Outcome { events: vec![msg("a")], retry: None, last_id: None, error: Some(EventTooLarge { limit: 8 }) };
    assert_split_independent(8, b"data: a\n\n: 0123456789", &expected);
}

#[test]
fn find_line_end_matches_a_byte_by_byte_search() {
    let naive = |hay: &[u8]| hay.iter().position(|&b| b == b'\n' || b == b'\r');
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    // Bytes near CR and LF, and 0x80-ish bytes, are where a word trick would go wrong.
    let alphabet = [b'\n', b'\r', 0x0B, 0x0C, 0x0E, 0x09, 0x8A, 0x8D, 0x80, 0xFF, 0x00, 0x01, b'a', b' '];
    for _ in 0..5_000 {
        let len = rng.below(40);
        let hay: Vec<u8> = (0..len)
            .map(|_| if rng.below(4) == 0 { alphabet[rng.below(alphabet.len())] } else { rng.next() as u8 })
            .collect();
        assert_eq!(find_line_end(&hay), naive(&hay), "{hay:?}");
    }
    for len in 0..40 {
        let mut hay = vec![b'x'; len];
        assert_eq!(find_line_end(&hay), None);
        for at in 0..len {
            for end in [b'\n', b'\r'] {
                hay[at] = end;
                assert_eq!(find_line_end(&hay), Some(at), "len {len}, at {at}");
                hay[at] = b'x';
            }
        }
    }
}
