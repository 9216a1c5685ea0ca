//! Icons on tools, prompts, resources and servers reach the program typed, the unsafe ones
//! (`javascript:`, `file:`, `vbscript:`, `data:` other than images, …) dropped: over the
//! handshake era and the 2026-07-28 wire.

#![cfg(feature = "testing")]

use mcp_orchestrator::testing::{ProtocolMode, TestServer, text_result};
use mcp_orchestrator::{Client, Icon, Resource, ServerConfig, Tool};
use serde_json::json;

fn icons() -> serde_json::Value {
    json!([
        {"src": "https://example.com/icon.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "light"},
        {"src": "javascript:alert(document.cookie)"},
        {"src": "file:///etc/passwd"},
        {"src": "vbscript:msgbox(1)"},
        {"src": "data:image/svg+xml;base64,PHN2Zy8+"},
        {"src": "data:text/html;base64,PHNjcmlwdD4="}
    ])
}

fn server(mode: ProtocolMode) -> TestServer {
    let tool: Tool =
        serde_json::from_value(json!({"name": "t", "inputSchema": {"type": "object"}, "icons": icons()})).unwrap();
    let resource: Resource = serde_json::from_value(json!({"uri": "test://r", "name": "r", "icons": icons()})).unwrap();
    let server_icons: Vec<Icon> = serde_json::from_value::<Vec<serde_json::Value>>(icons())
        .unwrap()
        .into_iter()
        .map(|v| Icon::new(v["src"].as_str().unwrap()))
        .collect();
    TestServer::builder()
        .protocol_mode(mode)
        .tool(tool, |_| Ok(text_result("ok")))
        .resource(resource, None)
        .icons(server_icons)
        .start()
        .unwrap()
}

fn safe(icons: &Option<Vec<Icon>>) -> Vec<&str> {
    icons.as_ref().expect("icons kept").iter().map(|i| i.src.as_str()).collect()
}

#[test]
fn unsafe_icons_are_dropped_on_every_kind_and_both_eras() {
    for mode in [ProtocolMode::HandshakeOnly, ProtocolMode::ModernOnly] {
        let s = server(mode);
        let client = Client::connect(&ServerConfig::streamable_http("s", s.mcp_url())).unwrap();
        let expected = ["https://example.com/icon.png", "data:image/svg+xml;base64,PHN2Zy8+"];
        assert_eq!(safe(&client.server().server_info.icons), expected, "{mode:?}: the server's icons");
        let tools = client.list_tools().unwrap();
        assert_eq!(safe(&tools[0].icons), expected, "{mode:?}");
        let first = &tools[0].icons.as_ref().unwrap()[0];
        assert_eq!(
            (first.mime_type.as_deref(), first.sizes.as_slice(), first.theme.as_deref()),
            (Some("image/png"), &["48x48".to_string()][..], Some("light"))
        );
        assert_eq!(safe(&client.list_resources().unwrap()[0].icons), expected, "{mode:?}");
        client.close();
    }
}
