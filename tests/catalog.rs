//! The catalogue over every transport: tools, prompts and templates merged by priority, in
//! each naming mode, with per-server filters; and routing by merged name or URI.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;
#[path = "support/wait.rs"]
mod wait;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mcp_orchestrator::testing::Fault;
use mcp_orchestrator::{Config, Error, NameFilter, Naming, Orchestration, Orchestrator, ServerConfig};
use serde_json::json;
use servers::{Kind, sample};

over_every_transport!(
    tools_and_prompts_collide_by_priority,
    prefix_names_every_tool_and_prompt,
    prefix_on_collision_names_only_the_shared_ones,
    filters_leave_tools_and_prompts_out,
    calls_and_prompts_go_to_the_owner_under_its_own_name,
    reads_go_to_the_owner_from_the_cache_or_through_a_template,
    notifications_reach_subscribers_with_server_and_op,
);

fn orchestrator(servers: Vec<ServerConfig>, naming: Naming) -> Orchestrator {
    let mut o = Orchestration::default();
    o.naming = naming;
    o.separator = "__".into();
    Orchestrator::new(Config::new(servers, o).unwrap())
}

/// Three servers: `hi` (priority 1) and `lo` (priority 5) both offer tool `query` and prompt
/// `greet`; each also has one of its own.
fn two(kind: Kind) -> (servers::Srv, servers::Srv) {
    let hi = sample(0)
        .name("hi")
        .tool("query", "hi answers")
        .tool("hi_only", "hi alone")
        .prompt("greet", "hello {who} from hi")
        .start(kind);
    let lo = sample(0)
        .name("lo")
        .tool("query", "lo answers")
        .tool("lo_only", "lo alone")
        .prompt("greet", "hello {who} from lo")
        .prompt("bye", "bye")
        .start(kind);
    (hi, lo)
}

fn tool_names(g: &mcp_orchestrator::Gathered) -> Vec<(&str, &str, &str)> {
    g.tools.iter().map(|t| (t.name.as_str(), t.server.as_str(), t.original.as_str())).collect()
}

fn prompt_names(g: &mcp_orchestrator::Gathered) -> Vec<(&str, &str, &str)> {
    g.prompts.iter().map(|t| (t.name.as_str(), t.server.as_str(), t.original.as_str())).collect()
}

fn tools_and_prompts_collide_by_priority(kind: Kind) {
    let (hi, lo) = two(kind);
    let o = orchestrator(vec![lo.config("lo", 5), hi.config("hi", 1)], Naming::Priority);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(tool_names(&g), [("hi_only", "hi", "hi_only"), ("lo_only", "lo", "lo_only"), ("query", "hi", "query")]);
    assert_eq!(g.tool("query").unwrap().shadowed, ["lo"]);
    assert_eq!(prompt_names(&g), [("bye", "lo", "bye"), ("greet", "hi", "greet")]);
    assert_eq!(g.prompt("greet").unwrap().shadowed, ["lo"]);
    assert_eq!(g.prompt("greet").unwrap().item.arguments[0].name, "who");
    o.close();
}

fn prefix_names_every_tool_and_prompt(kind: Kind) {
    let (hi, lo) = two(kind);
    let o = orchestrator(vec![lo.config("lo", 5), hi.config("hi", 1)], Naming::Prefix);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(
        tool_names(&g),
        [
            ("hi__hi_only", "hi", "hi_only"),
            ("hi__query", "hi", "query"),
            ("lo__lo_only", "lo", "lo_only"),
            ("lo__query", "lo", "query")
        ]
    );
    assert!(g.tools.iter().all(|t| t.shadowed.is_empty()));
    assert_eq!(
        prompt_names(&g),
        [("hi__greet", "hi", "greet"), ("lo__bye", "lo", "bye"), ("lo__greet", "lo", "greet")]
    );
    o.close();
}

fn prefix_on_collision_names_only_the_shared_ones(kind: Kind) {
    let (hi, lo) = two(kind);
    let o = orchestrator(vec![lo.config("lo", 5), hi.config("hi", 1)], Naming::PrefixOnCollision);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(
        tool_names(&g),
        [
            ("hi__query", "hi", "query"),
            ("hi_only", "hi", "hi_only"),
            ("lo__query", "lo", "query"),
            ("lo_only", "lo", "lo_only")
        ]
    );
    assert_eq!(prompt_names(&g), [("bye", "lo", "bye"), ("hi__greet", "hi", "greet"), ("lo__greet", "lo", "greet")]);
    o.close();
}

fn filters_leave_tools_and_prompts_out(kind: Kind) {
    let (hi, lo) = two(kind);
    let mut hi_config = hi.config("hi", 1);
    hi_config.tools = NameFilter::new(["*_only"], Vec::<&str>::new());
    let mut lo_config = lo.config("lo", 5);
    lo_config.tools = NameFilter::new(Vec::<&str>::new(), ["lo_*"]);
    lo_config.prompts = NameFilter::new(Vec::<&str>::new(), ["b?e"]);
    let o = orchestrator(vec![lo_config, hi_config], Naming::PrefixOnCollision);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    // `query` is left out on `hi`, so it no longer collides and keeps its name on `lo`.
    assert_eq!(tool_names(&g), [("hi_only", "hi", "hi_only"), ("query", "lo", "query")]);
    assert_eq!(prompt_names(&g), [("hi__greet", "hi", "greet"), ("lo__greet", "lo", "greet")]);
    // The server's own listing is kept whole; only the catalogue is filtered.
    assert_eq!(g.server("hi").unwrap().data.as_ref().unwrap().tools.len(), 2);
    o.close();
}

#[test]
fn the_config_keys_parse_and_are_checked() {
    let yaml = r#"
mcp_servers:
  a:
    url: "http://127.0.0.1:1/sse"
    transport: sse
    priority: 1
    tools: {include: ["db_*"], exclude: ["db_drop*"]}
    prompts: {exclude: ["secret"]}
orchestration:
  naming: prefix_on_collision
  separator: "."
  max_retries: 5
  backoff_min: 0.05
  backoff_max: 2
  serve_stale: false
"#;
    let c = Config::from_yaml_str(yaml).unwrap();
    let o = &c.orchestration;
    assert_eq!(
        (o.naming, o.separator.as_str(), o.max_retries, o.serve_stale),
        (Naming::PrefixOnCollision, ".", 5, false)
    );
    assert_eq!((o.backoff_min.as_millis(), o.backoff_max.as_millis()), (50, 2000));
    let a = &c.servers[0];
    assert!(a.tools.allows("db_read") && !a.tools.allows("db_drop_all") && !a.tools.allows("other"));
    assert!(a.prompts.allows("x") && !a.prompts.allows("secret"));
    let e = Config::from_yaml_str(&yaml.replace("prefix_on_collision", "by_name")).unwrap_err();
    assert!(e.to_string().contains("unknown `naming` `by_name` (valid: priority, prefix, prefix_on_collision)"), "{e}");
    let e = Config::from_yaml_str(&yaml.replace("backoff_max: 2", "backoff_max: 0.01")).unwrap_err();
    assert!(e.to_string().contains("`backoff_max` must not be less than `backoff_min`"), "{e}");
    let e = Config::from_yaml_str(&yaml.replace("exclude: [\"secret\"]", "excludes: []")).unwrap_err();
    assert!(e.to_string().contains("unknown key `excludes`"), "{e}");
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn calls_and_prompts_go_to_the_owner_under_its_own_name(kind: Kind) {
    let (hi, lo) = two(kind);
    let o = orchestrator(vec![lo.config("lo", 5), hi.config("hi", 1)], Naming::PrefixOnCollision);
    o.initialize().unwrap();
    assert_eq!(o.call_tool("hi__query", json!({})).unwrap().text(), "hi answers");
    assert_eq!(o.call_tool("lo__query", json!({})).unwrap().text(), "lo answers");
    assert_eq!(o.call_tool("lo_only", json!({})).unwrap().text(), "lo alone");
    // The explicit form takes the server's own name.
    assert_eq!(o.call_tool_on(Some("lo"), "query", json!({})).unwrap().text(), "lo answers");
    let err = o.call_tool("query", json!({})).unwrap_err();
    assert!(
        matches!(err, Error::NoServer { .. }) && err.to_string().contains("no server offers a tool named `query`"),
        "{err}"
    );
    let p = o.get_prompt("lo__greet", &args(&[("who", "Ann")])).unwrap();
    assert_eq!(serde_json::to_value(&p.messages[0].content).unwrap()["text"], "hello Ann from lo");
    let p = o.get_prompt("bye", &BTreeMap::new()).unwrap();
    assert_eq!(serde_json::to_value(&p.messages[0].content).unwrap()["text"], "bye");
    assert_eq!(o.get_prompt_on("hi", "greet", &args(&[("who", "Bo")])).unwrap().messages.len(), 1);
    let err = o.get_prompt("lo__greet", &BTreeMap::new()).unwrap_err();
    assert!(matches!(err, Error::Rpc { .. }) && err.server() == Some("lo"), "{err}");
    let err = o.get_prompt("nope", &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("no server offers a prompt named `nope`"), "{err}");
    o.close();
}

fn reads_go_to_the_owner_from_the_cache_or_through_a_template(kind: Kind) {
    let hi = sample(0).name("hi").text("shared://x", "from hi").template("hi://{id}").start(kind);
    let lo = sample(0)
        .name("lo")
        .text("shared://x", "from lo")
        .template("lo://{table}/rows")
        .template("hi://{id}")
        .start(kind);
    let o = orchestrator(vec![lo.config("lo", 5), hi.config("hi", 1)], Naming::Priority);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.template("hi://{id}").unwrap().shadowed, ["lo"]);
    let reads = hi.count("resources/read") + lo.count("resources/read");
    assert_eq!(o.read_resource("shared://x").unwrap()[0].text(), Some("from hi"));
    assert_eq!(hi.count("resources/read") + lo.count("resources/read"), reads, "a gathered URI is read from the cache");
    assert_eq!(o.read_resource("lo://users/rows").unwrap()[0].text(), Some("lo:lo://users/rows"));
    assert_eq!(o.read_resource("hi://42").unwrap()[0].text(), Some("hi:hi://42"), "the template of the better server");
    assert_eq!(o.read_resource_on("lo", "hi://42").unwrap()[0].text(), Some("lo:hi://42"));
    let err = o.read_resource("lo://a/b/rows").unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }) && err.to_string().contains("`lo://a/b/rows`"), "{err}");
    o.close();
}

fn notifications_reach_subscribers_with_server_and_op(kind: Kind) {
    let a = sample(1).name("a").fault(Fault::NotifyAfterInitialized).start(kind);
    let o = orchestrator(vec![a.config("a", 1)], Naming::Priority);
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let s = seen.clone();
    o.subscribe(move |server, op, n| s.lock().unwrap().push((server.into(), op.to_string(), n.method.clone())));
    o.initialize().unwrap();
    if kind == Kind::StreamableHttp {
        // The test server sends nothing outside a reply there (it has no GET stream).
        return;
    }
    wait::eventually("the progress notification is forwarded", || {
        seen.lock().unwrap().iter().any(|(_, _, m)| m == "notifications/progress")
    });
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(server, op, _)| server == "a" && !op.is_empty()), "{seen:?}");
    assert!(seen.iter().any(|(_, _, m)| m == "notifications/message"), "{seen:?}");
    o.close();
}
