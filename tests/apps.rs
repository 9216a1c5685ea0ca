//! MCP Apps (`io.modelcontextprotocol/ui`) through the orchestrator: a tool whose
//! `_meta.ui.visibility` excludes `"model"` never enters the merged catalogue (nor its search),
//! is refused by its catalogue name and from another server's app, and is called by its own
//! server's app; `_meta.ui.resourceUri` is exposed and its `ui://` resource read like any
//! other; the host's MIME types reach the server in the client capabilities.

#![cfg(feature = "testing")]

use mcp_orchestrator::testing::{TestServer, text_result};
use mcp_orchestrator::{
    Config, ContentsBody, ErrorKind, Orchestrator, Resource, ResourceContents, ServerConfig, Tool, UI_EXTENSION,
    UI_MIME_TYPE,
};
use serde_json::{Value, json};

fn tool(value: Value) -> Tool {
    serde_json::from_value(value).unwrap()
}

/// `a`: `show_chart` (model and app, with a UI), `refresh_chart` (app only), the chart's
/// `ui://` resource. `b`: `query` (no UI) and its own app-only `b_secret`.
fn servers() -> (TestServer, TestServer) {
    let html = "<!doctype html><title>chart</title>";
    let resource: Resource =
        serde_json::from_value(json!({"uri": "ui://a/chart.html", "name": "chart", "mimeType": UI_MIME_TYPE})).unwrap();
    let contents: ResourceContents =
        serde_json::from_value(json!({"uri": "ui://a/chart.html", "mimeType": UI_MIME_TYPE, "text": html})).unwrap();
    let a = TestServer::builder()
        .name("a")
        .tool(
            tool(json!({"name": "show_chart", "description": "shows a chart", "inputSchema": {"type": "object"},
                "_meta": {"ui": {"resourceUri": "ui://a/chart.html", "visibility": ["model", "app"]}}})),
            |_| Ok(text_result("chart shown")),
        )
        .tool(
            tool(json!({"name": "refresh_chart", "description": "refreshes the chart data", "inputSchema": {"type": "object"},
                "_meta": {"ui": {"resourceUri": "ui://a/chart.html", "visibility": ["app"]}}})),
            |_| Ok(text_result("refreshed by a")),
        )
        .resource(resource, Some(vec![contents]))
        .start()
        .unwrap();
    let b = TestServer::builder()
        .name("b")
        .simple_tool("query", "runs a query", |_| Ok(text_result("1 row")))
        .tool(
            tool(json!({"name": "b_secret", "inputSchema": {"type": "object"}, "_meta": {"ui": {"visibility": ["app"]}}})),
            |_| Ok(text_result("b's secret")),
        )
        .start()
        .unwrap();
    (a, b)
}

fn orchestrator(a: &TestServer, b: &TestServer) -> Orchestrator {
    let config = Config::builder()
        .server(ServerConfig::streamable_http("a", a.mcp_url()).priority(1))
        .server(ServerConfig::sse("b", b.url()).priority(2))
        .build()
        .unwrap();
    let o = Orchestrator::new(config).with_ui_mime_types([UI_MIME_TYPE]);
    o.initialize().unwrap();
    o
}

#[test]
fn an_app_only_tool_is_never_in_the_merged_catalogue_nor_its_search() {
    let (a, b) = servers();
    let o = orchestrator(&a, &b);
    let g = o.gather_all_resources().unwrap();
    let names: Vec<&str> = g.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["query", "show_chart"], "app-only tools are left out");
    let chart = g.tool("show_chart").unwrap();
    assert_eq!(chart.ui_resource_uri(), Some("ui://a/chart.html"));
    assert!(chart.visibility().model && chart.visibility().app);
    assert_eq!(g.tool("query").unwrap().ui_resource_uri(), None);
    assert!(g.tool("refresh_chart").is_none() && g.tool("b_secret").is_none());
    let hits = o.search_tools("refresh chart data", 10).unwrap();
    assert!(hits.iter().all(|h| h.name != "refresh_chart"), "{hits:?}");
    // The server's own data still has it, for its app.
    assert!(g.app_tool("a", "refresh_chart").is_some());
    assert!(g.app_tool("b", "refresh_chart").is_none());
    o.close();
}

#[test]
fn an_app_only_tool_is_called_by_its_own_app_only() {
    let (a, b) = servers();
    let o = orchestrator(&a, &b);

    let e = o.call_tool("refresh_chart", json!({})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed, "{e}");
    assert_eq!((e.server(), e.method()), (Some("a"), Some("tools/call")));
    assert!(e.op_id().is_some() && e.to_string().contains("app-only"), "{e}");

    // From another server's app: refused before anything is sent.
    let calls_before = a.stats().count("tools/call") + b.stats().count("tools/call");
    let e = o.call_app_tool("b", "refresh_chart", json!({})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed, "{e}");
    assert!(e.to_string().contains("app-only tool of server `a`"), "{e}");
    let e = o.call_app_tool("a", "b_secret", json!({})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed, "{e}");
    assert_eq!(a.stats().count("tools/call") + b.stats().count("tools/call"), calls_before);

    // By its owner's app: called on its owner.
    assert_eq!(o.call_app_tool("a", "refresh_chart", json!({})).unwrap().text(), "refreshed by a");
    assert_eq!(o.call_app_tool("b", "b_secret", json!({})).unwrap().text(), "b's secret");
    // An app may call its server's model-visible tools too, but not another server's.
    assert_eq!(o.call_app_tool("a", "show_chart", json!({})).unwrap().text(), "chart shown");
    assert_eq!(o.call_app_tool("a", "query", json!({})).unwrap_err().kind(), ErrorKind::NotAllowed);
    // The model-visible tool by its catalogue name, as ever.
    assert_eq!(o.call_tool("show_chart", json!({})).unwrap().text(), "chart shown");
    o.close();
}

#[test]
fn ui_resources_are_read_and_the_host_declares_its_mime_types() {
    let (a, b) = servers();
    let o = orchestrator(&a, &b);
    let g = o.gather_all_resources().unwrap();
    let uri = g.tool("show_chart").unwrap().ui_resource_uri().unwrap().to_string();
    assert_eq!(g.route_uri(&uri).unwrap().server, "a");
    let contents = o.read_resource(&uri).unwrap();
    assert_eq!(contents[0].mime_type.as_deref(), Some(UI_MIME_TYPE));
    assert!(matches!(&contents[0].body, ContentsBody::Text(t) if t.contains("<title>chart")));
    // Never from the cache: a read on the owner.
    assert!(matches!(&o.read_resource_on("a", &uri).unwrap()[0].body, ContentsBody::Text(_)));
    for server in [&a, &b] {
        let caps = server.stats().client_capabilities.expect("initialize was recorded");
        assert_eq!(caps["extensions"][UI_EXTENSION], json!({"mimeTypes": [UI_MIME_TYPE]}), "{caps}");
    }
    o.close();
}
