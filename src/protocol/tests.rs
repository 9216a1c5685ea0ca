//! Unit tests of the MCP types: round trips, unknown fields, every content kind, pages.

use super::*;
use serde_json::json;

#[test]
fn resource_with_every_field_round_trips_and_unknown_fields_are_ignored() {
    let wire = json!({
        "uri": "database://metadata", "name": "metadata", "title": "Metadata",
        "description": "the schema", "mimeType": "application/json", "size": 1234,
        "annotations": {"audience": ["user"], "priority": 0.5, "lastModified": "2025-01-01T00:00:00Z"},
        "_meta": {"x": 1}, "somethingNew": true
    });
    let r: Resource = serde_json::from_value(wire).unwrap();
    assert_eq!(r.uri, "database://metadata");
    assert_eq!(r.mime_type.as_deref(), Some("application/json"));
    assert_eq!(r.size, Some(1234));
    assert_eq!(r.annotations.as_ref().unwrap().priority, Some(0.5));
    assert_eq!(r.meta, Some(json!({"x": 1})));
    let back = serde_json::to_value(&r).unwrap();
    assert_eq!(back["mimeType"], "application/json");
    assert_eq!(back["_meta"], json!({"x": 1}));
    assert!(back.get("somethingNew").is_none());
    assert!(back.get("icons").is_none());
}

#[test]
fn contents_are_text_or_blob() {
    let t: ResourceContents =
        serde_json::from_value(json!({"uri": "a://t", "mimeType": "text/plain", "text": "hi"})).unwrap();
    assert_eq!(t.text(), Some("hi"));
    assert_eq!(t.blob(), None);
    let b: ResourceContents = serde_json::from_value(json!({"uri": "a://b", "blob": "AAE="})).unwrap();
    assert_eq!(b.blob(), Some("AAE="));
    assert_eq!(serde_json::to_value(&b).unwrap(), json!({"uri": "a://b", "blob": "AAE="}));
    let e = serde_json::from_value::<ResourceContents>(json!({"uri": "a://n"})).unwrap_err();
    assert!(e.to_string().contains("neither text nor blob"), "{e}");
}

#[test]
fn tool_results_decode_every_content_kind() {
    let r: CallToolResult = serde_json::from_value(json!({
        "content": [
            {"type": "text", "text": "one"},
            {"type": "image", "data": "AA==", "mimeType": "image/png"},
            {"type": "resource_link", "uri": "a://x", "name": "x"},
            {"type": "resource", "resource": {"uri": "a://y", "text": "y"}},
            {"type": "text", "text": "two"},
            {"type": "hologram", "data": "?"}
        ],
        "structuredContent": {"rows": 2},
        "isError": false
    }))
    .unwrap();
    assert_eq!(r.content.len(), 6);
    assert_eq!(r.content[5], Content::Unknown);
    assert_eq!(r.text(), "one\ntwo");
    assert_eq!(r.structured_content, Some(json!({"rows": 2})));
    assert!(!r.is_error);
    // 2026-07-28: any JSON value, `null` too (kept apart from an absent field).
    let null: CallToolResult = serde_json::from_value(json!({"content": [], "structuredContent": null})).unwrap();
    assert_eq!(null.structured_content, Some(Value::Null));
    let absent: CallToolResult = serde_json::from_value(json!({"content": []})).unwrap();
    assert_eq!(absent.structured_content, None);
}

#[test]
fn paged_results_carry_the_cursor() {
    let p: ListResourcesResult =
        serde_json::from_value(json!({"resources": [{"uri": "a://1", "name": "1"}], "nextCursor": "c2"})).unwrap();
    assert_eq!(p.resources.len(), 1);
    assert_eq!(p.next_cursor.as_deref(), Some("c2"));
    let t: ListToolsResult = serde_json::from_value(
        json!({"tools": [{"name": "q", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}]}),
    )
    .unwrap();
    assert!(t.tools[0].output_schema.is_some());
    assert!(t.next_cursor.is_none());
}

#[test]
fn initialize_result_decodes() {
    let r: InitializeResult = serde_json::from_value(json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {"resources": {"subscribe": false, "listChanged": true}, "tools": {"listChanged": false}},
        "serverInfo": {"name": "s", "version": "1"}
    }))
    .unwrap();
    assert_eq!(r.capabilities.resources.unwrap().list_changed, Some(true));
}
