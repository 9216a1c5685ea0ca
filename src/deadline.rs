//! [`Deadline`]: a point in time every blocking wait is bounded by, and [`Phase`]: what was
//! being waited for when one passed.
//!
//! A deadline saturates: a timeout from a config may be anything up to `Duration::MAX` (a
//! `timeout: 1e19` is legal YAML), and `Instant + Duration` panics on overflow, in our code or
//! inside the HTTP library. So no config `Duration` is ever added to an `Instant` directly: it
//! becomes a `Deadline`, and what reaches ureq is [`Deadline::for_ureq`], finite and bounded.

use std::fmt;
use std::time::{Duration, Instant};

/// The farthest a deadline lies in the future: a century is "never" for a request.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The longest timeout handed to the HTTP library for one request (it adds it to `now`).
const UREQ_CAP: Duration = Duration::from_secs(365 * 24 * 3600);

/// A saturating point in time: built from any `Duration`, never panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline(Instant);

impl Deadline {
    /// `now + timeout`, saturating at a century from now.
    pub(crate) fn after(timeout: Duration) -> Deadline {
        let now = Instant::now();
        Deadline(now.checked_add(timeout.min(FAR)).unwrap_or(now))
    }

    /// The deadline at `instant` (a caller's deadline, already an instant).
    pub(crate) fn at(instant: Instant) -> Deadline {
        Deadline(instant)
    }

    /// The instant, for `recv_deadline` and the like.
    pub(crate) fn instant(self) -> Instant {
        self.0
    }

    /// Time left; zero once past.
    pub(crate) fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether it has passed.
    pub(crate) fn is_past(self) -> bool {
        self.remaining().is_zero()
    }

    /// The time left as a timeout for the HTTP library: finite and at most a year, so ureq's
    /// own `Instant + Duration` cannot overflow.
    pub(crate) fn for_ureq(self) -> Duration {
        self.remaining().min(UREQ_CAP)
    }

    /// The earlier of this deadline and `now + bound` (a short wait inside a longer call).
    pub(crate) fn within(self, bound: Duration) -> Deadline {
        self.min(Deadline::after(bound))
    }
}

/// What was being waited for when a deadline passed ([`Error::Timeout`](crate::Error::Timeout)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Looking up the server's host name.
    Resolving,
    /// Opening the TCP (and TLS) connection.
    Connecting,
    /// Sending the HTTP request or its body.
    SendingRequest,
    /// Waiting for the HTTP response's status and headers.
    ResponseHeaders,
    /// Reading the body of a reply.
    ReadingReply,
    /// Opening an event stream.
    OpeningStream,
    /// Waiting for the SSE `endpoint` event.
    NoEndpoint,
    /// Waiting for the response to a request.
    NoResponse,
    /// The deadline had passed before the request was sent.
    BeforeSending,
    /// Waiting to resume a reply stream (`Last-Event-ID`).
    Resuming,
    /// Waiting for another request to renew an expired session.
    SessionRenewal,
    /// Answering the server's own requests (e.g. `ping`) that came with a reply.
    ServerRequests,
    /// A stdio server process not reading its input.
    StdinBlocked,
    /// Waiting for a concurrent `initialize` of the orchestrator.
    ConcurrentInitialize,
    /// Waiting for a connect job of the pool.
    ConnectJob,
    /// Waiting for a concurrent gather of the same server.
    ConcurrentGather,
    /// Waiting for a gather job of the pool.
    NoResult,
    /// Waiting for a dead session to be re-established (by this call or a concurrent one),
    /// or for the back-off before the next attempt.
    Reconnect,
}

impl Phase {
    /// The phase as it reads in messages, e.g. `no endpoint event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving the host",
            Phase::Connecting => "connecting",
            Phase::SendingRequest => "sending the request",
            Phase::ResponseHeaders => "waiting for the response headers",
            Phase::ReadingReply => "reading the reply",
            Phase::OpeningStream => "opening the event stream",
            Phase::NoEndpoint => "no endpoint event",
            Phase::NoResponse => "no response",
            Phase::BeforeSending => "deadline passed before sending",
            Phase::Resuming => "waiting to resume the reply stream",
            Phase::SessionRenewal => "waiting for the session to be renewed",
            Phase::ServerRequests => "answering the server's requests",
            Phase::StdinBlocked => "the server process is not reading its input",
            Phase::ConcurrentInitialize => "waiting for a concurrent initialize",
            Phase::ConnectJob => "no result from the connect job",
            Phase::ConcurrentGather => "waiting for a concurrent gather of the same server",
            Phase::NoResult => "no result",
            Phase::Reconnect => "waiting for the session to be re-established",
        }
    }

    /// The phase of a ureq timeout; `body` is the phase of a timeout while reading a body.
    pub(crate) fn of_ureq(t: ureq::Timeout, body: Phase) -> Phase {
        match t {
            ureq::Timeout::Resolve => Phase::Resolving,
            ureq::Timeout::Connect => Phase::Connecting,
            ureq::Timeout::SendRequest | ureq::Timeout::SendBody | ureq::Timeout::Await100 => Phase::SendingRequest,
            ureq::Timeout::RecvResponse => Phase::ResponseHeaders,
            _ => body,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Phase {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_duration_saturates() {
        for d in [Duration::MAX, Duration::from_secs_f64(1e19), FAR * 2, Duration::ZERO] {
            let deadline = Deadline::after(d);
            assert!(deadline.remaining() <= FAR);
            assert!(deadline.for_ureq() <= UREQ_CAP);
            // What ureq does with it must not overflow either.
            let _ = Instant::now() + deadline.for_ureq();
        }
        assert!(Deadline::after(Duration::ZERO).is_past());
        assert!(!Deadline::after(Duration::MAX).is_past());
        let short = Deadline::after(Duration::MAX).within(Duration::from_millis(10));
        assert!(short.remaining() <= Duration::from_millis(10));
    }

    #[test]
    fn phases_read_as_before() {
        assert_eq!(Phase::NoEndpoint.to_string(), "no endpoint event");
        assert_eq!(Phase::NoResponse, "no response");
        assert_eq!(Phase::of_ureq(ureq::Timeout::RecvResponse, Phase::ReadingReply), Phase::ResponseHeaders);
        assert_eq!(Phase::of_ureq(ureq::Timeout::RecvBody, Phase::ReadingReply), Phase::ReadingReply);
    }
}
