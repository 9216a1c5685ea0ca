//! The resource cache: one entry per server, a TTL, a byte budget with least-recently-used
//! eviction, and single-flight fetching.
//!
//! TTL: every entry has its own. A fetch may say how long its value stays fresh
//! ([`Fetched::ttl`]: the server's `ttlMs` hint on the 2026-07-28 wire), which wins over the
//! cache's default; a TTL of zero means "do not store" (the value still goes to the callers
//! waiting for that fetch, and the key's old entry is dropped).
//!
//! Everything sits in one `Mutex<State>` that is held only briefly, in a block: never while a
//! fetch runs, never while logging (a logger is user code), and values that leave the cache
//! (evicted, invalidated, cleared) are dropped after it is released. A `Condvar` wakes the
//! callers waiting for a fetch in flight; they wait with a deadline.
//!
//! Single flight: the first caller that misses a key becomes its fetch's *leader* and records a
//! flight for the key; later callers for that key wait for the flight to land and take its value.
//! If the leader fails (or its fetch panics), the flight lands empty and one of the waiters
//! takes over as the new leader. [`ResourceCache::invalidate`] detaches the key's flight: its
//! result is still handed to the callers already waiting for it, but it is not stored, and new
//! callers start a fresh fetch.
//!
//! Time: the TTL is measured with the cache's clock (injectable for tests); deadlines are
//! real [`Instant`]s, because that is what a `Condvar` waits on.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;

/// The cache's counters, readable at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Fresh entries returned (including callers that waited for another caller's fetch).
    pub hits: u64,
    /// Fetches started because no fresh entry was there.
    pub misses: u64,
    /// Entries dropped to keep the cache within its byte budget.
    pub evictions: u64,
    /// Fetched values not cached because they alone were larger than the byte budget.
    pub oversized: u64,
    /// Fetched values not cached because their server said they are stale at once (the
    /// 2026-07-28 wire's cache hint `ttlMs: 0`).
    pub not_stored: u64,
    /// Invalidations that dropped an entry or stopped a fetch in flight from storing its result.
    pub invalidations: u64,
    /// Entries held now (some may have expired and not been noticed yet).
    pub entries: usize,
    /// The bytes those entries account for; never more than `max_bytes`.
    pub bytes: usize,
    /// The byte budget.
    pub max_bytes: usize,
}

/// One cached value.
struct Entry<V> {
    value: V,
    bytes: usize,
    stored_at: Instant,
    /// How long it stays fresh after `stored_at`.
    ttl: Duration,
}

impl<V> Entry<V> {
    /// When it expires; `None` when that is past what an `Instant` holds (never).
    fn expires(&self) -> Option<Instant> {
        self.stored_at.checked_add(self.ttl)
    }
}

/// What a fetch returns: the value, its size in bytes, and (optionally) how long it stays
/// fresh — `None` for the cache's default TTL, `Some(Duration::ZERO)` for "do not store".
#[derive(Debug)]
pub(crate) struct Fetched<V> {
    pub(crate) value: V,
    pub(crate) bytes: usize,
    pub(crate) ttl: Option<Duration>,
}

/// A fetch that has started and whose result some callers may still have to collect.
struct Flight<V> {
    /// Callers waiting for it (the leader is not counted).
    waiters: usize,
    /// `None` while in the air; then `Some(Some(value))`, or `Some(None)` when the fetch failed.
    outcome: Option<Option<V>>,
}

struct State<V> {
    entries: LruCache<String, Entry<V>>,
    /// Sum of the entries' `bytes`.
    bytes: usize,
    /// For each key with a fetch in flight, the id of that flight (absent once invalidated).
    current: HashMap<String, u64>,
    /// The flights still in the air or with waiters that have not collected their outcome.
    flights: HashMap<u64, Flight<V>>,
    next_flight: u64,
    stats: CacheStats,
    /// Bumped whenever the entries change: a store (or replacement), an eviction, an expired
    /// entry dropped, an invalidation, a clear. While it is unchanged, every entry is the one
    /// seen when it was read.
    generation: u64,
}

/// What [`ResourceCache::get_many_stamped`] saw: while the cache's generation is still
/// `generation` and the clock is before `fresh_until`, the same call would return the same values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) generation: u64,
    /// When the first of the entries read expires (`None`: none of them ever does).
    pub(crate) fresh_until: Option<Instant>,
}

/// A thread-safe cache of fetched values (`V` will be `Arc<ServerResources>`), keyed by name.
pub(crate) struct ResourceCache<V: Clone + Send> {
    ttl: Duration,
    max_bytes: usize,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
    state: Mutex<State<V>>,
    landed: Condvar,
}

impl<V: Clone + Send> fmt::Debug for ResourceCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceCache").field("ttl", &self.ttl).field("stats", &self.stats()).finish()
    }
}

/// What a store did, to be logged (and dropped) once the lock is released.
struct Stored<V> {
    /// Entries evicted for the budget, least recently used first.
    evicted: Vec<(String, Entry<V>)>,
    /// The key's previous entry, if any (replaced, not counted as an eviction).
    replaced: Option<Entry<V>>,
    /// The value's size, when it was too large to store.
    oversized: Option<usize>,
    /// Its TTL was zero: not stored.
    not_stored: bool,
}

impl<V: Clone + Send> ResourceCache<V> {
    /// A cache whose entries stay fresh for `ttl` and which holds at most `max_bytes`.
    pub(crate) fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self::new_with_clock(ttl, max_bytes, Instant::now)
    }

    /// As [`ResourceCache::new`], with the clock the TTL is measured with (tests use a fake one).
    /// The clock may be called with the cache's lock held: it must be cheap and lock nothing.
    pub(crate) fn new_with_clock(
        ttl: Duration,
        max_bytes: usize,
        clock: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Self {
        ResourceCache {
            ttl,
            max_bytes,
            clock: Box::new(clock),
            state: Mutex::new(State {
                entries: LruCache::unbounded(),
                bytes: 0,
                current: HashMap::new(),
                flights: HashMap::new(),
                next_flight: 0,
                stats: CacheStats { max_bytes, ..CacheStats::default() },
                generation: 0,
            }),
            landed: Condvar::new(),
        }
    }

    /// A fresh entry's value (counts a hit), or `None` (counts nothing). An expired entry is
    /// dropped on the way.
    #[cfg(test)] // the orchestrator asks for all its servers at once, with get_many
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let now = (self.clock)();
        let mut expired = None;
        let found = {
            let mut state = self.lock();
            let found = self.fresh(&mut state, key, now, &mut expired);
            if found.is_some() {
                state.stats.hits += 1;
            }
            found
        };
        drop(expired);
        found
    }

    /// [`get`](Self::get) for many keys under one lock and one clock reading: the warm path of a
    /// gather. Each fresh entry counts a hit.
    #[cfg(test)]
    pub(crate) fn get_many<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Vec<Option<V>> {
        self.get_many_stamped(keys).0
    }

    /// [`get_many`](Self::get_many), with the [`Stamp`] that lets a caller holding on to the
    /// values ask [`unchanged`](Self::unchanged) later instead of looking every key up again.
    pub(crate) fn get_many_stamped<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> (Vec<Option<V>>, Stamp) {
        let now = (self.clock)();
        let mut expired = Vec::new();
        let mut fresh_until: Option<Instant> = None;
        let (found, generation) = {
            let mut state = self.lock();
            let found: Vec<Option<V>> = keys
                .into_iter()
                .map(|key| {
                    let mut gone = None;
                    let v = self.fresh(&mut state, key, now, &mut gone);
                    if v.is_some() {
                        // An entry whose expiry is past what an `Instant` holds never expires.
                        if let Some(until) = state.entries.peek(key).and_then(Entry::expires) {
                            fresh_until = Some(fresh_until.map_or(until, |u| u.min(until)));
                        }
                    }
                    expired.extend(gone);
                    v
                })
                .collect();
            state.stats.hits += found.iter().filter(|v| v.is_some()).count() as u64;
            (found, state.generation)
        };
        drop(expired); // outside the lock
        (found, Stamp { generation, fresh_until })
    }

    /// Whether a [`get_many_stamped`](Self::get_many_stamped) that returned `stamp` would
    /// return the same values now: no entry changed since and none has expired. When so, counts
    /// `hits` hits (what the lookup would have counted). One lock and one clock reading.
    pub(crate) fn unchanged(&self, stamp: Stamp, hits: u64) -> bool {
        if stamp.fresh_until.is_some_and(|until| (self.clock)() >= until) {
            return false;
        }
        let mut state = self.lock();
        if state.generation != stamp.generation {
            return false;
        }
        state.stats.hits += hits;
        true
    }

    /// Single-flight get-or-fetch.
    ///
    /// A fresh entry is returned at once (`hit = true`). Otherwise, if no fetch for `key` is in
    /// flight, this caller runs `fetch` (holding no lock), stores the value with the byte size
    /// it returns, and returns it (`hit = false`). Callers arriving while that fetch is in
    /// flight wait for it, never past `deadline`, and get its value (counted as hits); if it
    /// fails, one of them takes over and fetches itself. A caller whose `deadline` passes while
    /// waiting returns `Err(on_timeout())`.
    #[cfg(test)] // the orchestrator fetches with the server's TTL hint: get_or_fetch_for
    pub(crate) fn get_or_fetch<E>(
        &self,
        key: &str,
        deadline: Instant,
        fetch: impl FnOnce() -> Result<(V, usize), E>,
        on_timeout: impl FnOnce() -> E,
    ) -> Result<(V, bool), E> {
        let fetch = || fetch().map(|(value, bytes)| Fetched { value, bytes, ttl: None });
        self.get_or_fetch_for(key, deadline, fetch, on_timeout)
    }

    /// [`get_or_fetch`](Self::get_or_fetch) whose fetch also says how long its value stays
    /// fresh ([`Fetched::ttl`]; zero: not stored).
    pub(crate) fn get_or_fetch_for<E>(
        &self,
        key: &str,
        deadline: Instant,
        fetch: impl FnOnce() -> Result<Fetched<V>, E>,
        on_timeout: impl FnOnce() -> E,
    ) -> Result<(V, bool), E> {
        let mut expired = None;
        let mut state = self.lock();
        loop {
            let now = (self.clock)();
            if let Some(value) = self.fresh(&mut state, key, now, &mut expired) {
                state.stats.hits += 1;
                drop(state);
                drop(expired);
                return Ok((value, true));
            }
            let Some(&id) = state.current.get(key) else {
                // Nobody is fetching: lead.
                state.stats.misses += 1;
                let id = state.next_flight;
                state.next_flight += 1;
                state.current.insert(key.to_owned(), id);
                state.flights.insert(id, Flight { waiters: 0, outcome: None });
                drop(state);
                drop(expired);
                return self.lead(key, id, fetch);
            };

            // Somebody is fetching: wait for the flight to land.
            if let Some(flight) = state.flights.get_mut(&id) {
                flight.waiters += 1;
            }
            let outcome = loop {
                match state.flights.get(&id) {
                    Some(flight) => {
                        if let Some(outcome) = &flight.outcome {
                            break Some(outcome.clone());
                        }
                    }
                    // Cannot happen (a flight with waiters stays). Were it to, forget the
                    // flight and treat it as failed, so that this caller fetches itself.
                    None => {
                        if state.current.get(key) == Some(&id) {
                            state.current.remove(key);
                        }
                        break Some(None);
                    }
                }
                let now = Instant::now();
                if now >= deadline {
                    break None;
                }
                state = self.landed.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            };
            // Leave the flight; the last one out removes a landed flight.
            if let Some(flight) = state.flights.get_mut(&id) {
                flight.waiters -= 1;
                if flight.waiters == 0 && flight.outcome.is_some() {
                    state.flights.remove(&id);
                }
            }
            match outcome {
                Some(Some(value)) => {
                    state.stats.hits += 1;
                    drop(state);
                    drop(expired);
                    return Ok((value, true));
                }
                // The leader failed: look again (an entry, another flight, or lead ourselves).
                Some(None) => continue,
                None => {
                    drop(state);
                    drop(expired);
                    return Err(on_timeout());
                }
            }
        }
    }

    /// Drops the key's entry, and keeps a fetch in flight for the key from storing its (possibly
    /// stale) result; callers already waiting for that fetch still get its value, later callers
    /// fetch again. Counts an invalidation when there was an entry or a fetch in flight.
    pub(crate) fn invalidate(&self, key: &str) {
        let dropped = {
            let mut state = self.lock();
            let dropped = state.entries.pop(key);
            if let Some(entry) = &dropped {
                state.bytes -= entry.bytes;
            }
            let detached = state.current.remove(key).is_some();
            if dropped.is_some() || detached {
                state.stats.invalidations += 1;
            }
            state.generation += 1;
            state.stats.entries = state.entries.len();
            state.stats.bytes = state.bytes;
            dropped
        };
        if dropped.is_some() {
            log::debug!("resource cache: dropped the entry of `{key}`");
        }
    }

    /// Drops every entry; fetches in flight will not store their results.
    pub(crate) fn clear(&self) {
        let entries = {
            let mut state = self.lock();
            state.current.clear();
            state.generation += 1;
            state.bytes = 0;
            state.stats.entries = 0;
            state.stats.bytes = 0;
            std::mem::replace(&mut state.entries, LruCache::unbounded())
        };
        drop(entries);
    }

    /// The counters.
    pub(crate) fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        // A panic elsewhere while holding the lock leaves the state consistent (every update
        // is a few plain assignments), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of a fresh entry (promoted to most recently used); an expired one is moved to
    /// `expired`, to be dropped by the caller after the lock is released.
    fn fresh(&self, state: &mut State<V>, key: &str, now: Instant, expired: &mut Option<Entry<V>>) -> Option<V> {
        let entry = state.entries.get(key)?;
        if now.saturating_duration_since(entry.stored_at) < entry.ttl {
            return Some(entry.value.clone());
        }
        let entry = state.entries.pop(key)?;
        state.generation += 1;
        state.bytes -= entry.bytes;
        state.stats.entries = state.entries.len();
        state.stats.bytes = state.bytes;
        *expired = Some(entry);
        None
    }

    /// Runs the fetch as the leader of flight `id`, then lands the flight.
    fn lead<E>(&self, key: &str, id: u64, fetch: impl FnOnce() -> Result<Fetched<V>, E>) -> Result<(V, bool), E> {
        // Lands the flight empty if `fetch` panics, so that waiters take over.
        let mut landing = Landing { cache: self, key, id, landed: false };
        match fetch() {
            Ok(fetched) => {
                let value = fetched.value.clone();
                landing.land(Some(fetched));
                Ok((value, false))
            }
            Err(e) => {
                landing.land(None);
                Err(e)
            }
        }
    }

    /// Lands flight `id`: stores the value if the flight is still the key's current one, hands
    /// the outcome to its waiters, wakes them.
    fn land(&self, key: &str, id: u64, outcome: Option<Fetched<V>>) {
        let now = (self.clock)();
        let stored = {
            let mut state = self.lock();
            let attached = state.current.get(key) == Some(&id);
            if attached {
                state.current.remove(key);
            }
            let waiting = state.flights.get(&id).is_some_and(|f| f.waiters > 0);
            if waiting {
                if let Some(flight) = state.flights.get_mut(&id) {
                    flight.outcome = Some(outcome.as_ref().map(|f| f.value.clone()));
                }
            } else {
                state.flights.remove(&id);
            }
            match outcome {
                Some(fetched) if attached => Some(self.store(&mut state, key, fetched, now)),
                _ => None,
            }
        };
        self.landed.notify_all();
        // Logging and dropping what left the cache happen here, without the lock.
        if let Some(stored) = stored {
            if stored.not_stored {
                log::debug!("resource cache: not storing `{key}`: its server says it is stale at once (ttlMs 0)");
            }
            if let Some(bytes) = stored.oversized {
                log::warn!(
                    "resource cache: not caching `{key}`: its {bytes} bytes exceed the whole budget of {} bytes",
                    self.max_bytes
                );
            }
            for (evicted, entry) in &stored.evicted {
                log::debug!("resource cache: evicted `{evicted}` ({} bytes) to make room for `{key}`", entry.bytes);
            }
        }
    }

    /// Stores a value, then evicts least recently used entries until the budget holds.
    fn store(&self, state: &mut State<V>, key: &str, fetched: Fetched<V>, now: Instant) -> Stored<V> {
        let Fetched { value, bytes, ttl } = fetched;
        let ttl = ttl.unwrap_or(self.ttl);
        state.generation += 1; // stored, replaced or dropped; evictions below are covered too
        let mut stored =
            Stored { evicted: Vec::new(), replaced: state.entries.pop(key), oversized: None, not_stored: false };
        if let Some(old) = &stored.replaced {
            state.bytes -= old.bytes;
        }
        if ttl.is_zero() {
            state.stats.not_stored += 1;
            stored.not_stored = true;
        } else if bytes > self.max_bytes {
            state.stats.oversized += 1;
            stored.oversized = Some(bytes);
        } else {
            state.entries.push(key.to_owned(), Entry { value, bytes, stored_at: now, ttl });
            state.bytes += bytes;
            while state.bytes > self.max_bytes {
                let Some((evicted, entry)) = state.entries.pop_lru() else { break };
                state.bytes -= entry.bytes;
                state.stats.evictions += 1;
                stored.evicted.push((evicted, entry));
            }
        }
        debug_assert!(state.bytes <= self.max_bytes);
        state.stats.entries = state.entries.len();
        state.stats.bytes = state.bytes;
        stored
    }
}

/// The leader's promise to land its flight, kept even if the fetch panics.
struct Landing<'a, V: Clone + Send> {
    cache: &'a ResourceCache<V>,
    key: &'a str,
    id: u64,
    landed: bool,
}

impl<V: Clone + Send> Landing<'_, V> {
    fn land(&mut self, outcome: Option<Fetched<V>>) {
        self.landed = true;
        self.cache.land(self.key, self.id, outcome);
    }
}

impl<V: Clone + Send> Drop for Landing<'_, V> {
    fn drop(&mut self) {
        if !self.landed {
            self.cache.land(self.key, self.id, None);
        }
    }
}

#[cfg(test)]
mod tests {
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
        cache
            .get_or_fetch(key, deadline(), || Ok::<_, String>((value.to_owned(), bytes)), || "timeout".to_owned())
            .unwrap()
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
        let cache =
            ResourceCache::<String>::new_with_clock(Duration::from_secs(10), 1000, move || *clock.lock().unwrap());
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
}
