//! One test server description, run over any of the three transports: the legacy HTTP+SSE
//! and Streamable HTTP endpoints of a [`TestServer`], or the `mcp-test-server` binary over
//! stdio. What a test observes (requests per method, sessions, requests in flight across
//! servers) reads the same whatever the transport.

#![allow(dead_code)] // reason: each test file uses a different part of this module

/// Runs each listed `fn(Kind)` as a test over every transport (the test file imports `Kind`;
/// `#[macro_use]` on its `mod servers`).
#[allow(unused_macros)] // reason: not every test file that includes this module uses it
macro_rules! over_every_transport {
    ($($name:ident),* $(,)?) => {
        mod sse {
            $( #[test] fn $name() { super::$name(super::Kind::Sse) } )*
        }
        mod streamable_http {
            $( #[test] fn $name() { super::$name(super::Kind::StreamableHttp) } )*
        }
        mod stdio {
            $( #[test] fn $name() { super::$name(super::Kind::Stdio) } )*
        }
    };
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_orchestrator::testing::{Fault, Gauge, TestServer, TestServerBuilder, text_result};
use mcp_orchestrator::{ServerConfig, Transport};

#[path = "stdio.rs"]
mod stdio;

pub use stdio::Scratch;

/// A transport the orchestrator tests run over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sse,
    StreamableHttp,
    Stdio,
}

/// Every transport.
pub const ALL: [Kind; 3] = [Kind::Sse, Kind::StreamableHttp, Kind::Stdio];

/// What requests are in flight at once across several servers: a shared [`Gauge`] over HTTP,
/// a shared event log over stdio.
pub struct InFlight {
    gauge: Arc<Gauge>,
    log: PathBuf,
    _dir: Scratch,
}

impl InFlight {
    pub fn new() -> InFlight {
        let dir = Scratch::new("in-flight");
        InFlight { gauge: Gauge::new(), log: dir.0.join("events.log"), _dir: dir }
    }

    /// The most requests (not notifications) that were in flight at once.
    pub fn max(&self, kind: Kind) -> usize {
        if kind != Kind::Stdio {
            return self.gauge.max();
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (mut now, mut max) = (0usize, 0usize);
        for line in text.lines() {
            let mut words = line.split(' ').skip(1);
            let (Some(event), Some(method)) = (words.next(), words.next()) else { continue };
            match event {
                "in" if !method.starts_with("notifications/") => now += 1,
                "out" => now = now.saturating_sub(1),
                _ => continue,
            }
            max = max.max(now);
        }
        max
    }
}

/// A server description.
#[derive(Clone, Default)]
pub struct Spec {
    name: Option<String>,
    samples: usize,
    texts: Vec<(String, String)>,
    faults: Vec<Fault>,
    query_tool: bool,
    tools: Vec<(String, String)>,
    prompts: Vec<(String, String)>,
    templates: Vec<String>,
    /// The 2026-07-28 wire only, with these cache hints' `ttlMs` (none: the server's 0).
    modern: Option<Option<u64>>,
}

/// `n` sample resources (`test://resource/{i}`).
pub fn sample(n: usize) -> Spec {
    Spec { samples: n, ..Spec::default() }
}

impl Spec {
    pub fn name(mut self, name: &str) -> Spec {
        self.name = Some(name.into());
        self
    }

    pub fn text(mut self, uri: &str, text: &str) -> Spec {
        self.texts.push((uri.into(), text.into()));
        self
    }

    pub fn fault(mut self, fault: Fault) -> Spec {
        self.faults.push(fault);
        self
    }

    /// Each of the four listings (resources, templates, tools, prompts) held `delay` before it
    /// is answered.
    pub fn slow_listings(self, delay: Duration) -> Spec {
        ["resources/list", "resources/templates/list", "tools/list", "prompts/list"]
            .into_iter()
            .fold(self, |spec, method| spec.fault(Fault::Delay(method.into(), delay)))
    }

    /// A tool answering `text`.
    pub fn tool(mut self, name: &str, text: &str) -> Spec {
        self.tools.push((name.into(), text.into()));
        self
    }

    /// A prompt whose message is `text` (`{arg}` filled in).
    pub fn prompt(mut self, name: &str, text: &str) -> Spec {
        self.prompts.push((name.into(), text.into()));
        self
    }

    /// A resource template; reads of URIs it matches answer `<server name>:<uri>`.
    pub fn template(mut self, uri_template: &str) -> Spec {
        self.templates.push(uri_template.into());
        self
    }

    /// Speaking the 2026-07-28 wire only (Streamable HTTP or stdio), its cacheable results
    /// (`server/discover` included) fresh for `ttl_ms` when given (`cacheScope: public`).
    pub fn modern(mut self, ttl_ms: Option<u64>) -> Spec {
        self.modern = Some(ttl_ms);
        self
    }

    /// An `execute_query` tool answering `1 row`.
    pub fn query_tool(mut self) -> Spec {
        self.query_tool = true;
        self
    }

    pub fn start(self, kind: Kind) -> Srv {
        self.start_counted(kind, None)
    }

    /// Started, counting its requests in flight on `in_flight` too.
    pub fn start_counted(self, kind: Kind, in_flight: Option<&InFlight>) -> Srv {
        match kind {
            Kind::Sse | Kind::StreamableHttp => Srv::Http(kind, start_http(self.builder(in_flight)), self),
            Kind::Stdio => self.stdio(in_flight),
        }
    }

    fn builder(&self, in_flight: Option<&InFlight>) -> TestServerBuilder {
        let mut b = TestServer::builder().with_sample_resources(self.samples);
        if let Some(name) = &self.name {
            b = b.name(name.clone());
        }
        for (uri, text) in &self.texts {
            b = b.text_resource(uri, uri, "text/plain", text);
        }
        for f in &self.faults {
            b = b.fault(f.clone());
        }
        if self.query_tool {
            b = b.simple_tool("execute_query", "runs a query", |_| Ok(text_result("1 row")));
        }
        for (name, text) in &self.tools {
            let text = text.clone();
            b = b.simple_tool(name, "a test tool", move |_| Ok(text_result(text.clone())));
        }
        for (name, text) in &self.prompts {
            b = b.prompt(name, text);
        }
        for t in &self.templates {
            b = b.simple_template(t, "template");
        }
        if let Some(i) = in_flight {
            b = b.gauge(i.gauge.clone());
        }
        if let Some(ttl) = self.modern {
            b = b.protocol_mode(mcp_orchestrator::testing::ProtocolMode::ModernOnly);
            if let Some(ms) = ttl {
                b = b.cache_hints(ms, "public");
            }
        }
        b
    }

    fn stdio(self, in_flight: Option<&InFlight>) -> Srv {
        {
            let dir = Scratch::new("stdio-server");
            let log = dir.0.join("events.log");
            let mut flags: Vec<String> = vec!["--resources".into(), self.samples.to_string()];
            let mut command = stdio::TEST_SERVER.to_string();
            let mut flag = |f: &str, v: Option<String>| {
                flags.push(f.into());
                flags.extend(v);
            };
            if let Some(name) = &self.name {
                flag("--name", Some(name.clone()));
            }
            for (uri, text) in &self.texts {
                flag("--text-resource", Some(format!("{uri}={text}")));
            }
            if self.query_tool {
                flag("--query-tool", None);
            }
            for (name, text) in &self.tools {
                flag("--tool", Some(format!("{name}={text}")));
            }
            for (name, text) in &self.prompts {
                flag("--prompt", Some(format!("{name}={text}")));
            }
            for t in &self.templates {
                flag("--template", Some(t.clone()));
            }
            if let Some(ttl) = self.modern {
                flag("--protocol", Some("modern".into()));
                if let Some(ms) = ttl {
                    flag("--cache-hints", Some(format!("{ms}=public")));
                }
            }
            for f in &self.faults {
                match f {
                    Fault::Delay(m, d) => flag("--delay", Some(format!("{m}={}", d.as_millis()))),
                    Fault::NeverAnswer(m) => flag("--never-answer", Some(m.clone())),
                    Fault::EmptyToolLists(n) => flag("--empty-tool-lists", Some(n.to_string())),
                    Fault::CloseStreamOn(m) => flag("--exit-on", Some(m.clone())),
                    Fault::NotifyAfterInitialized => flag("--notify-after-initialized", None),
                    Fault::AskClient(tool) => flag("--ask-client", Some(tool.clone())),
                    // Nothing to start: the stdio equivalent of nothing listening.
                    Fault::RefuseConnections => command = "/nonexistent/mcp-test-server".into(),
                    other => panic!("no stdio flag for {other:?}"),
                }
            }
            for log in [Some(&log), in_flight.map(|i| &i.log)].into_iter().flatten() {
                flag("--event-log", Some(log.to_string_lossy().into_owned()));
            }
            Srv::Stdio { command, flags, log, _dir: dir }
        }
    }
}

fn start_http(b: TestServerBuilder) -> TestServer {
    b.start().unwrap()
}

/// A started server.
pub enum Srv {
    Http(Kind, TestServer, Spec),
    /// Started by the client that connects to it; its events are in `log`.
    Stdio {
        command: String,
        flags: Vec<String>,
        log: PathBuf,
        _dir: Scratch,
    },
}

impl Srv {
    /// Its config, under `name`, with this priority and a 10 s timeout.
    pub fn config(&self, name: &str, priority: u32) -> ServerConfig {
        let transport = match self {
            Srv::Http(Kind::Sse, s, _) => Transport::Sse { url: s.url().into() },
            Srv::Http(_, s, _) => Transport::StreamableHttp { url: s.mcp_url().into() },
            Srv::Stdio { command, flags, .. } => {
                Transport::Stdio { command: command.clone(), args: flags.clone(), env: Default::default(), cwd: None }
            }
        };
        let mut c = ServerConfig::new(name, transport);
        c.priority = priority;
        c.timeout = Duration::from_secs(10);
        c
    }

    /// The transport it is reached over.
    pub fn kind(&self) -> Kind {
        match self {
            Srv::Http(kind, _, _) => *kind,
            Srv::Stdio { .. } => Kind::Stdio,
        }
    }

    fn events(&self) -> Vec<String> {
        match self {
            Srv::Stdio { log, .. } => std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .map(|l| l.split_once(' ').map_or(l, |(_, event)| event).to_string())
                .collect(),
            Srv::Http(..) => Vec::new(),
        }
    }

    /// Messages received with this method (requests and notifications).
    pub fn count(&self, method: &str) -> u64 {
        match self {
            Srv::Http(_, s, _) => s.stats().count(method),
            Srv::Stdio { .. } => self.events().iter().filter(|e| e.strip_prefix("in ") == Some(method)).count() as u64,
        }
    }

    /// Every request and notification received.
    pub fn total(&self) -> u64 {
        match self {
            Srv::Http(_, s, _) => s.stats().requests.values().sum(),
            Srv::Stdio { .. } => self.events().iter().filter(|e| e.starts_with("in ")).count() as u64,
        }
    }

    /// Sessions ever started: event streams, Streamable HTTP sessions, or processes.
    pub fn sessions(&self) -> u64 {
        match self {
            Srv::Http(Kind::Sse, s, _) => s.stats().sse_connections,
            Srv::Http(_, s, _) => s.stats().mcp_sessions,
            Srv::Stdio { .. } => self.events().iter().filter(|e| e.starts_with("start ")).count() as u64,
        }
    }

    /// Sessions open now (for stdio: processes started and not yet reaped).
    pub fn open_sessions(&self) -> u64 {
        match self {
            Srv::Http(_, s, _) => s.stats().open_sessions as u64,
            // A process is a session until it is reaped.
            Srv::Stdio { .. } => self
                .events()
                .iter()
                .filter_map(|e| e.strip_prefix("start ")?.parse().ok())
                .filter(|pid| stdio::exists(*pid))
                .count() as u64,
        }
    }

    /// Stops the server, as a crash would: the HTTP server shuts down (its port is free), the
    /// stdio server's processes are killed (the client's next spawn starts a new one).
    pub fn kill(&self) {
        match self {
            Srv::Http(_, s, _) => s.shutdown(),
            Srv::Stdio { .. } => {
                for pid in self.events().iter().filter_map(|e| e.strip_prefix("start ")?.parse::<u32>().ok()) {
                    let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
    }

    /// Brings a killed HTTP server back on the same address (a stdio server needs nothing: the
    /// client starts it again).
    ///
    /// The port was an ephemeral one: while it is free, the kernel may hand it to an outgoing
    /// connection (a client retrying a connect to it on loopback can even connect to itself).
    /// Such a socket is short-lived, so a bind refused with `AddrInUse` is tried again, for up
    /// to 10 s.
    pub fn restart(&mut self) {
        if let Srv::Http(_, s, spec) = self {
            let addr = s.addr();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            *s = loop {
                match spec.builder(None).bind(addr).start() {
                    Ok(started) => break started,
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => panic!("the test server could not be started again on {addr}: {e}"),
                }
            };
        }
    }

    /// The HTTP server, for what only it can do (notifications to the client).
    pub fn http(&self) -> Option<&TestServer> {
        match self {
            Srv::Http(_, s, _) => Some(s),
            Srv::Stdio { .. } => None,
        }
    }
}
