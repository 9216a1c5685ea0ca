//! `mcp-test-server`: the crate's test server over stdio, for tests that spawn a stdio MCP
//! server (`env!("CARGO_BIN_EXE_mcp-test-server")`), or with `--listen` over HTTP (legacy SSE
//! at `/sse` and Streamable HTTP at `/mcp` on one port), e.g. for bench/compare. Flags
//! configure what it offers and how it misbehaves; run it with `--help` for the list. Exit
//! status: 0 when its input ends (or a `--exit-on` method arrives), the `--exit-at-start`
//! status, 2 for bad usage.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use mcp_orchestrator::testing::{
    Fault, ProtocolMode, StdioEnd, TaskBehaviour, TestServer, TestServerBuilder, text_result,
};

const USAGE: &str = "\
usage: mcp-test-server [FLAG]...
  --name NAME                serverInfo.name (default test-server)
  --protocol MODE            handshake (default), modern (2026-07-28 only) or both (the first
                             request fixes the era)
  --resources N              N text resources test://resource/{i}
  --text-resource URI=TEXT   one text resource
  --page-size N              page the lists
  --query-tool               an `execute_query` tool that answers `1 row`
  --tool NAME=TEXT           a tool NAME that answers TEXT
  --task-tool NAME=HOW       a tool NAME (answering `NAME done`) run as a task: HOW is after:K
                             (completes after K polls), input (needs input once), working
                             (until cancelled), fails, or plain (never a task)
  --task-poll-ms MS          the pollIntervalMs the tasks suggest (default 20)
  --prompt NAME=TEXT         a prompt NAME whose message is TEXT ({arg} filled in)
  --template URI_TEMPLATE    a resource template; reads of URIs it matches answer `<name>:<uri>`
  --delay METHOD=MS          answer METHOD after MS milliseconds
  --never-answer METHOD      never answer METHOD
  --empty-tool-lists N       answer the first N tools/list with no tools
  --exit-on METHOD           exit (status 0) when METHOD arrives, without answering
  --exit-on-unknown          exit (status 0) when a request with a method it does not know
                             arrives (as `server/discover` is to a handshake-era server)
  --malformed-before METHOD  write a line that is not JSON before answering METHOD
  --notify-after-initialized send a log message and a progress notification (modern: a
                             resources/list_changed on an acknowledged subscriptions/listen)
  --cache-hints TTL_MS=SCOPE the modern wire's cacheable results carry ttlMs and cacheScope
  --ping-client              ping the client after initialization
  --ask-client TOOL          a call of TOOL first asks the client elicitation, sampling, roots
  --oversized BYTES          write one line of BYTES bytes first
  --exit-at-start STATUS     exit at once with STATUS
  --ignore-eof               keep running after the input ends, until killed
  --ignore-sigterm           ignore SIGTERM (Unix: re-executes itself under `sh` with TERM ignored)
  --grandchild               start a process that holds stdout open and sleeps until killed
  --pid-file PATH            write `<pid> <grandchild pid or 0>` to PATH once started
  --event-log PATH           append `<name> <event>` lines to PATH (see TestServerBuilder::event_log)
  --listen PORT              serve HTTP on 127.0.0.1:PORT instead of stdio (0: any free port):
                             legacy SSE at /sse, Streamable HTTP at /mcp; prints one line
                             `LISTENING <port>` once it accepts connections, then serves until
                             its input ends";

/// Set in the environment of the re-executed process that ignores SIGTERM.
const TERM_IGNORED: &str = "MCP_TEST_SERVER_SIGTERM_IGNORED";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hold") {
        // The grandchild: holds the inherited stdout until its process group is killed.
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("mcp-test-server: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut builder = TestServer::builder();
    let mut pid_file = None;
    let mut grandchild = false;
    let mut listen = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        builder = match flag.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--name" => builder.name(value()?),
            "--protocol" => builder.protocol_mode(match value()?.as_str() {
                "handshake" => ProtocolMode::HandshakeOnly,
                "modern" => ProtocolMode::ModernOnly,
                "both" => ProtocolMode::Both,
                other => return Err(format!("--protocol: unknown mode `{other}` (handshake, modern, both)")),
            }),
            "--resources" => builder.with_sample_resources(number(&value()?)?),
            "--text-resource" => {
                let v = value()?;
                let (uri, text) = v.split_once('=').ok_or("--text-resource wants URI=TEXT")?;
                builder.text_resource(uri, uri, "text/plain", text)
            }
            "--tool" => {
                let v = value()?;
                let (name, text) = v.split_once('=').ok_or("--tool wants NAME=TEXT")?;
                let text = text.to_string();
                builder.simple_tool(name, "a test tool", move |_| Ok(text_result(text.clone())))
            }
            "--task-tool" => {
                let v = value()?;
                let (name, how) = v.split_once('=').ok_or("--task-tool wants NAME=HOW")?;
                let done = format!("{name} done");
                builder
                    .simple_tool(name, "a task tool", move |_| Ok(text_result(done.clone())))
                    .task_tool(name, behaviour(how)?)
            }
            "--task-poll-ms" => builder.task_poll_interval(Duration::from_millis(number(&value()?)? as u64)),
            "--prompt" => {
                let v = value()?;
                let (name, text) = v.split_once('=').ok_or("--prompt wants NAME=TEXT")?;
                builder.prompt(name, text)
            }
            "--template" => builder.simple_template(&value()?, "template"),
            "--page-size" => builder.page_size(number(&value()?)?),
            "--query-tool" => builder.simple_tool("execute_query", "runs a query", |_| Ok(text_result("1 row"))),
            "--delay" => {
                let v = value()?;
                let (method, ms) = v.split_once('=').ok_or("--delay wants METHOD=MS")?;
                builder.fault(Fault::Delay(method.into(), Duration::from_millis(number(ms)? as u64)))
            }
            "--never-answer" => builder.fault(Fault::NeverAnswer(value()?)),
            "--empty-tool-lists" => builder.fault(Fault::EmptyToolLists(number(&value()?)? as u32)),
            "--exit-on" => builder.fault(Fault::CloseStreamOn(value()?)),
            "--exit-on-unknown" => builder.fault(Fault::ExitOnUnknownMethod),
            "--malformed-before" => builder.fault(Fault::MalformedEvent(value()?)),
            "--notify-after-initialized" => builder.fault(Fault::NotifyAfterInitialized),
            "--cache-hints" => {
                let v = value()?;
                let (ttl, scope) = v.split_once('=').ok_or("--cache-hints wants TTL_MS=SCOPE")?;
                builder.cache_hints(number(ttl)? as u64, scope)
            }
            "--ping-client" => builder.fault(Fault::PingClient),
            "--ask-client" => builder.fault(Fault::AskClient(value()?)),
            "--oversized" => builder.fault(Fault::OversizedEvent(number(&value()?)?)),
            "--exit-at-start" => {
                builder.fault(Fault::ExitAtStart(value()?.parse().map_err(|e| format!("--exit-at-start: {e}"))?))
            }
            "--ignore-eof" => builder.fault(Fault::IgnoreEndOfInput),
            "--ignore-sigterm" => {
                ignore_sigterm(args)?;
                builder
            }
            "--grandchild" => {
                grandchild = true;
                builder
            }
            "--listen" => {
                let port = value()?;
                listen = Some(port.parse::<u16>().map_err(|e| format!("--listen: `{port}`: {e}"))?);
                builder
            }
            "--pid-file" => {
                pid_file = Some(value()?);
                builder
            }
            "--event-log" => {
                let path = value()?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("cannot open {path}: {e}"))?;
                builder.event_log(file)
            }
            other => return Err(format!("unknown flag `{other}`")),
        };
    }
    match listen {
        Some(port) => serve_http(builder, port),
        None => serve(builder, grandchild, pid_file.as_deref()),
    }
}

/// Serves over HTTP on `127.0.0.1:port` until standard input ends (the parent closed it or
/// exited), then shuts the server down.
fn serve_http(builder: TestServerBuilder, port: u16) -> Result<ExitCode, String> {
    let builder = if port == 0 { builder } else { builder.bind(([127, 0, 0, 1], port).into()) };
    let server = builder.start().map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!("LISTENING {}", server.addr().port());
    std::io::Write::flush(&mut std::io::stdout()).map_err(|e| format!("cannot write to stdout: {e}"))?;
    // Block until the input ends: reads and discards whatever arrives.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    server.shutdown();
    Ok(ExitCode::SUCCESS)
}

fn serve(builder: TestServerBuilder, grandchild: bool, pid_file: Option<&str>) -> Result<ExitCode, String> {
    let held = if grandchild {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
        // stdout (and stderr) inherited: the grandchild keeps the pipe open after we exit.
        let child = Command::new(exe).arg("--hold").stdin(Stdio::null()).spawn();
        Some(child.map_err(|e| format!("cannot start the grandchild: {e}"))?)
    } else {
        None
    };
    if let Some(path) = pid_file {
        let grandchild = held.as_ref().map_or(0, |c| c.id());
        // Written whole, then renamed: a reader never sees half of it.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{} {grandchild}", std::process::id()))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let stdin = std::io::stdin().lock();
    let end = builder.serve_stdio(stdin, std::io::stdout()).map_err(|e| format!("cannot serve: {e}"))?;
    // The grandchild is not waited for: it is meant to outlive us, holding the pipe.
    drop(held);
    Ok(match end {
        StdioEnd::Exit(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        _ => ExitCode::SUCCESS,
    })
}

fn number(text: &str) -> Result<usize, String> {
    text.parse().map_err(|e| format!("`{text}` is not a number: {e}"))
}

/// Re-executes this program under `sh` with SIGTERM ignored (an ignored signal stays ignored
/// across `exec`), unless that has happened already. Keeps the pid: `exec` twice.
#[cfg(unix)]
fn ignore_sigterm(args: &[String]) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(TERM_IGNORED).is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let error = Command::new("sh")
        .args(["-c", "trap '' TERM; exec \"$0\" \"$@\""])
        .arg(exe)
        .args(args)
        .env(TERM_IGNORED, "1")
        .exec();
    Err(format!("cannot re-execute under sh: {error}"))
}

#[cfg(not(unix))]
fn ignore_sigterm(_args: &[String]) -> Result<(), String> {
    Err("--ignore-sigterm needs Unix".into())
}

/// A `--task-tool` behaviour: `after:K`, `input`, `working`, `fails` or `plain`.
fn behaviour(how: &str) -> Result<TaskBehaviour, String> {
    Ok(match how {
        "input" => TaskBehaviour::NeedsInput,
        "working" => TaskBehaviour::Working,
        "fails" => TaskBehaviour::Fails,
        "plain" => TaskBehaviour::Plain,
        _ => match how.strip_prefix("after:") {
            Some(k) => TaskBehaviour::CompletesAfter(k.parse().map_err(|e| format!("--task-tool after:{k}: {e}"))?),
            None => {
                return Err(format!("--task-tool: unknown behaviour `{how}` (after:K, input, working, fails, plain)"));
            }
        },
    })
}
