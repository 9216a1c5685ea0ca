//! A pure event-stream parser (WHATWG "server-sent events"): bytes in, events out. No I/O.
