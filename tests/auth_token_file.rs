//! One token file shared by several processes, against the test authorization server, whose
//! refresh tokens rotate (each refresh revokes the refresh token it used, and refuses it if it
//! comes again): a refresh happens once per expiry, under the file's lock, and whoever comes
//! second reads the renewed token from the file instead of spending a revoked refresh token.
//! Two real processes (this test executable, run again as a child) race on one expiring token;
//! two authorizers of one process, each with its own memory, are the same for the file.

#![cfg(feature = "testing")]

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mcp_orchestrator::testing::AuthServer;
use mcp_orchestrator::{AuthConfig, Authorizer, ImmediateRedirect, OAuthConfig, Secret};

const T: Duration = Duration::from_secs(10);

/// The child's settings: the MCP URL and the token file.
const CHILD_URL: &str = "MCP_TOKEN_FILE_CHILD_URL";
const CHILD_FILE: &str = "MCP_TOKEN_FILE_CHILD_FILE";

/// A scratch directory, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mcp-token-file-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An authorizer of the guarded server at `url` with `file` as its token file; `person` gives
/// it the person's step (without it, it can never authorize anew: only refresh).
fn authorizer(url: &str, file: &Path, person: bool) -> Authorizer {
    let auth = Authorizer::new("guarded", url, AuthConfig::OAuth(OAuthConfig::new().token_file(file)));
    if person { auth.with_handler(Arc::new(ImmediateRedirect)) } else { auth }
}

/// One JSON-RPC request to `url` the way a transport sends it; the status of the last answer.
fn call(auth: &Authorizer, url: &str) -> mcp_orchestrator::Result<u16> {
    let mut status = 0;
    for _ in 0..3 {
        let header = auth.authorization(T)?;
        let (code, www) = post(url, header.as_ref());
        status = code;
        if status != 401 && status != 403 {
            return Ok(status);
        }
        auth.challenged(status, www.as_deref(), header.as_ref(), T)?;
    }
    Ok(status)
}

/// POSTs a request to `url` with this `Authorization` header: the status and `WWW-Authenticate`.
fn post(url: &str, header: Option<&Secret>) -> (u16, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut request = agent.post(url).header("content-type", "application/json");
    if let Some(h) = header {
        request = request.header("authorization", h.expose());
    }
    let response = request.send(r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#).expect("the test server answers");
    let www = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    (response.status().as_u16(), www)
}

/// The refresh tokens presented to `/token`, in order.
fn refreshes(server: &AuthServer) -> Vec<String> {
    server
        .requests_to("/token")
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .map(|r| r.param("refresh_token").unwrap_or_default().to_string())
        .collect()
}

/// Locks the token file's lock, `<file>.lock`, as another process would, until dropped.
fn hold_lock(file: &Path) -> std::fs::File {
    let mut name = file.as_os_str().to_owned();
    name.push(".lock");
    let lock = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(name).unwrap();
    lock.lock().unwrap();
    lock
}

fn header(auth: &Authorizer) -> String {
    auth.authorization(T).unwrap().expect("a token is held").expose().to_string()
}

/// Run by [`two_processes_racing_on_one_expiring_token_refresh_it_once`] as each of its two
/// child processes (and a no-op without the settings): loads the token file, says `ready`,
/// then for each `go` on stdin sends a request (refreshing as needed, never authorizing anew:
/// it has no person's step) and prints the token it then holds.
#[test]
#[ignore = "run by two_processes_racing_on_one_expiring_token_refresh_it_once as a child process"]
fn token_file_child() {
    let (Ok(url), Ok(file)) = (std::env::var(CHILD_URL), std::env::var(CHILD_FILE)) else { return };
    let auth = authorizer(&url, Path::new(&file), false);
    assert!(auth.authorization(T).unwrap().is_some(), "the token file holds a token");
    println!("child: ready");
    for line in std::io::stdin().lines() {
        if line.unwrap() != "go" {
            break;
        }
        assert_eq!(call(&auth, &url).unwrap(), 200);
        println!("child: token {}", header(&auth));
    }
}

/// A child process; killed (by its own handle) if the test fails before it ends.
struct Racer {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Racer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a child printed: (child, a `child: …` line without the prefix, or `None` at the end of
/// its output), and its other output for the failure message.
type Said = (usize, Option<String>);

fn spawn(n: usize, url: &str, file: &Path, said: Sender<Said>, rest: Sender<String>) -> Racer {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "token_file_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_URL, url)
        .env(CHILD_FILE, file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let more = rest.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The harness may print its `test … ...` on the same line: the marker is anywhere.
            match line.split_once("child: ") {
                Some((_, said_)) => drop(said.send((n, Some(said_.to_string())))),
                None => drop(more.send(format!("child {n}: {line}"))),
            }
        }
        let _ = said.send((n, None));
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = rest.send(format!("child {n} stderr: {line}"));
        }
    });
    Racer { stdin: child.stdin.take(), child }
}

/// The next line each child says, within the test's deadline.
fn both_say(said: &Receiver<Said>, rest: &Receiver<String>, what: &str) -> [String; 2] {
    let deadline = Instant::now() + T;
    let mut got: [Option<String>; 2] = [None, None];
    while got.iter().any(Option::is_none) {
        match said.recv_deadline(deadline) {
            Ok((n, Some(line))) if got[n].is_none() => got[n] = Some(line),
            Ok((n, line)) => {
                let output: Vec<String> = rest.try_iter().collect();
                panic!("child {n} said {line:?} while waiting for {what}:\n{}", output.join("\n"));
            }
            Err(_) => {
                let output: Vec<String> = rest.try_iter().collect();
                panic!("not within {T:?}: {what}:\n{}", output.join("\n"));
            }
        }
    }
    got.map(Option::unwrap_or_default)
}

#[test]
fn two_processes_racing_on_one_expiring_token_refresh_it_once() {
    let server = AuthServer::builder().start().unwrap();
    let dir = Scratch::new("race");
    let file = dir.0.join("tokens.json");
    let url = server.mcp_url();
    // A person authorizes once; the token file holds the pair both processes start from.
    let first = authorizer(&url, &file, true);
    assert_eq!(call(&first, &url).unwrap(), 200);
    let (said_tx, said) = crossbeam_channel::unbounded();
    let (rest_tx, rest) = crossbeam_channel::unbounded();
    let mut racers = [0, 1].map(|n| spawn(n, &url, &file, said_tx.clone(), rest_tx.clone()));
    assert_eq!(both_say(&said, &rest, "both children loaded the token"), ["ready", "ready"]);
    const ROUNDS: usize = 3;
    let mut last = String::new();
    for round in 1..=ROUNDS {
        // The token both hold expires; both are told to go at once, and race to refresh it.
        server.revoke_access_tokens();
        for racer in &mut racers {
            writeln!(racer.stdin.as_mut().unwrap(), "go").unwrap();
        }
        let [a, b] = both_say(&said, &rest, &format!("round {round}: both children got an answer"));
        let (a, b) = (a.strip_prefix("token ").unwrap_or(&a), b.strip_prefix("token ").unwrap_or(&b));
        assert_eq!(a, b, "round {round}: both processes end with the same token");
        assert_ne!(a, last, "round {round}: a new token");
        assert_eq!(post(&url, Some(&Secret::new(a))).0, 200, "round {round}: the token works");
        last = a.to_string();
    }
    for racer in &mut racers {
        racer.stdin = None; // end of input: the child's test ends
    }
    let deadline = Instant::now() + T;
    let mut ended = 0;
    while ended < 2 {
        match said.recv_deadline(deadline) {
            Ok((_, None)) => ended += 1,
            other => panic!("{other:?} instead of the children's end: {:?}", rest.try_iter().collect::<Vec<_>>()),
        }
    }
    for racer in &mut racers {
        let status = racer.child.wait().unwrap();
        assert!(status.success(), "{status}: {:?}", rest.try_iter().collect::<Vec<_>>());
    }
    // One refresh per rotation, each with the newest refresh token; none reused, no new
    // authorization.
    let presented = refreshes(&server);
    assert_eq!(presented.len(), ROUNDS, "one refresh per expiry: {presented:?}");
    assert_eq!(presented.iter().collect::<BTreeSet<_>>().len(), ROUNDS, "each refresh token used once");
    assert_eq!(server.refresh_reuses(), 0, "no revoked refresh token presented");
    assert_eq!(server.requests_to("/authorize").len(), 1);
    // The file holds the newest pair: a new process starts with that token, and its refresh
    // token is the live one.
    let later = authorizer(&url, &file, false);
    assert_eq!(header(&later), last);
    server.revoke_access_tokens();
    assert_eq!(call(&later, &url).unwrap(), 200);
    assert_eq!((refreshes(&server).len(), server.refresh_reuses()), (ROUNDS + 1, 0));
}

#[test]
fn a_token_another_process_renewed_is_read_from_the_file_before_refreshing() {
    let server = AuthServer::builder().start().unwrap();
    let other = AuthServer::builder().start().unwrap();
    let dir = Scratch::new("reread");
    let file = dir.0.join("tokens.json");
    let url = server.mcp_url();
    // A's token is issued already expired; B (another process: its own memory) loads it too.
    server.set_token_lifetime(0);
    let a = authorizer(&url, &file, true);
    a.login(T).unwrap();
    server.set_token_lifetime(3600);
    let b = authorizer(&url, &file, false);
    // B's request is refused; B refreshes (the file still holds the expired pair).
    assert_eq!(call(&b, &url).unwrap(), 200);
    assert_eq!(refreshes(&server).len(), 1);
    // Meanwhile the same file gets the tokens of another server, from a third authorizer.
    let c = authorizer(&other.mcp_url(), &file, true);
    assert_eq!(call(&c, &other.mcp_url()).unwrap(), 200);
    // A's token is due for a refresh: before refreshing, A reads the file and finds B's. Reading
    // needs no lock: another process holding it (refreshing something) does not hold A up.
    let held = hold_lock(&file);
    assert_eq!(header(&a), header(&b));
    assert_eq!(call(&a, &url).unwrap(), 200);
    assert_eq!(refreshes(&server).len(), 1, "A did not refresh");
    drop(held);
    // After a 401: A refreshes; B, refused with the token it holds, reads A's from the file
    // (again without the lock).
    server.revoke_access_tokens();
    assert_eq!(call(&a, &url).unwrap(), 200);
    let held = hold_lock(&file);
    assert_eq!(call(&b, &url).unwrap(), 200);
    drop(held);
    assert_eq!(header(&a), header(&b));
    assert_eq!((refreshes(&server).len(), server.refresh_reuses()), (2, 0));
    assert_eq!(server.requests_to("/authorize").len(), 1);
    // The other server's tokens were kept through A's and B's writes.
    let later = authorizer(&other.mcp_url(), &file, false);
    assert_eq!(call(&later, &other.mcp_url()).unwrap(), 200);
    assert_eq!(other.requests_to("/token").len(), 1, "no new token for the other server");
}

#[test]
fn a_token_file_locked_elsewhere_is_an_auth_error_at_the_deadline_and_no_new_authorization() {
    let server = AuthServer::builder().start().unwrap();
    let dir = Scratch::new("locked");
    let file = dir.0.join("tokens.json");
    let url = server.mcp_url();
    let auth = authorizer(&url, &file, true);
    assert_eq!(call(&auth, &url).unwrap(), 200);
    server.revoke_access_tokens();
    // Another process holds the lock beside the token file, and keeps it.
    let held = hold_lock(&file);
    let sent = auth.authorization(T).unwrap();
    let (status, www) = post(&url, sent.as_ref());
    assert_eq!(status, 401);
    let err = auth.challenged(status, www.as_deref(), sent.as_ref(), Duration::from_millis(300)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, mcp_orchestrator::Error::Auth { .. }), "{text}");
    assert!(text.contains(&format!("token file {} is locked by another process", file.display())), "{text}");
    assert!(text.contains("server `guarded`") && text.contains("method `authorization`"), "{text}");
    assert_eq!((refreshes(&server).len(), auth.authorizations()), (0, 1), "nothing renewed, nobody asked");
    // Released: the next request refreshes.
    held.unlock().unwrap();
    assert_eq!(call(&auth, &url).unwrap(), 200);
    assert_eq!((refreshes(&server).len(), auth.authorizations()), (1, 1));
}
