//! The catalogue over every transport: tools, prompts and templates merged by priority, in
//! each naming mode, with per-server filters; and routing by merged name or URI.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
mod servers;

use mcp_orchestrator::{Config, NameFilter, Naming, Orchestration, Orchestrator, ServerConfig};
use servers::{Kind, sample};

/// Runs each listed `fn(Kind)` as a test over every transport.
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

over_every_transport!(
    tools_and_prompts_collide_by_priority,
    prefix_names_every_tool_and_prompt,
    prefix_on_collision_names_only_the_shared_ones,
    filters_leave_tools_and_prompts_out,
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
    hi_config.tools = NameFilter { include: vec!["*_only".into()], exclude: Vec::new() };
    let mut lo_config = lo.config("lo", 5);
    lo_config.tools = NameFilter { include: Vec::new(), exclude: vec!["lo_*".into()] };
    lo_config.prompts = NameFilter { include: Vec::new(), exclude: vec!["b?e".into()] };
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
