//! The client under test for the official MCP conformance suite
//! (npm `@modelcontextprotocol/conformance`), written against the crate's public API only.
//!
//! The suite runs it as `conformance_client <server URL>` with the scenario in
//! `MCP_CONFORMANCE_SCENARIO`, its context (JSON, some scenarios) in `MCP_CONFORMANCE_CONTEXT`
//! and the wire revision in `MCP_CONFORMANCE_PROTOCOL_VERSION`. Exit status: 0 when the
//! scenario's client steps succeeded, 1 when one failed (the error on stderr), 2 for a scenario
//! this client does not implement. `.ci/run` runs the suite; by hand:
//!
//! ```sh
//! cargo build --example conformance_client
//! cd /tmp/conf && ./node_modules/.bin/node node_modules/@modelcontextprotocol/conformance/dist/index.js \
//!     client --command "$OLDPWD/target/debug/examples/conformance_client" --scenario tools_call
//! ```
//!
//! Authorization scenarios (`auth/…`) use the library's OAuth: the authorization code flow with
//! [`ImmediateRedirect`] as the person's step (the suite's authorization server redirects at
//! once), the suite's Client ID Metadata Document URL, a pre-registered client when the context
//! names one, and client credentials for the `client-credentials-*` extensions.
//!
//! `RUST_LOG=debug` (with `--verbose`) shows the exchange on stderr.

use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use mcp_orchestrator::{
    AuthConfig, Client, ClientCredentialsConfig, ElicitRequest, ElicitResult, HandlerError, Handlers,
    ImmediateRedirect, OAuthConfig, ProtocolChoice, RequestContext, Secret, ServerConfig, Transport,
};
use serde_json::{Value, json};

/// Each step's deadline: short, so that a failure shows as a failed check, not a killed client.
const TIMEOUT: Duration = Duration::from_secs(10);

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let _ = env_logger::builder().format_timestamp_millis().try_init();
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: conformance_client <server URL> (scenario in MCP_CONFORMANCE_SCENARIO)");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let wire = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|_| "2025-11-25".into());
    eprintln!("conformance_client: scenario {scenario:?} at {wire} against {url}");
    let outcome = match scenario.as_str() {
        // Connect (initialize), list the tools.
        "initialize" => list_tools(&url),
        // Call add_numbers with numeric arguments.
        "tools_call" => tools_call(&url),
        // Declare elicitation; accept the form with every default it declares.
        "elicitation-sep1034-client-defaults" => elicitation_defaults(&url),
        // A tool call whose reply stream ends early: resumed with Last-Event-ID after `retry`.
        "sse-retry" => call_first_tool(&url, "test_reconnection"),
        // Send a tool's inputSchema back, exactly as received.
        "json-schema-2020-12-preservation" => schema_echo(&url),
        // 2026-07-28: every request carries _meta (version, capabilities, client info).
        "request-metadata" | "json-schema-ref-no-deref" => list_tools(&url),
        // Multi round-trip calls: answer inputRequests (elicitation), echo requestState.
        "sep-2322-client-request-state" => request_state(&url),
        // Mcp-Method / Mcp-Name on every request: exercise every tool and resource.
        "http-standard-headers" => standard_headers(&url),
        // Mcp-Param-* from x-mcp-header: call the context's tool calls verbatim.
        "http-custom-headers" => custom_headers(&url, &context),
        // Tools with invalid x-mcp-header annotations are dropped by the library: call the rest.
        "http-invalid-tool-headers" => call_every_tool(&url),
        // Client credentials (extensions): the context names the client.
        "auth/client-credentials-basic" | "auth/client-credentials-jwt" => {
            authorized(&url, client_credentials(&context))
        }
        // The authorization code flow against the suite's authorization server, which redirects
        // at once: list the tools and call one (step-up and migration need requests after it).
        s if s.starts_with("auth/") => authorized(&url, oauth(&context)),
        other => {
            eprintln!("conformance_client: scenario {other:?} is not implemented (context {context})");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance_client: {scenario}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn connect(url: &str, handlers: Handlers) -> Result<Client, Box<dyn std::error::Error>> {
    connect_with(url, handlers, None)
}

fn connect_with(url: &str, handlers: Handlers, auth: Option<AuthConfig>) -> Result<Client, Box<dyn std::error::Error>> {
    let mut config = ServerConfig::new("conformance", Transport::Http { url: url.into() });
    config.timeout = TIMEOUT;
    // The suite asks for one wire; MCP_CONFORMANCE_PROTOCOL=auto lets the client detect it.
    config.protocol = match std::env::var("MCP_CONFORMANCE_PROTOCOL").as_deref() {
        Ok("auto") => ProtocolChoice::Auto,
        _ => ProtocolChoice::Version(
            std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|_| "2025-11-25".into()),
        ),
    };
    config.auth = auth;
    Ok(Client::builder(&config).handlers(handlers).authorization_handler(Arc::new(ImmediateRedirect)).connect()?)
}

/// The client metadata document URL the suite's CIMD scenarios expect.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

fn context_str(context: &Value, key: &str) -> Option<String> {
    context.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The authorization code flow; a pre-registered client when the context names one.
fn oauth(context: &Value) -> AuthConfig {
    let mut config =
        OAuthConfig::new().client_metadata_url(CLIENT_METADATA_URL).client_name("mcp-orchestrator conformance client");
    config.client_id = context_str(context, "client_id");
    config.client_secret = context_str(context, "client_secret").map(Secret::new);
    AuthConfig::OAuth(config)
}

fn client_credentials(context: &Value) -> AuthConfig {
    let mut config = ClientCredentialsConfig::default();
    config.client_id = context_str(context, "client_id").unwrap_or_default();
    config.client_secret = context_str(context, "client_secret").map(Secret::new);
    config.private_key_pem = context_str(context, "private_key_pem").map(Secret::new);
    config.signing_algorithm = context_str(context, "signing_algorithm");
    AuthConfig::ClientCredentials(config)
}

fn authorized(url: &str, auth: AuthConfig) -> Outcome {
    let client = connect_with(url, Handlers::new(), Some(auth))?;
    let tools = client.list_tools()?;
    let tool = tools.iter().find(|t| t.name == "test-tool").or(tools.first()).ok_or("the server lists no tool")?;
    let result = client.call_tool(&tool.name, json!({}))?;
    eprintln!("{}: {}", tool.name, result.text());
    client.close();
    Ok(())
}

fn list_tools(url: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    client.list_tools()?;
    client.close();
    Ok(())
}

fn tools_call(url: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    let tools = client.list_tools()?;
    if !tools.iter().any(|t| t.name == "add_numbers") {
        return Err("the server lists no add_numbers tool".into());
    }
    let result = client.call_tool("add_numbers", json!({ "a": 2, "b": 3 }))?;
    eprintln!("add_numbers(2, 3) = {}", result.text());
    client.close();
    Ok(())
}

fn elicitation_defaults(url: &str) -> Outcome {
    let handlers = Handlers::new().elicitation(
        |cx: &RequestContext, request: ElicitRequest| -> Result<ElicitResult, HandlerError> {
            eprintln!("elicitation from {}: {:?}", cx.server, request.message);
            Ok(ElicitResult::accept(request.defaults()))
        },
    );
    let client = connect(url, handlers)?;
    client.list_tools()?;
    let result = client.call_tool("test_client_elicitation_defaults", json!({}))?;
    eprintln!("result: {}", result.text());
    client.close();
    Ok(())
}

fn call_first_tool(url: &str, name: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    let tools = client.list_tools()?;
    let tool = tools.iter().find(|t| t.name == name).or(tools.first()).ok_or("the server lists no tool")?;
    let result = client.call_tool(&tool.name, json!({}))?;
    eprintln!("{}: {}", tool.name, result.text());
    client.close();
    Ok(())
}

fn schema_echo(url: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    let tools = client.list_tools()?;
    let schema = tools
        .iter()
        .find(|t| t.name == "json_schema_2020_12_tool")
        .map(|t| t.input_schema.clone())
        .ok_or("the server lists no json_schema_2020_12_tool")?;
    let result = client.call_tool("json_schema_echo", json!({ "schema": schema }))?;
    eprintln!("json_schema_echo: {}", result.text());
    client.close();
    Ok(())
}

fn request_state(url: &str) -> Outcome {
    let handlers =
        Handlers::new().elicitation(|_: &RequestContext, _: ElicitRequest| -> Result<ElicitResult, HandlerError> {
            let mut content = serde_json::Map::new();
            content.insert("confirmed".into(), json!(true));
            Ok(ElicitResult::accept(content))
        });
    let client = connect(url, handlers)?;
    client.list_tools()?;
    for tool in ["test_mrtr_echo_state", "test_mrtr_no_state", "test_mrtr_unrelated", "test_mrtr_no_result_type"] {
        let result = client.call_tool(tool, json!({}))?;
        eprintln!("{tool}: {}", result.text());
    }
    client.close();
    Ok(())
}

fn standard_headers(url: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    for tool in client.list_tools()? {
        client.call_tool(&tool.name, arguments_for(&tool.input_schema))?;
    }
    for resource in client.list_resources()? {
        client.read_resource(&resource.uri)?;
    }
    client.close();
    Ok(())
}

fn custom_headers(url: &str, context: &Value) -> Outcome {
    let client = connect(url, Handlers::new())?;
    client.list_tools()?;
    let calls = context.get("toolCalls").and_then(Value::as_array).ok_or("the context has no toolCalls")?;
    for call in calls {
        let name = call.get("name").and_then(Value::as_str).ok_or("a tool call without a name")?;
        let arguments = call.get("arguments").cloned().unwrap_or_else(|| json!({}));
        client.call_tool(name, arguments)?;
    }
    client.close();
    Ok(())
}

fn call_every_tool(url: &str) -> Outcome {
    let client = connect(url, Handlers::new())?;
    for tool in client.list_tools()? {
        let result = client.call_tool(&tool.name, arguments_for(&tool.input_schema))?;
        eprintln!("{}: {}", tool.name, result.text());
    }
    client.close();
    Ok(())
}

/// Arguments for a tool, one plausible value per declared property (by its `type`).
fn arguments_for(schema: &Value) -> Value {
    let mut args = serde_json::Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let value = match property.get("type").and_then(Value::as_str) {
                Some("string") => json!("us-west1"),
                Some("integer") => json!(1),
                Some("number") => json!(1.5),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => continue,
            };
            args.insert(name.clone(), value);
        }
    }
    Value::Object(args)
}
