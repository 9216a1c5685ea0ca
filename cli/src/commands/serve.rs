//! `serve`: the merged catalogue as one MCP server, on stdio or Streamable HTTP; its config
//! reloaded on change and on SIGHUP (`serve_reload.rs`).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use mcp_orchestrator::Secret;
use mcp_orchestrator::serve::{HttpOptions, Server, serve_http, serve_stdio};

use crate::Failure;
use crate::args::{Cli, ServeArgs, ServeTransport};

use super::serve_reload::Reloader;
use super::{initialize, load, login};

/// `serve`: connect, then serve until stdin ends (stdio) or the process is stopped (http).
pub fn run(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    let config = load(cli, &args.config.config)?;
    // No URL elicitation prompt: over stdio, stdin is the MCP stream, not a person; the relay
    // (installed by the server below) passes every upstream request to serve's own client.
    let o = Arc::new(login::orchestrator(config, cli.no_browser).with_handlers(mcp_orchestrator::Handlers::new()));
    // The server first: it relays the upstream servers' requests to its client, which their
    // sessions declare when they connect.
    let server = match args.defer_tools {
        Some(n) => Server::with_deferred_tools(Arc::clone(&o), n),
        None => Server::new(Arc::clone(&o)),
    };
    initialize(&o)?;
    let poll = (args.reload_poll_ms > 0).then(|| Duration::from_millis(args.reload_poll_ms));
    let reloader = Reloader::start(Arc::clone(&server), args.config.config.clone(), poll)
        .map_err(|e| Failure::Other(format!("serve: cannot watch the config for changes: {e}")))?;
    let result = match args.transport {
        ServeTransport::Stdio => {
            let stdin = std::io::stdin().lock();
            serve_stdio(server, stdin, std::io::stdout()).map_err(|e| Failure::Other(format!("serve: stdout: {e}")))
        }
        ServeTransport::Http => {
            let mut options = HttpOptions::new();
            if let Ok(token) = std::env::var(&args.token_env)
                && !token.is_empty()
            {
                options = options.bearer_token(Secret::new(token));
            }
            let listener = TcpListener::bind(args.listen)
                .map_err(|e| Failure::Other(format!("serve: cannot listen on {}: {e}", args.listen)))?;
            let http = serve_http(server, listener, options)
                .map_err(|e| Failure::Other(format!("serve: {e} (the token is read from ${})", args.token_env)))?;
            eprintln!("serving on {}", http.url());
            // Until the process is stopped (Ctrl-C, or the host ends it): then stop serving and
            // close the orchestrator (below) before exiting.
            let mut signals =
                signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
                    .map_err(|e| Failure::Other(format!("serve: cannot watch for signals: {e}")))?;
            let signal = signals.forever().next();
            log::info!("serve: signal {signal:?}: shutting down");
            http.shutdown();
            Ok(())
        }
    };
    reloader.stop();
    o.close();
    result
}
