use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::text::*;
use super::*;
use crate::catalog::{ServerOutcome, ServerResources, Status};
use crate::config::Naming;
use crate::config::{Config, Orchestration, ServerConfig};
use crate::error::ErrorKind;
use crate::op::OpId;

fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    words(text, &mut out);
    out.sort();
    out
}

fn searchable(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    terms(text, &mut out);
    out.sort();
    out
}

fn sorted(words: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    v.sort();
    v
}

fn tool(name: &str, title: Option<&str>, description: &str, params: serde_json::Value) -> Tool {
    Tool {
        name: name.into(),
        title: title.map(Into::into),
        description: Some(description.into()),
        input_schema: json!({"type": "object", "properties": params}),
        output_schema: None,
        annotations: None,
        icons: None,
        execution: None,
        meta: None,
    }
}

fn gathered(servers: Vec<(&str, Vec<Tool>)>) -> Gathered {
    let outcomes = servers
        .iter()
        .enumerate()
        .map(|(i, (name, tools))| ServerOutcome {
            name: name.to_string(),
            priority: i as u32,
            status: Status::Ok,
            error: None,
            elapsed: Duration::ZERO,
            from_cache: false,
            protocol: None,
            transport: "sse",
            recovered: false,
            data: Some(Arc::new(ServerResources { tools: tools.clone(), ..Default::default() })),
        })
        .collect();
    let configs = servers.iter().map(|(n, _)| ServerConfig::sse(*n, "http://127.0.0.1:1/sse")).collect();
    let o = Orchestration { naming: Naming::PrefixOnCollision, ..Orchestration::default() };
    Gathered::merge(OpId::new(), outcomes, &Config::new(configs, o).unwrap())
}

fn sample() -> Gathered {
    gathered(vec![
        (
            "github",
            vec![
                tool(
                    "create_issue",
                    Some("Create issue"),
                    "Open a new issue in a repository",
                    json!({"owner": {}, "repo": {}, "title": {}}),
                ),
                tool("list_pull_requests", None, "List the pull requests of a repository", json!({"repo": {}})),
                tool(
                    "mergePullRequest",
                    None,
                    "Merge a pull request into its base branch",
                    json!({"pullNumber": {"description": "The number of the pull request"}}),
                ),
            ],
        ),
        (
            "slack",
            vec![
                tool("post_message", None, "Post a message to a channel", json!({"channel": {}, "text": {}})),
                tool("list_channels", None, "List the channels of the workspace", json!({})),
            ],
        ),
        (
            "jira",
            vec![tool("create_issue", None, "Create a ticket in a project", json!({"project_key": {}, "summary": {}}))],
        ),
    ])
}

fn names(hits: &[ToolMatch]) -> Vec<&str> {
    hits.iter().map(|h| h.name.as_str()).collect()
}

#[test]
fn names_split_on_separators_case_and_digits() {
    assert_eq!(split("get_file-name.v2/path here"), sorted(&["get", "file", "name", "v", "2", "v2", "path", "here"]));
    assert_eq!(
        split("getHTTPServer"),
        sorted(&["get", "http", "server", "gethttp", "httpserver"]),
        "a run of capitals is one word; its last capital starts the next"
    );
    assert_eq!(split("listPullRequests"), sorted(&["list", "pull", "requests", "listpull", "pullrequests"]));
    assert_eq!(split("GitHub"), sorted(&["git", "hub", "github"]), "a camel-case brand also reads as one word");
    assert_eq!(split("ec2_instance"), sorted(&["ec", "2", "ec2", "instance"]));
    assert_eq!(split("What's the repo's status?"), sorted(&["what", "the", "repo", "status"]));
    assert_eq!(split("don't"), sorted(&["don", "t"]));
    assert_eq!(split("ÉCOLE café"), sorted(&["école", "café"]));
    assert_eq!(split("  __--..//  "), Vec::<String>::new());
    assert_eq!(split("ABC"), sorted(&["abc"]));
}

#[test]
fn stop_words_go_and_plurals_fold() {
    assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "sorted, for the binary search");
    assert_eq!(STOP_WORDS.iter().map(|w| w.len()).max(), Some(LONGEST_STOP_WORD));
    assert_eq!(
        searchable("List all the open issues in my repositories"),
        sorted(&["list", "all", "open", "issue", "repository"])
    );
    for (plural, one) in [
        ("branches", "branch"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("policies", "policy"),
        ("files", "file"),
        ("pushes", "push"),
    ] {
        assert_eq!(singular(plural).as_deref(), Some(one), "{plural}");
    }
    for word in ["status", "access", "analysis", "gas", "dns", "ties", "file", "café"] {
        assert_eq!(singular(word), None, "{word} stays");
    }
}

#[test]
fn verb_forms_of_an_unknown_word() {
    assert_eq!(verb_forms("creating"), ["creat", "create"]);
    assert_eq!(verb_forms("stopped"), ["stopp", "stoppe", "stop"]);
    assert_eq!(verb_forms("listed"), ["list", "liste"]);
    assert!(verb_forms("red").is_empty() && verb_forms("sing").is_empty() && verb_forms("issue").is_empty());
}

#[test]
fn everyday_verbs_stand_for_api_verbs() {
    assert!(API_VERBS.windows(2).all(|w| w[0].0 < w[1].0), "sorted, for the binary search");
    assert_eq!(api_verbs("remove"), ["delete"]);
    assert_eq!(api_verbs("removing"), ["delete"], "a form of it");
    assert_eq!(api_verbs("show"), ["list", "get"]);
    assert!(api_verbs("delete").is_empty() && api_verbs("pipeline").is_empty());
    let g = sample();
    // No tool says "show": `list` stands in, and the nouns decide.
    assert_eq!(names(&g.search_tools("show the channels", 1)), ["list_channels"]);
    assert_eq!(names(&g.search_tools("make an issue", 3)), ["github_create_issue", "jira_create_issue"]);
}

#[test]
fn names_outrank_descriptions_and_rare_words_outrank_common_ones() {
    let g = sample();
    // "merge" is in one tool's name and description; "pull request" in two tools.
    let hits = g.search_tools("merge a pull request", 5);
    assert_eq!(names(&hits)[..2], ["mergePullRequest", "list_pull_requests"]);
    assert!(hits[0].score > hits[1].score);
    assert_eq!((hits[0].server.as_str(), hits[0].original.as_str()), ("github", "mergePullRequest"));
    // "channel" is the name of one tool, a parameter of another, in both descriptions.
    assert_eq!(names(&g.search_tools("channels", 5)), ["list_channels", "post_message"]);
    // The server's name counts: both servers have `create_issue`.
    assert_eq!(names(&g.search_tools("create a jira issue", 1)), ["jira_create_issue"]);
    assert_eq!(names(&g.search_tools("create a github issue", 1)), ["github_create_issue"]);
    // A title counts: only GitHub's has one.
    let hits = g.search_tools("create issue", 2);
    assert_eq!(names(&hits), ["github_create_issue", "jira_create_issue"]);
}

#[test]
fn unknown_words_fall_back_to_verb_forms_and_prefixes() {
    let g = sample();
    assert_eq!(names(&g.search_tools("merging", 1)), ["mergePullRequest"], "verb form");
    assert_eq!(names(&g.search_tools("posted", 1)), ["post_message"], "verb form");
    assert_eq!(names(&g.search_tools("repo", 1)).len(), 1, "`repo` is a word of its own (a parameter)");
    assert_eq!(names(&g.search_tools("workspa", 1)), ["list_channels"], "prefix");
    assert_eq!(
        names(&g.search_tools("ticketing", 1)),
        ["jira_create_issue"],
        "the longest indexed word it starts with"
    );
    assert!(g.search_tools("zebra", 5).is_empty());
    assert!(g.search_tools("", 5).is_empty());
    assert!(g.search_tools("the of and", 5).is_empty(), "stop words alone find nothing");
    assert!(g.search_tools("issue", 0).is_empty());
}

#[test]
fn parameters_and_their_descriptions_are_searched() {
    let g = sample();
    assert_eq!(names(&g.search_tools("project key", 1)), ["jira_create_issue"]);
    assert_eq!(names(&g.search_tools("number", 1)), ["mergePullRequest"]);
}

#[test]
fn ties_keep_the_catalogue_order_and_limit_cuts() {
    let g =
        gathered(vec![("s", (0..20).map(|i| tool(&format!("same_{i:02}"), None, "identical", json!({}))).collect())]);
    let hits = g.search_tools("identical", 5);
    assert_eq!(names(&hits), ["same_00", "same_01", "same_02", "same_03", "same_04"]);
    assert!(hits.windows(2).all(|w| w[0].score == w[1].score));
}

#[test]
fn literal_and_regex_modes() {
    let g = sample();
    let hits = g.search_tools_matching(ToolQuery::Regex("^list_"), 10).unwrap();
    assert_eq!(names(&hits), ["list_channels", "list_pull_requests"]);
    assert!(hits.iter().all(|h| h.score == 3.0), "matched in the name");
    // In the description only (`Post a message…`), or in a parameter name.
    let hits = g.search_tools_matching(ToolQuery::Regex("(?i)\\bmessage\\b"), 10).unwrap();
    assert_eq!(names(&hits), ["post_message"]);
    let hits = g.search_tools_matching(ToolQuery::Literal("PULL REQUEST"), 10).unwrap();
    assert_eq!(names(&hits), ["list_pull_requests", "mergePullRequest"], "both in the description");
    let hits = g.search_tools_matching(ToolQuery::Literal("pullnumber"), 10).unwrap();
    assert_eq!((names(&hits), hits[0].score), (vec!["mergePullRequest"], 1.5), "a parameter's name");
    assert_eq!(g.search_tools_matching(ToolQuery::Literal("a.b(c"), 10).unwrap(), [], "no regex syntax");
    assert_eq!(g.search_tools_matching(ToolQuery::Regex("issue"), 1).unwrap().len(), 1);
    assert_eq!(g.search_tools_matching("merge".into(), 1).unwrap()[0].name, "mergePullRequest");
}

#[test]
fn a_bad_regex_is_a_config_error_naming_the_pattern() {
    let g = sample();
    let e = g.search_tools_matching(ToolQuery::Regex("create_(issue"), 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let text = e.to_string();
    assert!(text.starts_with("config: tool search: `create_(issue` is not a usable regular expression: "), "{text}");
    assert!(text.contains("unclosed group"), "{text}");
    // Compiles, but to far more than the limit.
    let e = g.search_tools_matching(ToolQuery::Regex("\\w{1000}\\w{1000}\\w{1000}"), 10).unwrap_err();
    assert!(e.to_string().contains("compiles to more than 1048576 bytes"), "{e}");
}

#[test]
fn token_estimates_are_a_quarter_of_the_bytes_a_host_sends() {
    let g = sample();
    let t = g.tool("post_message").unwrap();
    let sent = json!({
        "name": "post_message",
        "description": "Post a message to a channel",
        "inputSchema": {"type": "object", "properties": {"channel": {}, "text": {}}},
    });
    assert_eq!(t.tokens(), serde_json::to_string(&sent).unwrap().len().div_ceil(4));
    assert_eq!(g.tool_token_estimate("post_message"), Some(t.tokens()));
    assert_eq!(g.tool_token_estimate("nope"), None);
    // The merged name is what is sent.
    let prefixed = g.tool("github_create_issue").unwrap();
    assert!(prefixed.tokens() > 0);
    assert_eq!(g.tool_tokens(), g.tools.iter().map(MergedTool::tokens).sum::<usize>());
    assert_eq!(g.search_tools("post", 1)[0].tokens, t.tokens());
    let empty = gathered(vec![("empty", vec![])]);
    assert_eq!((empty.tool_tokens(), empty.search_tools("x", 3)), (0, vec![]));
}

#[test]
fn the_index_is_built_once_per_catalogue() {
    let g = sample();
    assert!(g.tool_index.get().is_none(), "not before the first search");
    g.search_tools("issue", 1);
    let first: *const ToolIndex = g.tool_index.get().unwrap();
    g.search_tools("channel", 1);
    g.tool_tokens();
    assert!(std::ptr::eq(first, g.tool_index.get().unwrap()));
    assert!(format!("{g:?}").contains("ToolIndex { tools: 6, terms: "), "a summary in Debug");
}

#[test]
fn query_parsing() {
    assert_eq!(ToolQuery::parse("/a|b/"), ToolQuery::Regex("a|b"));
    assert_eq!(ToolQuery::parse("//"), ToolQuery::Ranked("//"));
    assert_eq!(ToolQuery::parse("/usr/bin"), ToolQuery::Ranked("/usr/bin"));
    assert_eq!(ToolQuery::from("x"), ToolQuery::Ranked("x"));
}
