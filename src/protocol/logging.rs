//! Server log messages: the MCP logging levels (RFC 5424's eight), the `log_level` a config
//! asks of a server, and the `log` facade level a server's `notifications/message` is logged at
//! (the router logs them: `transport/mod.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `_meta` key of a request's log level on the 2026-07-28 wire.
pub(crate) const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// An MCP logging level, least severe first (`debug` … `emergency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LoggingLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
    /// `error`
    Error,
    /// `critical`
    Critical,
    /// `alert`
    Alert,
    /// `emergency`
    Emergency,
}

impl LoggingLevel {
    /// Every level, least severe first.
    pub const ALL: [LoggingLevel; 8] = [
        LoggingLevel::Debug,
        LoggingLevel::Info,
        LoggingLevel::Notice,
        LoggingLevel::Warning,
        LoggingLevel::Error,
        LoggingLevel::Critical,
        LoggingLevel::Alert,
        LoggingLevel::Emergency,
    ];

    /// Its wire name (`debug`, …, `emergency`).
    pub fn as_str(self) -> &'static str {
        match self {
            LoggingLevel::Debug => "debug",
            LoggingLevel::Info => "info",
            LoggingLevel::Notice => "notice",
            LoggingLevel::Warning => "warning",
            LoggingLevel::Error => "error",
            LoggingLevel::Critical => "critical",
            LoggingLevel::Alert => "alert",
            LoggingLevel::Emergency => "emergency",
        }
    }

    /// The level a wire name (in any case) names.
    pub fn parse(text: &str) -> Option<LoggingLevel> {
        LoggingLevel::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(text))
    }

    /// The `log` facade level a server's message of this level is logged at: `debug`, `info`
    /// and `notice` at info, `warning` at warn, the rest at error.
    pub fn log_level(self) -> log::Level {
        match self {
            LoggingLevel::Debug | LoggingLevel::Info | LoggingLevel::Notice => log::Level::Info,
            LoggingLevel::Warning => log::Level::Warn,
            _ => log::Level::Error,
        }
    }
}

impl fmt::Display for LoggingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_map_to_the_facade() {
        assert_eq!(LoggingLevel::parse("WARNING"), Some(LoggingLevel::Warning));
        assert_eq!(LoggingLevel::parse("warn"), None);
        let facade: Vec<log::Level> = LoggingLevel::ALL.iter().map(|l| l.log_level()).collect();
        use log::Level::{Error, Info, Warn};
        assert_eq!(facade, [Info, Info, Info, Warn, Error, Error, Error, Error]);
        assert_eq!(serde_json::to_value(LoggingLevel::Critical).unwrap(), "critical");
    }
}
