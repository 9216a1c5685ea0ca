//! `login`, and the person's step of OAuth for every command: [`Browser`] opens the
//! authorization URL in the browser (or prints it), listens on the loopback redirect port of the
//! server's `auth` block for the one redirect, and answers the browser with a short page.
//!
//! `login` runs the authorization code flow ahead of time for every server with an `auth` block
//! of `type: oauth` (or those named with `--server`), and keeps the tokens in each block's
//! `token_file`, where later commands find them. The other commands use the same [`Browser`] when
//! a server asks for a token and none is held.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_orchestrator::{AuthConfig, AuthorizationHandler, AuthorizationRequest, Authorizer, Config, Orchestrator};

use crate::Failure;
use crate::args::{Cli, LoginArgs};

use super::load;

/// How long `login` waits for the person by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest request head the redirect listener reads.
const MAX_HEAD: usize = 16 * 1024;

/// How long one connection to the redirect listener may take to send its request.
const READ_BOUND: Duration = Duration::from_secs(5);

/// How often the listener looks for a connection while it waits for the redirect.
const POLL: Duration = Duration::from_millis(20);

/// The person's step: the browser (unless `no_browser`), the URL on stderr, the loopback
/// listener.
#[derive(Clone, Copy, Debug, Default)]
pub struct Browser {
    /// Print the URL only; never start a browser.
    pub no_browser: bool,
}

impl AuthorizationHandler for Browser {
    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<String, String> {
        let (port, path) = loopback(request.redirect_uri)?;
        // Listen first: an authorization server that redirects at once must find us.
        let listener = listen(port, request.deadline)?;
        // Only the redirect of this authorization (its `state`) is taken: another request to
        // the path, a stray tab or another local program, is refused and the wait goes on.
        let state = param(request.url, "state");
        let server = request.server;
        let left = request.deadline.saturating_duration_since(Instant::now()).as_secs();
        let opener = if self.no_browser { Err(()) } else { open_browser(request.url, request.deadline) };
        if opener.is_ok() {
            eprintln!("Authorize server `{server}` in the browser that opened (waiting {left} s). If none did, open:");
        } else {
            eprintln!("To authorize server `{server}`, open this URL in a browser (waiting {left} s):");
        }
        eprintln!("{}", request.url);
        let redirect = wait_for_redirect(&listener, port, &path, state.as_deref(), request.deadline);
        if let Ok(Some(mut child)) = opener {
            // Reap an opener that has finished meanwhile; one still running (it may own the
            // browser) is left to the command's exit.
            let _ = child.try_wait();
        }
        let redirect = redirect?;
        eprintln!("Server `{server}`: the browser came back; finishing the authorization.");
        Ok(redirect)
    }
}

/// Listens on `127.0.0.1:port`. A port in use is tried again until the deadline: servers
/// connected in parallel share the redirect port, and each waits for the other's flow to end.
fn listen(port: u16, deadline: Instant) -> Result<TcpListener, String> {
    let mut said = false;
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => {
                listener.set_nonblocking(true).map_err(|e| format!("cannot listen for the redirect: {e}"))?;
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                if !said {
                    eprintln!("(waiting for 127.0.0.1:{port}, in use by another authorization)");
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())));
            }
            Err(e) => return Err(format!("cannot listen on 127.0.0.1:{port} for the redirect ({e})")),
        }
    }
}

/// The decoded value of the query parameter `name` of `url` (the `state`: each side may
/// percent-encode it differently).
fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split('#').next()?.split_once('?')?.1;
    query.split('&').find_map(|p| p.strip_prefix(name)?.strip_prefix('=')).map(percent_decode)
}

/// `%XX` and `+` decoded (a malformed escape stays as it is).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The port and path of a loopback redirect URI `http://127.0.0.1:<port>/<path>`.
fn loopback(redirect_uri: &str) -> Result<(u16, String), String> {
    let rest = redirect_uri
        .strip_prefix("http://127.0.0.1:")
        .ok_or_else(|| format!("the redirect URI {redirect_uri} is not on http://127.0.0.1"))?;
    let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port = port.parse().map_err(|_| format!("the redirect URI {redirect_uri} has no valid port"))?;
    Ok((port, format!("/{path}")))
}

/// Starts the system's URL opener (`xdg-open`, `open`) with the URL as its one argument (no
/// shell). `Err` when it cannot be started or fails at once (no display, say); else the child
/// when it still runs after a second (reaped later if it can be), `None` when it has been
/// reaped.
pub(super) fn open_browser(url: &str, deadline: Instant) -> Result<Option<std::process::Child>, ()> {
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        Command::new("xdg-open")
    };
    let Ok(mut child) = command.arg(url).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
    else {
        return Err(());
    };
    // The opener hands the URL over and exits; one that fails does so at once. One still running
    // after a second is taken to work, and is left to finish (the command exits soon anyway).
    let until = deadline.min(Instant::now() + Duration::from_secs(1));
    while Instant::now() < until {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(None),
            Ok(Some(_)) | Err(_) => return Err(()),
            Ok(None) => std::thread::sleep(POLL),
        }
    }
    Ok(Some(child))
}

/// Waits (until `deadline`) for `GET <path>?…` with our `state` on the listener; answers
/// another path 404, another state 400, and goes on waiting. Returns the full redirect URL.
fn wait_for_redirect(
    listener: &TcpListener,
    port: u16,
    path: &str,
    state: Option<&str>,
    deadline: Instant,
) -> Result<String, String> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("no redirect to http://127.0.0.1:{port}{path} came before the deadline"));
        }
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL.min(deadline - now));
                continue;
            }
            Err(e) => return Err(format!("the redirect listener failed: {e}")),
        };
        let Some(target) = read_target(&mut stream, deadline) else { continue };
        let target_path = target.split(['?', '#']).next().unwrap_or("");
        if target_path != path {
            respond(&mut stream, 404, "Not found", "This is not the authorization redirect.");
            continue;
        }
        if state.is_some() && param(&target, "state").as_deref() != state {
            respond(&mut stream, 400, "Bad request", "This is not the redirect of this authorization.");
            continue;
        }
        let query = target.split_once('?').map_or("", |(_, q)| q);
        if query.split('&').any(|p| p.starts_with("error=")) {
            respond(&mut stream, 200, "Authorization refused", "You can close this tab.");
        } else {
            respond(&mut stream, 200, "Authorization complete", "You can close this tab and return to the terminal.");
        }
        return Ok(format!("http://127.0.0.1:{port}{target}"));
    }
}

/// The target of a `GET` request, read within [`READ_BOUND`] (and the deadline); `None` for
/// anything else (answered 400 or 405 when possible).
fn read_target(stream: &mut TcpStream, deadline: Instant) -> Option<String> {
    let bound = deadline.saturating_duration_since(Instant::now()).min(READ_BOUND).max(Duration::from_millis(1));
    stream.set_nonblocking(false).ok()?;
    let until = Instant::now() + bound;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD || Instant::now() >= until {
            respond(stream, 400, "Bad request", "The request is too large or too slow.");
            return None;
        }
        // Each read waits no longer than what is left of the bound.
        stream
            .set_read_timeout(Some(until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .ok()?;
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next()?.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        respond(stream, 405, "Method not allowed", "Only the browser's redirect is expected here.");
        return None;
    }
    Some(target.to_string())
}

/// A short HTML page.
fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p><p>mcp-orchestrator</p></body></html>\n"
    );
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.set_write_timeout(Some(READ_BOUND));
    let _ = stream.write_all(reply.as_bytes());
}

/// The orchestrator the commands use: the person's step is [`Browser`]; a URL elicitation is
/// asked with [`UrlPrompt`](super::elicit::UrlPrompt).
///
/// A command runs once and exits: it opens no change-notification stream
/// (`listen_for_changes: false`), whatever the config says; nothing would be there to hear it.
pub fn orchestrator(mut config: Config, no_browser: bool) -> Orchestrator {
    config.orchestration.listen_for_changes = false;
    // A server's URL elicitation: shown with the server's name, opened only if the person says so.
    let handlers = mcp_orchestrator::Handlers::new().url_elicitation(super::elicit::UrlPrompt { no_browser });
    Orchestrator::new(config).with_handlers(handlers).with_authorization_handler(Arc::new(Browser { no_browser }))
}

/// `login`: loads the config, then [`log_in`] with `--timeout` (default
/// [`DEFAULT_LOGIN_TIMEOUT`]).
pub fn run(cli: &Cli, args: &LoginArgs) -> Result<(), Failure> {
    let config = load(cli, &args.config.config)?;
    let timeout = args.timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT);
    log_in(&config, &args.servers, timeout, cli.no_browser)
}

/// Authorizes every server with an `auth` block of `type: oauth` (or those in `only`), one
/// after the other, each within `timeout`. Exit 0 all logged in, 1 none, 3 some.
fn log_in(config: &Config, only: &[String], timeout: Duration, no_browser: bool) -> Result<(), Failure> {
    let known: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
    if let Some(unknown) = only.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(Failure::Usage(format!(
            "--server {unknown}: the config has no server named `{unknown}` (it has: {})",
            known.join(", ")
        )));
    }
    let oauth = |s: &&mcp_orchestrator::ServerConfig| matches!(s.auth, Some(AuthConfig::OAuth(_)));
    if let Some(s) = config.servers.iter().find(|s| only.contains(&s.name) && !oauth(s)) {
        return Err(Failure::Usage(format!(
            "--server {}: the server has no `auth` block of `type: oauth`: there is nothing to log in to",
            s.name
        )));
    }
    let targets: Vec<&mcp_orchestrator::ServerConfig> = config
        .servers
        .iter()
        .filter(oauth)
        .filter(|s| if only.is_empty() { s.enabled } else { only.contains(&s.name) })
        .collect();
    if targets.is_empty() {
        return Err(Failure::Usage("no enabled server in the config has an `auth` block of `type: oauth`".into()));
    }
    let handler = Arc::new(Browser { no_browser });
    let mut failed = Vec::new();
    for server in &targets {
        let (Some(AuthConfig::OAuth(auth)), Some(url)) = (&server.auth, url(server)) else { continue };
        if auth.token_file.is_none() {
            eprintln!(
                "note: server `{}` has no `auth.token_file`: the token is kept only for this command",
                server.name
            );
        }
        let authorizer =
            Authorizer::new(&server.name, url, AuthConfig::OAuth(auth.clone())).with_handler(handler.clone());
        match authorizer.login(timeout) {
            Ok(()) => match &auth.token_file {
                Some(file) => say!("{}: logged in (tokens in {})", server.name, file.display()),
                None => say!("{}: logged in", server.name),
            },
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((server.name.clone(), e));
            }
        }
    }
    match failed.len() {
        0 => Ok(()),
        n if n == targets.len() => {
            let (_, first) = failed.remove(0);
            if n == 1 {
                Err(Failure::Op(first))
            } else {
                Err(Failure::Other(format!("no server could be logged in to ({n} failed)")))
            }
        }
        n => {
            let names: Vec<&str> = failed.iter().map(|(name, _)| name.as_str()).collect();
            Err(Failure::Partial(format!("{n} of {} server(s) not logged in ({})", targets.len(), names.join(", "))))
        }
    }
}

/// The URL of an HTTP server.
fn url(server: &mcp_orchestrator::ServerConfig) -> Option<&str> {
    use mcp_orchestrator::Transport;
    match &server.transport {
        Transport::Sse { url } | Transport::StreamableHttp { url } | Transport::Http { url } => Some(url),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uri_gives_the_port_and_path() {
        assert_eq!(loopback("http://127.0.0.1:33418/callback"), Ok((33418, "/callback".to_string())));
        assert_eq!(loopback("http://127.0.0.1:80"), Ok((80, "/".to_string())));
        assert!(loopback("https://example.com/callback").is_err());
        assert!(loopback("http://127.0.0.1:x/callback").is_err());
    }

    /// Sends `request` to the listener and returns the status of its answer (0: none).
    fn send(port: u16, request: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = stream.write_all(request);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn the_listener_takes_only_the_redirect_with_our_state_and_survives_junk() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let browser = std::thread::Builder::new()
            .name("test-browser".into())
            .spawn(move || {
                [
                    send(port, b"\xff\xfe garbage without an end"),
                    send(port, b"\r\n\r\n"),
                    send(port, format!("GET /callback?x={} HTTP/1.1\r\n", "a".repeat(40_000)).as_bytes()),
                    send(port, b"POST /callback?code=c&state=ours HTTP/1.1\r\n\r\n"),
                    send(port, b"GET /favicon.ico HTTP/1.1\r\n\r\n"),
                    send(port, b"GET /callback?code=forged HTTP/1.1\r\n\r\n"),
                    send(port, b"GET /callback?code=forged&state=theirs HTTP/1.1\r\n\r\n"),
                    send(port, b"GET /callback?code=c&state=ours HTTP/1.1\r\n\r\n"),
                ]
            })
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let got = wait_for_redirect(&listener, port, "/callback", Some("ours"), deadline);
        let statuses = browser.join().unwrap();
        assert_eq!(got, Ok(format!("http://127.0.0.1:{port}/callback?code=c&state=ours")));
        // The oversized head is answered 400, but the connection is dropped with bytes unread,
        // so the reset may overtake the answer on the client's side: 0 is fine there too.
        assert!(matches!(statuses[2], 400 | 0), "{statuses:?}");
        assert_eq!([statuses[0], statuses[1]], [0, 0], "no answer to junk");
        assert_eq!(statuses[3..], [405, 404, 400, 400, 200]);
        assert_eq!(param("http://a/b?state=s1&x=1#f", "state").as_deref(), Some("s1"));
        assert_eq!(param("http://a/b?states=s1", "state"), None);
        assert_eq!(param("http://a/b?state=a%2Db_c%2", "state").as_deref(), Some("a-b_c%2"));
    }
}
