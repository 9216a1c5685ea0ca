//! Logging on stderr: which level wins (flags, `RUST_LOG`, the config, the default), and the
//! cap that keeps the HTTP crates' debug records (request heads, secrets in them) unprinted.

/// Logs go to stderr. `-v`/`-q` win over `RUST_LOG`, which wins over the config's
/// `log_level`, which wins over the command's default (warnings). A level from the flags or the
/// config applies to this crate; other crates (the HTTP client) stay at warnings. Whatever the
/// settings, the HTTP crates never log above [`HTTP_CRATES_MAX`] (see [`Capped`]).
pub fn init_logging(flags: Option<log::LevelFilter>, config: Option<log::LevelFilter>) {
    let mut builder = env_logger::Builder::new();
    builder.target(env_logger::Target::Stderr).format_timestamp_millis();
    let ours = match (flags, std::env::var("RUST_LOG")) {
        (Some(level), _) => Some(level),
        (None, Ok(spec)) if !spec.trim().is_empty() => {
            builder.parse_filters(&spec);
            None
        }
        (None, _) => Some(config.unwrap_or(log::LevelFilter::Warn)),
    };
    if let Some(level) = ours {
        builder.filter_level(log::LevelFilter::Warn.min(level)).filter_module("mcp_orchestrator", level);
    }
    let logger = builder.build();
    let max = logger.filter();
    // A second init (never happens here) would fail harmlessly.
    if log::set_boxed_logger(Box::new(Capped(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// The crates (log targets' first segment) of the HTTP stack. At debug and trace they log
/// request and response heads, header values included (ureq-proto logs each request head at
/// debug), and URIs with their user info and query.
const HTTP_CRATES: &[&str] =
    &["ureq", "ureq_proto", "rustls", "rustls_pki_types", "rustls_webpki", "webpki", "http", "httparse"];

/// The most verbose level an [`HTTP_CRATES`] record may have to be printed.
const HTTP_CRATES_MAX: log::Level = log::Level::Info;

/// The logger with the HTTP crates capped at [`HTTP_CRATES_MAX`]: a secret in a header or a
/// URL (`Authorization`, `X-Api-Key`, `?api_key=`) is never printed, whatever `RUST_LOG` or
/// `-vv` ask for. A wrapper rather than an env_logger directive, because a more specific
/// directive in `RUST_LOG` (`ureq_proto::client=trace`) would win over one for the crate.
struct Capped(env_logger::Logger);

/// True for a record the cap drops.
fn too_verbose(metadata: &log::Metadata<'_>) -> bool {
    metadata.level() > HTTP_CRATES_MAX
        && HTTP_CRATES.contains(&metadata.target().split("::").next().unwrap_or_default())
}

impl log::Log for Capped {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !too_verbose(metadata) && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !too_verbose(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_crates_are_capped_at_info_and_nothing_else_is() {
        let meta = |target: &'static str, level| log::Metadata::builder().target(target).level(level).build();
        assert!(too_verbose(&meta("ureq_proto::client", log::Level::Debug)));
        assert!(too_verbose(&meta("ureq", log::Level::Trace)));
        assert!(too_verbose(&meta("rustls::client::hs", log::Level::Debug)));
        assert!(!too_verbose(&meta("ureq::pool", log::Level::Warn)));
        assert!(!too_verbose(&meta("mcp_orchestrator::transport::sse", log::Level::Trace)));
        assert!(!too_verbose(&meta("ureqx", log::Level::Trace)));
    }
}
