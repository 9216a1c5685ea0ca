//! `mcp-orchestrator login` and the other commands' OAuth, headless: the command runs with
//! `--no-browser` and prints the authorization URL on stderr; the test plays the browser (GETs
//! the URL at the test authorization server, which redirects at once, then GETs the redirect
//! at the command's loopback listener). Every child runs under a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::AuthServer;

const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh directory in the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mcp-login-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free a moment ago (the command listens on it for the redirect).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn write_config(dir: &Path, server: &AuthServer, port: u16) -> PathBuf {
    let config = dir.join("mcp.yaml");
    let text = format!(
        "mcp_servers:\n  guarded:\n    transport: streamable_http\n    url: {}\n    priority: 1\n    timeout: 20\n    auth:\n      type: oauth\n      redirect_port: {port}\n      token_file: {}\n",
        server.mcp_url(),
        dir.join("tokens.json").display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mcp-orchestrator"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-orchestrator")
}

/// One HTTP/1.1 GET over a fresh connection: status, `Location`, body.
fn get(url: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let location = head.lines().find_map(|l| {
        l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.trim().to_string())
    });
    (status, location, body.to_string())
}

/// Plays the browser for a child that prints the authorization URL on stderr: waits for the
/// URL, asks for a path the listener must refuse, then follows the authorization server's
/// redirect to the listener. Returns the listener's page and the rest of stderr (collected
/// until the child exits).
fn play_browser(child: &mut Child, port: u16) -> (String, std::thread::JoinHandle<String>) {
    let (mut pages, reader) = play_browser_times(child, port, 1);
    (pages.remove(0), reader)
}

/// [`play_browser`] for `times` authorizations in a row.
fn play_browser_times(child: &mut Child, port: u16, times: usize) -> (Vec<String>, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("http://") && line.contains("/authorize?") {
                let _ = tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut pages = Vec::new();
    for _ in 0..times {
        let url = rx.recv_timeout(DEADLINE).expect("the command prints the authorization URL on stderr");
        let (status, _, _) = get(&format!("http://127.0.0.1:{port}/favicon.ico"));
        assert_eq!(status, 404, "the listener refuses anything but the redirect path");
        let (status, _, _) = get(&format!("http://127.0.0.1:{port}/callback?code=forged&state=not-ours"));
        assert_eq!(status, 400, "the listener refuses a redirect with another state, and waits on");
        let (status, location, _) = get(&url);
        assert_eq!(status, 302);
        let location = location.expect("the authorization server redirects");
        assert!(location.starts_with(&format!("http://127.0.0.1:{port}/callback?code=")), "{location}");
        let (status, _, page) = get(&location);
        assert_eq!(status, 200, "{page}");
        pages.push(page);
    }
    (pages, reader)
}

/// Waits for the child to exit (killing it at the deadline): its exit code and stdout.
fn finish(mut child: Child) -> (i32, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the command did not exit within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    (status.code().unwrap_or(-1), stdout)
}

#[test]
fn login_then_another_command_uses_the_stored_token() {
    let server = AuthServer::builder().start().unwrap();
    let dir = TempDir::new("ok");
    let port = free_port();
    let config = write_config(&dir.0, &server, port);
    let config = config.to_str().unwrap();

    let mut child = spawn(&["login", "--config", config, "--no-browser"]);
    let (page, stderr) = play_browser(&mut child, port);
    assert!(page.contains("Authorization complete") && page.contains("close this tab"), "{page}");
    let (code, stdout) = finish(child);
    let stderr = stderr.join().unwrap();
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("guarded: logged in (tokens in"), "{stdout}");
    assert!(stderr.contains("To authorize server `guarded`, open this URL"), "{stderr}");
    let tokens = dir.0.join("tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&tokens).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!stderr.contains("access-") && !stdout.contains("access-"), "no token in the output");
    assert_eq!(server.requests_to("/mcp").len(), 0, "login talks to the authorization server only");

    // `tools` finds the token in the file: no person, no authorization URL.
    let child = spawn(&["tools", "--config", config, "--no-browser"]);
    let (code, stdout) = finish(child);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("whoami"), "{stdout}");
    assert_eq!(server.requests_to("/authorize").len(), 1);
    assert!(server.requests_to("/mcp").iter().all(|r| r.authorization.is_some()));
}

#[test]
fn a_command_without_a_token_runs_the_flow_itself() {
    let server = AuthServer::builder().start().unwrap();
    let dir = TempDir::new("lazy");
    let port = free_port();
    let config = write_config(&dir.0, &server, port);
    let mut child = spawn(&["tools", "--config", config.to_str().unwrap(), "--no-browser"]);
    let (_, stderr) = play_browser(&mut child, port);
    let (code, stdout) = finish(child);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {}", stderr.join().unwrap());
    assert!(stdout.contains("whoami"), "{stdout}");
    assert!(dir.0.join("tokens.json").exists());
}

#[test]
fn login_fails_cleanly_when_nobody_comes_back_or_the_usage_is_wrong() {
    let server = AuthServer::builder().start().unwrap();
    let dir = TempDir::new("fail");
    let port = free_port();
    let config = write_config(&dir.0, &server, port);
    let config = config.to_str().unwrap();

    let child = spawn(&["login", "--config", config, "--no-browser", "--timeout", "1"]);
    let started = Instant::now();
    let mut child = child;
    let mut stderr = String::new();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut s);
        s
    });
    let (code, _) = finish(child);
    stderr.push_str(&reader.join().unwrap());
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded by --timeout (with slack)");
    assert!(stderr.contains("error: auth: ") && stderr.contains("no redirect"), "{stderr}");
    assert!(stderr.contains("server `guarded`") && stderr.contains("method `login`"), "{stderr}");
    assert!(server.requests_to("/token").is_empty());

    for args in
        [vec!["login", "--config", config, "--server", "nope"], vec!["login", "--config", config, "--timeout", "0"]]
    {
        let (code, _) = finish(spawn(&args));
        assert_eq!(code, 2, "{args:?}");
    }
    let plain = dir.0.join("plain.yaml");
    std::fs::write(
        &plain,
        "mcp_servers:\n  open:\n    transport: sse\n    url: http://127.0.0.1:1/sse\n    priority: 1\n",
    )
    .unwrap();
    let (code, _) = finish(spawn(&["login", "--config", plain.to_str().unwrap()]));
    assert_eq!(code, 2, "no server with `type: oauth`");
}

#[test]
fn servers_connected_in_parallel_take_turns_on_the_redirect_port() {
    let (first, second) = (AuthServer::builder().start().unwrap(), AuthServer::builder().start().unwrap());
    let dir = TempDir::new("two");
    let port = free_port();
    let config = dir.0.join("mcp.yaml");
    let block = |name: &str, server: &AuthServer| {
        format!(
            "  {name}:\n    transport: streamable_http\n    url: {}\n    priority: 1\n    timeout: 20\n    auth: {{type: oauth, redirect_port: {port}}}\n",
            server.mcp_url()
        )
    };
    std::fs::write(&config, format!("mcp_servers:\n{}{}", block("one", &first), block("two", &second))).unwrap();
    let mut child = spawn(&["tools", "--config", config.to_str().unwrap(), "--no-browser"]);
    let (pages, stderr) = play_browser_times(&mut child, port, 2);
    assert_eq!(pages.len(), 2);
    let (code, stdout) = finish(child);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {}", stderr.join().unwrap());
    assert_eq!(stdout.matches("whoami").count(), 2, "{stdout}");
    assert_eq!((first.requests_to("/authorize").len(), second.requests_to("/authorize").len()), (1, 1));
}
