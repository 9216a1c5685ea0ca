//! TEMP stub
#![allow(dead_code, missing_docs, clippy::all)]
use std::time::{Duration, Instant};
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub oversized: u64,
    pub invalidations: u64,
    pub entries: usize,
    pub bytes: usize,
    pub max_bytes: usize,
}
pub(crate) struct ResourceCache<V>(std::marker::PhantomData<V>);
impl<V: Clone + Send> ResourceCache<V> {
    pub(crate) fn new(_t: Duration, _m: usize) -> Self {
        ResourceCache(Default::default())
    }
    pub(crate) fn get(&self, _k: &str) -> Option<V> {
        None
    }
    pub(crate) fn get_or_fetch<E>(
        &self,
        _k: &str,
        _d: Instant,
        fetch: impl FnOnce() -> Result<(V, usize), E>,
        _t: impl FnOnce() -> E,
    ) -> Result<(V, bool), E> {
        fetch().map(|(v, _)| (v, false))
    }
    pub(crate) fn invalidate(&self, _k: &str) {}
    pub(crate) fn clear(&self) {}
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats::default()
    }
}
