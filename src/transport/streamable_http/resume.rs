//! Resuming a reply stream that ended before the response: a GET with `Last-Event-ID` after
//! the server's `retry` delay (bounded both ways), a bounded number of quiet times in a row,
//! within the deadline; the wait ends at once on close.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use super::Inner;
use super::request::{Sink, StreamEnd};
use crate::deadline::{Deadline, Phase};
use crate::error::{Error, Result};
use crate::op::OpId;

/// The reconnection delay when the server sent no `retry` field.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The shortest reconnection delay, whatever `retry` says (`retry: 0` would spin).
const MIN_RETRY: Duration = Duration::from_millis(100);
/// The longest reconnection delay we honour, whatever `retry` says.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How many times in a row a stream is reopened without a message before we give up.
pub(super) const MAX_RECONNECTS: u32 = 5;

impl Inner {
    /// Whether a broken reply stream can be resumed: the connection dropped (not a deadline or
    /// a limit, not our close), the server gave event ids, and the wire has resumption (the
    /// 2026-07-28 wire has none).
    pub(super) fn resumable(&self, error: &Error, end: &StreamEnd) -> bool {
        matches!(error, Error::ConnectionClosed { .. })
            && end.last_event_id.is_some()
            && !self.closing.load(Ordering::SeqCst)
            && !self.modern.load(Ordering::SeqCst)
    }

    /// A reply stream ended before the response: reopen it with `Last-Event-ID` (after the
    /// server's `retry` delay, at least [`MIN_RETRY`]), a bounded number of times, within the
    /// deadline. The wait ends at once when the session is closed.
    pub(super) fn resume(
        &self,
        mut end: StreamEnd,
        method: &str,
        op: &OpId,
        deadline: Deadline,
        sink: &Sink<'_>,
    ) -> Result<()> {
        let ctx = self.ctx(method, op);
        let mut quiet = 0;
        loop {
            let Some(last_id) = end.last_event_id.clone() else {
                return Err(ctx.closed("the server ended the reply stream before the response".into()));
            };
            if end.messages == 0 {
                quiet += 1;
            } else {
                quiet = 0;
            }
            if quiet >= MAX_RECONNECTS {
                return Err(ctx.closed(format!("the reply stream was resumed {MAX_RECONNECTS} times without messages")));
            }
            let delay = retry_delay(end.retry);
            if delay >= deadline.remaining() {
                return Err(ctx.timeout(Phase::Resuming, delay));
            }
            if self.woken.recv_timeout(delay) != Err(RecvTimeoutError::Timeout) {
                return Err(ctx.closed("the client closed the session".into()));
            }
            let remaining = deadline.remaining();
            log::debug!(
                "op={op} server={}: resuming the reply stream of `{method}` after event {last_id}",
                self.server
            );
            let response = self.open_get(&self.agent, Some(&last_id), op, deadline, false)?;
            let Some(response) = response else {
                return Err(ctx.closed("the server ended the reply stream and cannot resume it".into()));
            };
            let previous = (end.last_event_id, end.retry);
            end = self.read_stream(response.into_body().into_reader(), method, op, remaining, sink);
            end.last_event_id = end.last_event_id.or(previous.0);
            end.retry = end.retry.or(previous.1);
            if !(sink.wanted)() {
                return Ok(());
            }
            if let Some(e) = end.error.take() {
                if !self.resumable(&e, &end) {
                    return Err(e);
                }
                log::debug!("op={op} server={}: resumed stream of `{method}` broke: {e}", self.server);
            }
        }
    }
}

/// The reconnection delay for a `retry` field (or none): at least [`MIN_RETRY`], at most
/// [`MAX_RETRY`].
pub(super) fn retry_delay(retry: Option<u64>) -> Duration {
    retry.map_or(DEFAULT_RETRY, Duration::from_millis).clamp(MIN_RETRY, MAX_RETRY)
}
