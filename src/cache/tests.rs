//! The cache's unit tests: TTLs, the byte budget and eviction, single flight, stamps, counters.

use super::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

const LONG: Duration = Duration::from_secs(10);

/// A clock the test moves by hand.
#[derive(Clone)]
struct FakeClock {
    base: Instant,
    offset_ms: Arc<AtomicU64>,
}

impl FakeClock {
    fn new() -> Self {
        FakeClock { base: Instant::now(), offset_ms: Arc::new(AtomicU64::new(0)) }
    }
    fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
    fn cache<V: Clone + Send>(&self, ttl: Duration, max_bytes: usize) -> ResourceCache<V> {
        let clock = self.clone();
        ResourceCache::new_with_clock(ttl, max_bytes, move || {
            clock.base + Duration::from_millis(clock.offset_ms.load(Ordering::SeqCst))
        })
    }
}

fn deadline() -> Instant {
    Instant::now() + LONG
}

/// Fetches `value` of `bytes` through the cache; returns (value, hit).
fn put(cache: &ResourceCache<String>, key: &str, value: &str, bytes: usize) -> (String, bool) {
    cache.get_or_fetch(key, deadline(), || Ok::<_, String>((value.to_owned(), bytes)), || "timeout".to_owned()).unwrap()
}

/// The keys held, least recently used first.
fn keys_lru_first(cache: &ResourceCache<String>) -> Vec<String> {
    let state = cache.lock();
    let mut keys: Vec<String> = state.entries.iter().map(|(k, _)| k.clone()).collect();
    keys.reverse();
    keys
}

/// How many callers wait for the key's current flight.
fn waiters(cache: &ResourceCache<String>, key: &str) -> usize {
    let state = cache.lock();
    state.current.get(key).and_then(|id| state.flights.get(id)).map_or(0, |f| f.waiters)
}

/// Polls (without sleeping) until `cond` holds, failing the test after 10 s.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        thread::yield_now();
    }
}

#[test]
fn get_many_is_get_for_each_key() {
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = now.clone();
    let cache = ResourceCache::<String>::new_with_clock(Duration::from_secs(10), 1000, move || *clock.lock().unwrap());
    put(&cache, "a", "A", 10);
    *now.lock().unwrap() += Duration::from_secs(6);
    put(&cache, "b", "B", 10);
    assert_eq!(cache.get_many(["a", "x", "b"]), [Some("A".to_owned()), None, Some("B".to_owned())]);
    assert_eq!(cache.stats().hits, 2);
    *now.lock().unwrap() += Duration::from_secs(5); // a is 11 s old, b 5 s
    assert_eq!(cache.get_many(["a", "b"]), [None, Some("B".to_owned())]);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.entries, stats.bytes), (3, 1, 10), "{stats:?}");
}

/// A leader's thread: its `get_or_fetch` result.
type Leader = thread::JoinHandle<Result<(String, bool), String>>;

/// Starts a leader fetching `key` on a thread; its fetch returns `(value, bytes)` only when
/// the returned sender is used. Returns once the fetch is running.
fn held_leader(
    cache: &Arc<ResourceCache<String>>,
    key: &'static str,
    value: &'static str,
    bytes: usize,
) -> (Leader, crossbeam_channel::Sender<()>) {
    let (started_tx, started_rx) = crossbeam_channel::bounded(1);
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
    let leader = {
        let cache = Arc::clone(cache);
        thread::spawn(move || {
            let fetch = || {
                started_tx.send(()).unwrap();
                go_rx.recv_timeout(LONG).unwrap();
                Ok::<_, String>((value.to_owned(), bytes))
            };
            cache.get_or_fetch(key, deadline(), fetch, || "timeout".to_owned())
        })
    };
    started_rx.recv_timeout(LONG).unwrap();
    (leader, go_tx)
}

#[test]
fn hits_and_misses_are_counted() {
    let cache = ResourceCache::<String>::new(Duration::from_secs(300), 1000);
    assert_eq!(cache.get("a"), None);
    assert_eq!(cache.stats(), CacheStats { max_bytes: 1000, ..CacheStats::default() });

    assert_eq!(put(&cache, "a", "A", 10), ("A".to_owned(), false));
    assert_eq!(put(&cache, "a", "other", 10), ("A".to_owned(), true));
    assert_eq!(cache.get("a").as_deref(), Some("A"));
    assert_eq!(put(&cache, "b", "B", 5), ("B".to_owned(), false));
    assert_eq!(
        cache.stats(),
        CacheStats { hits: 2, misses: 2, entries: 2, bytes: 15, max_bytes: 1000, ..CacheStats::default() }
    );
    // A failed fetch stores nothing and leaves nothing in flight.
    let failed = cache.get_or_fetch("c", deadline(), || Err::<(String, usize), _>("down"), || "timeout");
    assert_eq!(failed, Err("down"));
    assert_eq!(cache.stats().misses, 3);
    assert_eq!(cache.stats().entries, 2);
    assert!(cache.lock().flights.is_empty() && cache.lock().current.is_empty());
}

#[test]
fn entries_expire_after_the_ttl() {
    let clock = FakeClock::new();
    let cache = clock.cache::<String>(Duration::from_secs(300), 1000);
    put(&cache, "a", "A1", 10);
    clock.advance(Duration::from_millis(299_999));
    assert_eq!(cache.get("a").as_deref(), Some("A1"));
    clock.advance(Duration::from_millis(1));
    // Expired: dropped on read, its bytes released, nothing counted.
    assert_eq!(cache.get("a"), None);
    assert_eq!((cache.stats().entries, cache.stats().bytes, cache.stats().hits), (0, 0, 1));
    assert_eq!(put(&cache, "a", "A2", 10), ("A2".to_owned(), false));
    assert_eq!(put(&cache, "a", "A3", 10), ("A2".to_owned(), true));
    // get_or_fetch also refetches an expired entry.
    clock.advance(Duration::from_secs(300));
    assert_eq!(put(&cache, "a", "A4", 12), ("A4".to_owned(), false));
    assert_eq!(cache.stats().bytes, 12);
}

#[test]
fn a_stamp_holds_until_an_entry_changes_or_expires() {
    let clock = FakeClock::new();
    let cache = clock.cache::<String>(Duration::from_secs(300), 1000);
    put(&cache, "a", "A1", 10);
    clock.advance(Duration::from_secs(100));
    put(&cache, "b", "B1", 10);
    let (found, stamp) = cache.get_many_stamped(["a", "b"]);
    assert_eq!(found, [Some("A1".to_owned()), Some("B1".to_owned())]);
    let hits = cache.stats().hits;
    assert!(cache.unchanged(stamp, 2));
    assert_eq!(cache.stats().hits, hits + 2);
    // "a" expires first, at 300 s.
    clock.advance(Duration::from_millis(199_999));
    assert!(cache.unchanged(stamp, 2));
    clock.advance(Duration::from_millis(1));
    assert!(!cache.unchanged(stamp, 2));
    assert_eq!(cache.stats().hits, hits + 4, "a stale stamp counts nothing");

    // A store, an invalidation (of any key) and a clear each end a stamp.
    let (_, stamp) = cache.get_many_stamped(["b"]);
    assert!(cache.unchanged(stamp, 1));
    put(&cache, "c", "C1", 10);
    assert!(!cache.unchanged(stamp, 1));
    let (_, stamp) = cache.get_many_stamped(["b"]);
    cache.invalidate("c");
    assert!(!cache.unchanged(stamp, 1));
    let (_, stamp) = cache.get_many_stamped(["b"]);
    assert!(cache.unchanged(stamp, 1));
    cache.clear();
    assert!(!cache.unchanged(stamp, 1));
    assert_eq!(cache.get_many_stamped(["b"]).0, [None]);
}

/// Fetches `value` through the cache with a TTL hint; returns (value, hit).
fn put_for(cache: &ResourceCache<String>, key: &str, value: &str, ttl: Option<Duration>) -> (String, bool) {
    let fetch = || Ok::<_, String>(Fetched { value: value.to_owned(), bytes: 10, ttl });
    cache.get_or_fetch_for(key, deadline(), fetch, || "timeout".to_owned()).unwrap()
}

#[test]
fn a_fetchs_own_ttl_wins_over_the_default() {
    let clock = FakeClock::new();
    let cache = clock.cache::<String>(Duration::from_secs(300), 1000);
    // Longer than the default: still fresh after 300 s.
    put_for(&cache, "long", "L1", Some(Duration::from_secs(600)));
    // Shorter: expired after 1 s.
    put_for(&cache, "short", "S1", Some(Duration::from_secs(1)));
    put_for(&cache, "default", "D1", None);
    let (_, stamp) = cache.get_many_stamped(["long", "short", "default"]);
    assert_eq!(stamp.fresh_until, Some(clock.base + Duration::from_secs(1)), "the shortest TTL ends the stamp");
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get("short"), None);
    assert_eq!(put_for(&cache, "short", "S2", Some(Duration::from_secs(1))), ("S2".to_owned(), false));
    clock.advance(Duration::from_secs(299));
    assert_eq!(cache.get("default"), None, "the default TTL of 300 s");
    assert_eq!(cache.get("long").as_deref(), Some("L1"));
    clock.advance(Duration::from_secs(300));
    assert_eq!(cache.get("long"), None);
    // An expiry past what an Instant holds never comes.
    put_for(&cache, "forever", "F", Some(Duration::MAX));
    clock.advance(Duration::from_secs(1_000_000));
    assert_eq!(cache.get("forever").as_deref(), Some("F"));
}

#[test]
fn a_zero_ttl_is_not_stored() {
    let clock = FakeClock::new();
    let cache = Arc::new(clock.cache::<String>(Duration::from_secs(300), 1000));
    put_for(&cache, "a", "A1", None);
    assert_eq!(cache.stats().entries, 1);
    clock.advance(Duration::from_secs(300));
    // The server now says "stale at once": the caller gets the value, nothing is kept.
    assert_eq!(put_for(&cache, "a", "A2", Some(Duration::ZERO)), ("A2".to_owned(), false));
    assert_eq!(cache.get("a"), None);
    let stats = cache.stats();
    assert_eq!((stats.not_stored, stats.entries, stats.bytes, stats.misses), (1, 0, 0, 2));
    // Every later call fetches again.
    assert_eq!(put_for(&cache, "a", "A3", Some(Duration::ZERO)), ("A3".to_owned(), false));
    assert_eq!(cache.stats().misses, 3);
    // Callers waiting for such a fetch still share its value (single flight).
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let leader = {
        let cache = Arc::clone(&cache);
        thread::spawn(move || {
            let fetch = || {
                release_rx.recv_timeout(LONG).unwrap();
                Ok::<_, String>(Fetched { value: "A4".to_owned(), bytes: 10, ttl: Some(Duration::ZERO) })
            };
            cache.get_or_fetch_for("a", deadline(), fetch, || "timeout".to_owned())
        })
    };
    wait_until("the leader's flight is recorded", || cache.lock().current.contains_key("a"));
    let waiter = {
        let cache = Arc::clone(&cache);
        thread::spawn(move || put(&cache, "a", "never fetched", 10))
    };
    wait_until("the waiter waits", || waiters(&cache, "a") == 1);
    release_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), Ok(("A4".to_owned(), false)));
    assert_eq!(waiter.join().unwrap(), ("A4".to_owned(), true));
    assert_eq!((cache.stats().not_stored, cache.stats().entries), (3, 0));
}

#[test]
fn least_recently_used_entries_are_evicted_first() {
    let cache = ResourceCache::<String>::new(Duration::from_secs(300), 100);
    put(&cache, "a", "A", 40);
    put(&cache, "b", "B", 30);
    put(&cache, "c", "C", 30);
    assert_eq!(keys_lru_first(&cache), ["a", "b", "c"]);
    // Reading `a` makes `b` the least recently used.
    assert!(cache.get("a").is_some());
    put(&cache, "d", "D", 25);
    assert_eq!(keys_lru_first(&cache), ["c", "a", "d"]);
    assert_eq!((cache.stats().evictions, cache.stats().bytes), (1, 95));
    // A big entry pushes out as many as it needs, oldest first.
    put(&cache, "e", "E", 70);
    assert_eq!(keys_lru_first(&cache), ["d", "e"]);
    assert_eq!((cache.stats().evictions, cache.stats().bytes, cache.stats().entries), (3, 95, 2));
    // Exactly the budget fits.
    put(&cache, "f", "F", 100);
    assert_eq!(keys_lru_first(&cache), ["f"]);
    assert_eq!((cache.stats().evictions, cache.stats().bytes), (5, 100));
}

#[test]
fn an_entry_larger_than_the_budget_is_not_cached() {
    let cache = ResourceCache::<String>::new(Duration::from_secs(300), 100);
    put(&cache, "small", "S", 60);
    // The caller gets its value all the same; nothing is stored or evicted.
    assert_eq!(put(&cache, "huge", "H", 101), ("H".to_owned(), false));
    assert_eq!(cache.get("huge"), None);
    let stats = cache.stats();
    assert_eq!((stats.oversized, stats.evictions, stats.entries, stats.bytes), (1, 0, 1, 60));
    // Next time it is fetched again.
    assert_eq!(put(&cache, "huge", "H2", 101), ("H2".to_owned(), false));
    assert_eq!(cache.stats().oversized, 2);
    assert_eq!((cache.stats().entries, cache.stats().bytes), (1, 60));
    // An empty budget caches only empty values.
    let none = ResourceCache::<String>::new(Duration::from_secs(300), 0);
    put(&none, "a", "A", 1);
    put(&none, "b", "", 0);
    assert_eq!((none.stats().oversized, none.stats().entries, none.stats().bytes), (1, 1, 0));
}

#[test]
fn counted_bytes_never_exceed_the_budget() {
    let clock = FakeClock::new();
    let budget = 300;
    let cache = clock.cache::<String>(Duration::from_secs(5), budget);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64: a fixed, reproducible sequence.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for step in 0..5000 {
        let key = format!("k{}", next() % 12);
        match next() % 10 {
            0 => cache.invalidate(&key),
            1 => clock.advance(Duration::from_millis(next() % 2000)),
            2 => {
                let _ = cache.get(&key);
            }
            3 if step % 500 == 0 => cache.clear(),
            _ => {
                let size = (next() % 350) as usize;
                put(&cache, &key, "v", size);
            }
        }
        let state = cache.lock();
        let counted: usize = state.entries.iter().map(|(_, e)| e.bytes).sum();
        assert_eq!(state.bytes, counted, "step {step}");
        assert!(state.bytes <= budget, "step {step}: {} > {budget}", state.bytes);
        assert_eq!((state.stats.bytes, state.stats.entries), (state.bytes, state.entries.len()));
    }
    let stats = cache.stats();
    assert!(stats.evictions > 0 && stats.oversized > 0 && stats.invalidations > 0, "{stats:?}");
}

#[test]
fn invalidate_during_a_fetch_keeps_its_result_out() {
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    let (leader, go_tx) = held_leader(&cache, "a", "stale", 10);
    cache.invalidate("a");
    assert_eq!(cache.stats().invalidations, 1);
    go_tx.send(()).unwrap();
    // The leader's caller gets its value, but the cache does not keep it.
    assert_eq!(leader.join().unwrap(), Ok(("stale".to_owned(), false)));
    assert_eq!(cache.get("a"), None);
    assert_eq!((cache.stats().entries, cache.stats().bytes), (0, 0));
    assert_eq!(put(&cache, "a", "fresh", 10), ("fresh".to_owned(), false));
    // Invalidating a key with nothing cached or in flight counts nothing; with an entry, one.
    cache.invalidate("nothing");
    assert_eq!(cache.stats().invalidations, 1);
    cache.invalidate("a");
    assert_eq!((cache.stats().invalidations, cache.stats().entries, cache.stats().bytes), (2, 0, 0));
}

#[test]
fn concurrent_misses_fetch_once() {
    const THREADS: usize = 8;
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    let fetches = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (cache, fetches, start, release_rx) =
                (Arc::clone(&cache), Arc::clone(&fetches), Arc::clone(&start), release_rx.clone());
            thread::spawn(move || {
                start.wait();
                let fetch = || {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    // Hold the fetch until every other caller is waiting for it.
                    release_rx.recv_timeout(LONG).unwrap();
                    Ok::<_, String>(("V".to_owned(), 10))
                };
                cache.get_or_fetch("cold", deadline(), fetch, || "timeout".to_owned())
            })
        })
        .collect();
    wait_until("7 callers wait for the fetch", || waiters(&cache, "cold") == THREADS - 1);
    release_tx.send(()).unwrap();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert!(results.iter().all(|(v, _)| v == "V"));
    assert_eq!(results.iter().filter(|(_, hit)| !hit).count(), 1);
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, THREADS as u64 - 1, 1));
    assert!(cache.lock().flights.is_empty());
}

#[test]
fn when_the_leader_fails_a_waiter_fetches() {
    const THREADS: usize = 8;
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    let fetches = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (cache, fetches, start, release_rx) =
                (Arc::clone(&cache), Arc::clone(&fetches), Arc::clone(&start), release_rx.clone());
            thread::spawn(move || {
                start.wait();
                let fetch = || {
                    if fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                        release_rx.recv_timeout(LONG).unwrap();
                        return Err("first fetch failed".to_owned());
                    }
                    Ok(("V".to_owned(), 10))
                };
                cache.get_or_fetch("cold", deadline(), fetch, || "timeout".to_owned())
            })
        })
        .collect();
    wait_until("7 callers wait for the first fetch", || waiters(&cache, "cold") == THREADS - 1);
    release_tx.send(()).unwrap();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results.contains(&Err("first fetch failed".to_owned())));
    assert_eq!(results.iter().filter(|r| r == &&Ok(("V".to_owned(), false))).count(), 1);
    assert_eq!(results.iter().filter(|r| r == &&Ok(("V".to_owned(), true))).count(), THREADS - 2);
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (2, THREADS as u64 - 2, 1));
    assert!(cache.lock().flights.is_empty());
}

#[test]
fn when_the_leader_panics_a_waiter_fetches() {
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
    let leader = {
        let cache = Arc::clone(&cache);
        thread::spawn(move || {
            let fetch = || -> Result<(String, usize), String> {
                release_rx.recv_timeout(LONG).unwrap();
                panic!("fetch panicked (on purpose)");
            };
            cache.get_or_fetch("a", deadline(), fetch, || "timeout".to_owned())
        })
    };
    wait_until("the leader's flight is recorded", || cache.lock().current.contains_key("a"));
    let waiter = {
        let cache = Arc::clone(&cache);
        thread::spawn(move || put(&cache, "a", "V", 10))
    };
    wait_until("the waiter waits", || waiters(&cache, "a") == 1);
    release_tx.send(()).unwrap();
    assert!(leader.join().is_err());
    assert_eq!(waiter.join().unwrap(), ("V".to_owned(), false));
    assert_eq!(cache.get("a").as_deref(), Some("V"));
}

#[test]
fn a_waiter_gives_up_at_its_deadline() {
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    let (leader, release_tx) = held_leader(&cache, "slow", "V", 10);
    let patience = Duration::from_millis(100);
    let began = Instant::now();
    let result = cache.get_or_fetch(
        "slow",
        began + patience,
        || -> Result<(String, usize), String> { panic!("a waiter must not fetch") },
        || "timed out waiting for `slow`".to_owned(),
    );
    let waited = began.elapsed();
    assert_eq!(result, Err("timed out waiting for `slow`".to_owned()));
    assert!(waited >= patience, "gave up early: {waited:?}");
    assert!(waited < patience + Duration::from_secs(5), "gave up late: {waited:?}");
    assert_eq!(waiters(&cache, "slow"), 0);
    // A deadline already past: no wait at all.
    let result = cache.get_or_fetch(
        "slow",
        Instant::now(),
        || -> Result<(String, usize), String> { panic!("a waiter must not fetch") },
        || "past".to_owned(),
    );
    assert_eq!(result, Err("past".to_owned()));
    release_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), Ok(("V".to_owned(), false)));
    assert_eq!(cache.get("slow").as_deref(), Some("V"));
    assert!(cache.lock().flights.is_empty());
}

#[test]
fn clear_drops_everything_and_keeps_fetches_in_flight_out() {
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    put(&cache, "a", "A", 10);
    put(&cache, "b", "B", 20);
    let (leader, go_tx) = held_leader(&cache, "c", "C", 30);
    cache.clear();
    go_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), Ok(("C".to_owned(), false)));
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes, stats.misses), (0, 0, 3));
    assert_eq!(cache.get("a"), None);
}

#[test]
fn a_poisoned_lock_is_recovered() {
    let cache = Arc::new(ResourceCache::<String>::new(Duration::from_secs(300), 1000));
    put(&cache, "a", "A", 10);
    {
        let cache = Arc::clone(&cache);
        let poisoner = thread::spawn(move || {
            let _guard = cache.state.lock();
            panic!("poisoning the cache's lock (on purpose)");
        });
        assert!(poisoner.join().is_err());
    }
    assert!(cache.state.is_poisoned());
    assert_eq!(cache.get("a").as_deref(), Some("A"));
    assert_eq!(put(&cache, "b", "B", 10), ("B".to_owned(), false));
    cache.invalidate("a");
    assert_eq!(cache.stats().entries, 1);
    cache.clear();
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn the_cache_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    // `V` only needs to be Send.
    assert_send_sync::<ResourceCache<std::cell::Cell<u8>>>();
    assert_send_sync::<ResourceCache<Arc<String>>>();
}
