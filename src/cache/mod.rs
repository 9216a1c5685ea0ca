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
mod tests;
