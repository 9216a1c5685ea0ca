//! The config formats people already have, read from real files under `tests/configs/` by
//! content (whatever the file name), and config errors: every problem of a file at once, each
//! naming the key, with its line, column and snippet, and no secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_orchestrator::{Config, ConfigFormat, Error, ErrorKind, ServerConfig, Transport};

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs").join(name)
}

/// The environment the files see (the process environment is never touched).
fn env(name: &str) -> Option<String> {
    let value = match name {
        "HOME" => "/home/me",
        "API_KEY" => "sk-secret-api",
        "NOTES_TOKEN" => "notes-secret",
        "REMOTE_KEY" => "remote-secret",
        "FETCH_TOKEN" => "fetch-secret",
        "DB_PORT" => "6543",
        _ => return None,
    };
    Some(value.to_owned())
}

fn load(name: &str) -> Config {
    Config::from_path_with_env(file(name), env).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load_err(name: &str) -> Error {
    match Config::from_path_with_env(file(name), env) {
        Ok(c) => panic!("{name}: expected an error, got {c:?}"),
        Err(e) => e,
    }
}

fn names(config: &Config) -> Vec<&str> {
    config.servers.iter().map(|s| s.name.as_str()).collect()
}

fn stdio(server: &ServerConfig) -> (&str, &[String], &std::collections::BTreeMap<String, String>, Option<&Path>) {
    match &server.transport {
        Transport::Stdio { command, args, env, cwd } => (command, args, env, cwd.as_deref()),
        other => panic!("{}: not stdio: {other:?}", server.name),
    }
}

fn header<'a>(server: &'a ServerConfig, name: &str) -> Option<&'a str> {
    server.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

#[test]
fn claude_desktop() {
    let config = load("claude_desktop_config.json");
    assert_eq!(config.format(), ConfigFormat::McpServersJson);
    // No priorities in the format: file order, and each server says so.
    assert_eq!(names(&config), ["filesystem", "github"]);
    assert_eq!(config.servers.iter().map(|s| s.priority).collect::<Vec<_>>(), [1, 2]);
    assert!(config.servers[1].notes()[0].contains("priority 2 from file order"), "{:?}", config.servers[1].notes());
    let (command, args, vars, cwd) = stdio(&config.servers[1]);
    assert_eq!((command, cwd), ("docker", None));
    assert_eq!(args[..3], ["run", "-i", "--rm"]);
    assert_eq!(vars.get("GITHUB_PERSONAL_ACCESS_TOKEN").map(String::as_str), Some("ghp_example"));
    // Debug output never shows an environment value.
    assert!(!format!("{config:?}").contains("ghp_example"));
}

#[test]
fn claude_code_mcp_json() {
    let config = load("claude_code.mcp.json");
    assert_eq!(names(&config), ["api", "legacy", "local"]);
    let api = config.server("api").unwrap();
    // `${VAR:-default}` with VAR unset takes the default; `${VAR}` the variable.
    assert_eq!(api.transport, Transport::StreamableHttp { url: "https://api.example.com/mcp".into() });
    assert_eq!(header(api, "Authorization"), Some("Bearer sk-secret-api"));
    assert_eq!(config.server("legacy").unwrap().transport, Transport::Sse { url: "http://localhost:8000/sse".into() });
    let (command, args, vars, _) = stdio(config.server("local").unwrap());
    assert_eq!(command, "/home/me/bin/db-mcp");
    assert_eq!(args, ["--port", "6543"]);
    assert_eq!(vars.get("CACHE_DIR").map(String::as_str), Some("/tmp/cache"));
    assert!(!format!("{config:?}").contains("sk-secret-api"));
}

#[test]
fn cursor_mcp_json_with_env_file() {
    let config = load("cursor/.cursor/mcp.json");
    let notes = config.server("notes").unwrap();
    let (command, args, vars, _) = stdio(notes);
    let workspace = file("cursor");
    assert_eq!(command, "python");
    assert_eq!(args[3], format!("{}/notes", workspace.display()));
    // `env` wins over `envFile`; `${env:NAME}` is the environment.
    assert_eq!(vars.get("LOG_LEVEL").map(String::as_str), Some("debug"));
    assert_eq!(vars.get("DATABASE_URL").map(String::as_str), Some("postgres://localhost/notes"));
    assert_eq!(vars.get("NOTES_TOKEN").map(String::as_str), Some("notes-secret"));
    // A `url` without `type`: Streamable HTTP, or legacy SSE for a path ending in /sse; noted.
    let remote = config.server("remote").unwrap();
    assert_eq!(remote.transport, Transport::StreamableHttp { url: "https://mcp.example.com/mcp".into() });
    assert_eq!(header(remote, "X-Api-Key"), Some("remote-secret"));
    assert!(remote.notes().iter().any(|n| n.contains("transport `streamable_http` assumed")), "{:?}", remote.notes());
    let old = config.server("old-remote").unwrap();
    assert_eq!(old.transport, Transport::Sse { url: "http://localhost:9000/sse".into() });
}

#[test]
fn vscode_mcp_json_with_comments() {
    let config = load("vscode/.vscode/mcp.json");
    assert_eq!(config.format(), ConfigFormat::VsCodeJson);
    assert_eq!(names(&config), ["memory", "fetch"]);
    let (_, _, _, cwd) = stdio(config.server("memory").unwrap());
    assert_eq!(cwd, Some(file("vscode").as_path()));
    let fetch = config.server("fetch").unwrap();
    assert_eq!(fetch.transport, Transport::StreamableHttp { url: "http://localhost:3001/mcp".into() });
    assert_eq!(header(fetch, "Authorization"), Some("Bearer fetch-secret"));
}

#[test]
fn vscode_inputs_are_a_clear_error() {
    let e = load_err("vscode_inputs.json");
    assert_eq!(e.kind(), ErrorKind::Config);
    let Error::Config { message, line, column, .. } = &e else { panic!("{e:?}") };
    assert!(message.contains("vscode_inputs.json`: server `perplexity`: `env.PERPLEXITY_API_KEY`"), "{message}");
    assert!(message.contains("the VS Code input `perplexity-key` (\"Perplexity API Key\")"), "{message}");
    assert!(message.contains("${env:NAME}"), "{message}");
    assert_eq!((*line, *column), (Some(16), Some(31)));
}

#[test]
fn talk_2_tables_config_loads_unchanged() {
    let config = load("talk-2-tables_mcp_config.yaml");
    assert_eq!(config.format(), ConfigFormat::Yaml);
    assert_eq!(names(&config), ["product_metadata_mcp", "database_mcp"]);
    let db = config.server("database_mcp").unwrap();
    assert_eq!(db.display_name.as_deref(), Some("Database MCP Server"));
    assert_eq!((db.priority, db.timeout), (10, Duration::from_secs(30)));
    assert_eq!(db.domains.len(), 6);
    assert!(db.notes().is_empty());
    let o = &config.orchestration;
    assert!(!o.fail_fast);
    assert_eq!(o.log_level, Some(log::LevelFilter::Info));
    assert_eq!(o.max_retries, 3);
}

#[test]
fn sdk_spelling_and_enable_logging_off() {
    let config = load("sdk_spelling.yaml");
    let search = &config.servers[0];
    assert_eq!(search.transport, Transport::StreamableHttp { url: "http://localhost:8100/mcp".into() });
    assert_eq!(search.priority, 999);
    // `enable_logging: false` silences the log whatever `log_level` says.
    assert_eq!(config.orchestration.log_level, Some(log::LevelFilter::Off));
    assert_eq!(config.orchestration.max_retries, 3); // the default: reconnects per call
}

#[test]
fn read_by_content_whatever_the_name() {
    let config = load("plain_config.txt");
    assert_eq!(config.format(), ConfigFormat::Yaml);
    assert_eq!(config.servers.len(), 2);
    let json = std::fs::read_to_string(file("claude_code.mcp.json")).unwrap();
    assert_eq!(Config::from_str_with_env(&json, env).unwrap().format(), ConfigFormat::McpServersJson);
    let yaml = std::fs::read_to_string(file("plain_config.txt")).unwrap();
    let parsed: Config = yaml.parse().unwrap();
    assert_eq!(parsed, config);
}

#[test]
fn every_problem_of_a_yaml_file_at_once() {
    let e = load_err("several_errors.yaml");
    let problems = e.config_problems();
    let summary: Vec<(String, Option<usize>, Option<usize>)> = problems
        .iter()
        .map(|p| match p {
            Error::Config { message, line, column, .. } => (message.clone(), *line, *column),
            other => panic!("{other:?}"),
        })
        .collect();
    let path = file("several_errors.yaml").display().to_string();
    let expected = [
        (
            format!(
                "`{path}`: server `database_mcp`: `url` `ftp://localhost:8000/sse` has scheme `ftp`: only http and https are supported"
            ),
            3,
            10,
        ),
        (format!("`{path}`: server `product_metadata_mcp`: `priority` must be 0 or more, got -1"), 8, 15),
        (format!("`{path}`: server `files`: missing required key `command` (transport `stdio` needs one)"), 10, 3),
        (format!("`{path}`: orchestration: `max_concurrent_connections` must be at least 1, got 0"), 14, 31),
    ];
    assert_eq!(summary, expected.map(|(m, l, c)| (m, Some(l), Some(c))));
    let text = e.to_string();
    assert!(text.starts_with("config: 4 problems:\n1. "), "{text}");
    assert!(text.contains("\n   8 |     priority: -1\n     |               ^\n"), "{text}");
}

#[test]
fn every_problem_of_a_json_file_at_once_naming_keys_without_secrets() {
    let e = load_err("several_errors.mcp.json");
    let messages: Vec<String> = e.config_problems().iter().map(|p| p.to_string()).collect();
    let expect = [
        (
            "server `one`: unknown `type` `websocket` (valid: stdio, sse, http, streamable-http) at line 4 column 15",
            "4 |       \"type\": \"websocket\",",
        ),
        ("server `two`: `args` must be a list of strings, found a string at line 9 column 15", ""),
        (
            "server `two`: `env.TOKEN`: environment variable `UNSET_TOKEN_VAR` is not set at line 10 column 25",
            "<redacted>",
        ),
        ("server `three`: `headers.Authorization` must be a string, found a list at line 14 column 37", "<redacted>"),
    ];
    assert_eq!(messages.len(), expect.len(), "{e}");
    for (message, (wanted, snippet)) in messages.iter().zip(expect) {
        assert!(message.contains(wanted), "{message}\nwanted: {wanted}");
        assert!(message.contains(snippet), "{message}\nwanted snippet: {snippet}");
    }
}

#[test]
fn json_syntax_errors_have_a_location() {
    let e = Config::from_str_with_env(
        "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"}\n    \"b\": {}\n  }\n}\n",
        env,
    )
    .unwrap_err();
    let Error::Config { message, line, .. } = &e else { panic!("{e:?}") };
    assert!(message.starts_with("invalid JSON: expected `,` or `}`"), "{message}");
    assert_eq!(*line, Some(4));
    let e = Config::from_str_with_env("{\"other\": 1}", env).unwrap_err();
    assert!(e.to_string().contains("needs `mcpServers`"), "{e}");
}

#[test]
fn read_errors_name_the_file() {
    let missing = file("no-such-file.json");
    let e = Config::from_path(&missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains(&format!("cannot read `{}`", missing.display())), "{e}");
}

#[test]
fn builders_make_what_the_yaml_makes() {
    let built = Config::builder()
        .server(
            ServerConfig::sse("database_mcp", "http://localhost:8000/sse")
                .priority(10)
                .domains(["sales", "orders"])
                .capabilities(["execute_query", "list_resources"]),
        )
        .server(
            ServerConfig::sse("product_metadata_mcp", "http://localhost:8002/sse")
                .priority(1)
                .domains(["products", "aliases"])
                .capabilities(["list_resources"]),
        )
        .resource_cache_ttl(Duration::from_secs(300))
        .fail_fast(true)
        .log_level(log::LevelFilter::Debug)
        .build()
        .unwrap();
    let loaded = load("plain_config.txt");
    assert_eq!(built, loaded);
    assert_eq!(built.format(), ConfigFormat::Code);

    let all = Config::builder()
        .server(
            ServerConfig::streamable_http("a", "http://localhost:1/mcp")
                .header("Authorization", "Bearer x")
                .timeout(Duration::from_millis(250))
                .enabled(false)
                .read_contents(false)
                .display_name("A")
                .listing_budget(10, 2),
        )
        .server(ServerConfig::http("b", "http://localhost:2/mcp"))
        .server(ServerConfig::stdio("c", "python", ["-m", "x"]).env("K", "v").cwd("/tmp"))
        .request_timeout(Duration::from_secs(7))
        .max_concurrent_connections(3)
        .cache_max_bytes(1024)
        .max_retries(2)
        .build()
        .unwrap();
    let a = all.server("a").unwrap();
    assert_eq!((a.timeout, a.enabled, a.read_contents), (Duration::from_millis(250), false, false));
    assert_eq!((a.max_listing_bytes, a.max_listing_items, a.display_name.as_deref()), (10, 2, Some("A")));
    assert_eq!(header(a, "Authorization"), Some("Bearer x"));
    // A server that kept the default timeout takes the builder's request_timeout.
    let b = all.server("b").unwrap();
    assert_eq!(b.transport, Transport::Http { url: "http://localhost:2/mcp".into() });
    assert_eq!(b.timeout, Duration::from_secs(7));
    let (command, args, vars, cwd) = stdio(all.server("c").unwrap());
    assert_eq!((command, args, cwd), ("python", &["-m".to_owned(), "x".to_owned()][..], Some(Path::new("/tmp"))));
    assert_eq!(vars.get("K").map(String::as_str), Some("v"));
    let o = &all.orchestration;
    assert_eq!((o.max_concurrent_connections, o.cache_max_bytes, o.max_retries), (3, 1024, 2));

    // The builder validates as Config::new does.
    let e = Config::builder().server(ServerConfig::sse("x", "ws://h")).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("server `x`: `url` `ws://h` has scheme `ws`"), "{e}");
    let e = Config::builder().build().unwrap_err();
    assert!(e.to_string().contains("no servers"), "{e}");
}

#[test]
fn tool_arguments_need_no_serde_json_dependency() {
    let args: mcp_orchestrator::Value = mcp_orchestrator::json!({"query": "SELECT 1"});
    assert_eq!(args["query"], "SELECT 1");
}
