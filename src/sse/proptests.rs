//! Property tests of the event-stream parser on arbitrary bytes and arbitrary chunkings: it never
//! panics, its size cap holds after every feed (no buffered line or event exceeds it), and the
//! result never depends on where the stream was cut.

use proptest::prelude::*;

use super::{Event, EventParser, EventTooLarge};

/// Everything one parse produces.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Event>,
    retry: Option<u64>,
    last_id: Option<String>,
    error: Option<EventTooLarge>,
}

/// Feeds `stream` cut at `cuts` (sorted offsets) to a fresh parser, checking the cap after
/// every feed; stops at the first error.
fn parse(max: usize, stream: &[u8], cuts: &[usize]) -> Outcome {
    let mut parser = EventParser::new(max);
    let mut events = Vec::new();
    let mut error = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([stream.len()]) {
        let end = end.clamp(start, stream.len());
        let result = parser.feed(&stream[start..end], &mut events);
        let held = parser.line.len() + parser.data.len() + parser.event.len();
        assert!(held <= max, "the parser holds {held} bytes, over its cap of {max}");
        start = end;
        if let Err(e) = result {
            error = Some(e);
            break;
        }
    }
    for e in &events {
        assert!(e.data.len() <= max, "an event of {} bytes passed a cap of {max}", e.data.len());
    }
    Outcome { events, retry: parser.retry(), last_id: parser.last_event_id().map(str::to_owned), error }
}

/// Streams that look like event streams: field names, separators, line ends of every kind, a
/// byte order mark, multi-byte and invalid UTF-8, and arbitrary bytes in between.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"id:".to_vec()),
        Just(b"retry:".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(vec![0xEF, 0xBB, 0xBF]),
        Just("é€".as_bytes().to_vec()),
        Just(vec![0xFF, 0xC3]),
        Just(b"12".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

/// Cut offsets into a stream of up to `len` bytes, sorted.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..2500, 0..20).prop_map(|mut c| {
        c.sort_unstable();
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn arbitrary_bytes_never_panic_and_respect_the_cap(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in cuts(),
        max in 0usize..300,
    ) {
        parse(max, &bytes, &cuts);
    }

    #[test]
    fn any_chunking_gives_the_same_result(stream in stream(), cuts in cuts(), max in 1usize..400) {
        let whole = parse(max, &stream, &[]);
        let split = parse(max, &stream, &cuts);
        prop_assert_eq!(&split, &whole);
        // Byte by byte too: the finest chunking there is.
        let every: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(&parse(max, &stream, &every), &whole);
    }

    #[test]
    fn a_roomy_cap_never_trips_on_small_events(stream in stream(), cuts in cuts()) {
        // Without a cap that matters, the parser fails on nothing.
        let outcome = parse(1 << 20, &stream, &cuts);
        prop_assert_eq!(outcome.error, None);
    }
}
