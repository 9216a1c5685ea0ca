//! `demo`: two embedded test servers shaped like the seed's Database MCP and Product Metadata
//! MCP, and a walk through initialize, gather, cached gather, executor and a query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::TestServer;
use mcp_orchestrator::{CallToolResult, Config, Orchestration, Orchestrator, ServerConfig, Tool};
use serde_json::{Value, json};

use crate::Failure;
use crate::args::Cli;
use crate::logging::init_logging;
use crate::output::{Table, cache_line, emit, human, resources_table, servers_table};

/// The query the demo runs through the executor.
const DEMO_QUERY: &str = "SELECT * FROM customers LIMIT 3";
const DATABASE: &str = "database_mcp";
const PRODUCTS: &str = "product_metadata_mcp";

/// Runs the demo, printing to stdout.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    // As the sample config (mcp_config.yaml) would: the library's info lines on stderr.
    init_logging(cli.level_from_flags(), Some(log::LevelFilter::Info));
    let started = Instant::now();
    say!("mcp-orchestrator demo: two embedded MCP servers on loopback; nothing installed, nothing written");
    say!(
        "(an MCP server offers resources, read-only documents named by a URI, and tools, functions a client \
         calls; the orchestrator uses many servers as one)\n"
    );

    let t = Instant::now();
    let database = database_server().map_err(|e| Failure::Other(format!("cannot start the database server: {e}")))?;
    let products = product_metadata_server()
        .map_err(|e| Failure::Other(format!("cannot start the product metadata server: {e}")))?;
    let servers_started = t.elapsed();
    say!("servers ({} to start):", human(servers_started));
    let mut t = Table::new(&["NAME", ">PRIORITY", "URL", "DOMAINS", "CAPABILITIES"]);
    t.row(vec![
        DATABASE.into(),
        "10".into(),
        database.url().into(),
        "sales, orders".into(),
        "execute_query, list_resources".into(),
    ]);
    t.row(vec![
        PRODUCTS.into(),
        "1".into(),
        products.url().into(),
        "products, aliases".into(),
        "list_resources".into(),
    ]);
    emit(&t.render("  "));

    let config = demo_config(database.url(), products.url()).map_err(Failure::Config)?;
    let orchestrator = Orchestrator::new(config);
    let result = walk(&orchestrator);

    let t = Instant::now();
    orchestrator.close();
    database.shutdown();
    products.shutdown();
    let closed = t.elapsed();
    let costs = result?;

    say!("\n7. close: sessions closed, threads joined, servers stopped ({})", human(closed));
    say!("\nwhat each step cost:");
    let mut t = Table::new(&["STEP", ">TIME"]);
    t.row(vec!["start the two servers".into(), human(servers_started)]);
    for (step, d) in costs {
        t.row(vec![step.into(), human(d)]);
    }
    t.row(vec!["close".into(), human(closed)]);
    t.row(vec!["total".into(), human(started.elapsed())]);
    emit(&t.render("  "));
    Ok(())
}

/// Steps 1 to 6; returns the name and cost of each. The caller closes whatever happens.
fn walk(o: &Orchestrator) -> Result<Vec<(&'static str, Duration)>, Failure> {
    let mut costs = Vec::new();

    let t = Instant::now();
    o.initialize()?;
    let d = t.elapsed();
    costs.push(("initialize (connect + handshake, in parallel)", d));
    say!("\n1. initialize: connected to {} servers in parallel ({})", o.config().servers.len(), human(d));

    let t = Instant::now();
    let first = o.gather_all_resources()?;
    let d = t.elapsed();
    costs.push(("gather (lists + reads, in parallel)", d));
    say!("\n2. gather: op {}, {} merged resources ({})", first.op, first.resources.len(), human(d));
    emit(&servers_table(&first, "  "));
    say!("\n3. merged resources (lowest priority number wins a shared URI):");
    emit(&resources_table(&first, "  "));
    for m in first.resources.iter().filter(|m| !m.shadowed.is_empty()) {
        say!(
            "  {} is offered by {} (priority {}) and by {}: the lower number wins, the others are shadowed",
            m.resource.uri,
            m.server,
            m.priority,
            m.shadowed.join(", ")
        );
    }
    if let Some(tables) = described_tables(&first) {
        say!("  database://metadata describes: {tables}");
    }

    let t = Instant::now();
    let second = o.gather_all_resources()?;
    let d = t.elapsed();
    costs.push(("gather again (cache)", d));
    if Arc::ptr_eq(&first, &second) {
        say!(
            "\n4. gather again: op {} again, the same result served from the cache, no request sent ({})",
            second.op,
            human(d)
        );
    } else {
        let cached = second.servers.iter().filter(|s| s.from_cache).count();
        say!(
            "\n4. gather again: op {}, {cached} of {} servers from the cache ({})",
            second.op,
            second.servers.len(),
            human(d)
        );
    }
    say!("  {}", cache_line(&o.cache_stats()));

    let t = Instant::now();
    let executor = o.executor()?;
    let d = t.elapsed();
    costs.push(("pick the executor", d));
    say!(
        "\n5. executor: {} (the connected server with the lowest priority number that lists execute_query; {})",
        executor.name(),
        human(d)
    );

    let t = Instant::now();
    let result = o.call_tool_on(Some(executor.name()), "execute_query", json!({ "query": DEMO_QUERY }))?;
    let d = t.elapsed();
    costs.push(("execute_query through the executor", d));
    say!("\n6. execute_query {DEMO_QUERY:?} on {} ({}):", executor.name(), human(d));
    if result.is_error {
        return Err(Failure::Other(format!("the query failed: {}", result.text())));
    }
    emit(&rows_table(&result).unwrap_or_else(|| format!("  {}\n", result.text())));
    Ok(costs)
}

/// "customers (4 columns), …", read back from the gathered contents of `database://metadata`.
fn described_tables(g: &mcp_orchestrator::Gathered) -> Option<String> {
    let text = g.contents("database://metadata")?.first()?.text()?;
    let metadata: Value = serde_json::from_str(text).ok()?;
    let tables: Vec<String> = metadata
        .get("tables")?
        .as_array()?
        .iter()
        .filter_map(|t| {
            let columns = t.get("columns").and_then(Value::as_array).map_or(0, Vec::len);
            Some(format!("{} ({columns} columns)", t.get("name")?.as_str()?))
        })
        .collect();
    Some(tables.join(", "))
}

/// The rows of an `execute_query` result as a table (from `structuredContent`).
fn rows_table(result: &CallToolResult) -> Option<String> {
    let s = result.structured_content.as_ref()?;
    let columns: Vec<&str> = s.get("columns")?.as_array()?.iter().filter_map(Value::as_str).collect();
    let rows = s.get("rows")?.as_array()?;
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let mut t = Table::new(&header);
    for row in rows {
        let cells = row.as_array()?.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect();
        t.row(cells);
    }
    Some(format!("{}  ({} rows)\n", t.render("  "), rows.len()))
}

fn demo_config(database_url: &str, products_url: &str) -> mcp_orchestrator::Result<Config> {
    let strings = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut database = ServerConfig::sse(DATABASE, database_url);
    database.priority = 10;
    database.domains = strings(&["sales", "orders"]);
    database.capabilities = strings(&["execute_query", "list_resources"]);
    database.timeout = Duration::from_secs(10);
    let mut products = ServerConfig::sse(PRODUCTS, products_url);
    products.priority = 1;
    products.domains = strings(&["products", "aliases"]);
    products.capabilities = strings(&["list_resources"]);
    products.timeout = Duration::from_secs(10);
    let mut orchestration = Orchestration::default();
    orchestration.resource_cache_ttl = Duration::from_secs(300);
    orchestration.fail_fast = true;
    Config::new(vec![database, products], orchestration)
}

// ---------------------------------------------------------------------------------------------
// The Database MCP: a small sales schema and a read-only SELECT over it
// ---------------------------------------------------------------------------------------------

/// An in-memory table.
struct TableData {
    name: &'static str,
    columns: &'static [(&'static str, &'static str)],
    rows: Vec<Vec<Value>>,
}

fn sales_tables() -> Vec<TableData> {
    vec![
        TableData {
            name: "customers",
            columns: &[("id", "INTEGER"), ("name", "TEXT"), ("email", "TEXT"), ("city", "TEXT")],
            rows: vec![
                vec![json!(1), json!("Ada Lovelace"), json!("ada@example.com"), json!("London")],
                vec![json!(2), json!("Grace Hopper"), json!("grace@example.com"), json!("New York")],
                vec![json!(3), json!("Alan Turing"), json!("alan@example.com"), json!("Manchester")],
                vec![json!(4), json!("Edsger Dijkstra"), json!("edsger@example.com"), json!("Eindhoven")],
                vec![json!(5), json!("Barbara Liskov"), json!("barbara@example.com"), json!("Boston")],
            ],
        },
        TableData {
            name: "products",
            columns: &[("id", "INTEGER"), ("name", "TEXT"), ("category", "TEXT"), ("price", "REAL")],
            rows: vec![
                vec![json!(1), json!("Widget Pro"), json!("widgets"), json!(19.99)],
                vec![json!(2), json!("Gadget Max"), json!("gadgets"), json!(49.5)],
                vec![json!(3), json!("Gizmo Lite"), json!("gizmos"), json!(9.25)],
            ],
        },
        TableData {
            name: "orders",
            columns: &[("id", "INTEGER"), ("customer_id", "INTEGER"), ("order_date", "DATE"), ("status", "TEXT")],
            rows: vec![
                vec![json!(100), json!(1), json!("2024-03-01"), json!("shipped")],
                vec![json!(101), json!(2), json!("2024-03-02"), json!("pending")],
                vec![json!(102), json!(1), json!("2024-03-05"), json!("delivered")],
                vec![json!(103), json!(4), json!("2024-03-09"), json!("shipped")],
            ],
        },
        TableData {
            name: "order_items",
            columns: &[
                ("order_id", "INTEGER"),
                ("product_id", "INTEGER"),
                ("quantity", "INTEGER"),
                ("unit_price", "REAL"),
            ],
            rows: vec![
                vec![json!(100), json!(1), json!(2), json!(19.99)],
                vec![json!(100), json!(3), json!(1), json!(9.25)],
                vec![json!(101), json!(2), json!(1), json!(49.5)],
                vec![json!(102), json!(1), json!(5), json!(19.99)],
                vec![json!(103), json!(3), json!(4), json!(9.25)],
            ],
        },
    ]
}

/// The `database://metadata` document: tables, columns, row counts, relationships.
fn database_metadata(tables: &[TableData]) -> Value {
    let tables: Vec<Value> = tables
        .iter()
        .map(|t| {
            let columns: Vec<Value> = t.columns.iter().map(|(n, ty)| json!({"name": n, "type": ty})).collect();
            json!({"name": t.name, "columns": columns, "row_count": t.rows.len()})
        })
        .collect();
    json!({
        "database": "sales",
        "dialect": "a read-only subset of SQL: SELECT * | <columns> FROM <table> [LIMIT n]",
        "tables": tables,
        "relationships": [
            {"from": "orders.customer_id", "to": "customers.id"},
            {"from": "order_items.order_id", "to": "orders.id"},
            {"from": "order_items.product_id", "to": "products.id"}
        ]
    })
}

const SUPPORTED: &str =
    "supported: SELECT * FROM <table> [LIMIT n] and SELECT <col>[, <col>...] FROM <table> [LIMIT n]";

/// A parsed query.
#[derive(Debug, PartialEq)]
struct Select {
    columns: Option<Vec<String>>,
    table: String,
    limit: Option<usize>,
}

/// Parses the tiny SELECT dialect; the error says what is supported.
fn parse_select(query: &str) -> Result<Select, String> {
    let query = query.trim().trim_end_matches(';').trim();
    let tokens: Vec<&str> = query.split_whitespace().collect();
    let keyword = |i: usize, k: &str| tokens.get(i).is_some_and(|t| t.eq_ignore_ascii_case(k));
    if !keyword(0, "select") {
        let first = tokens.first().copied().unwrap_or("(empty query)");
        return Err(format!("only SELECT is supported by this read-only demo database, not `{first}`; {SUPPORTED}"));
    }
    let Some(from) = tokens.iter().position(|t| t.eq_ignore_ascii_case("from")) else {
        return Err(format!("no FROM clause; {SUPPORTED}"));
    };
    let list = tokens[1..from].join(" ");
    let columns = if list.trim() == "*" {
        None
    } else {
        let cols: Vec<String> = list.split(',').map(|c| c.trim().to_string()).collect();
        if cols.iter().any(|c| c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')) {
            return Err(format!("cannot read the column list `{list}`; {SUPPORTED}"));
        }
        Some(cols)
    };
    let Some(table) = tokens.get(from + 1) else {
        return Err(format!("no table after FROM; {SUPPORTED}"));
    };
    let limit = match &tokens[from + 2..] {
        [] => None,
        [l, n] if l.eq_ignore_ascii_case("limit") => {
            Some(n.parse::<usize>().map_err(|_| format!("LIMIT needs a non-negative integer, not `{n}`"))?)
        }
        rest => return Err(format!("unsupported clause `{}`; {SUPPORTED}", rest.join(" "))),
    };
    Ok(Select { columns, table: table.to_string(), limit })
}

/// Runs a query over the tables: `{columns, rows, row_count}`.
fn run_select(tables: &[TableData], query: &str) -> Result<Value, String> {
    let select = parse_select(query)?;
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    let Some(table) = tables.iter().find(|t| t.name.eq_ignore_ascii_case(&select.table)) else {
        return Err(format!("unknown table `{}` (tables: {})", select.table, names.join(", ")));
    };
    let all: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
    let picked: Vec<usize> = match &select.columns {
        None => (0..all.len()).collect(),
        Some(cols) => cols
            .iter()
            .map(|c| {
                all.iter().position(|a| a.eq_ignore_ascii_case(c)).ok_or_else(|| {
                    format!("unknown column `{c}` in table `{}` (columns: {})", table.name, all.join(", "))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let rows: Vec<Value> = table
        .rows
        .iter()
        .take(select.limit.unwrap_or(usize::MAX))
        .map(|row| Value::Array(picked.iter().map(|&i| row[i].clone()).collect()))
        .collect();
    let columns: Vec<&str> = picked.iter().map(|&i| all[i]).collect();
    Ok(json!({"columns": columns, "rows": rows, "row_count": rows.len()}))
}

fn execute_query_tool() -> Result<Tool, serde_json::Error> {
    serde_json::from_value(json!({
        "name": "execute_query",
        "title": "Execute a SQL query",
        "description": format!("Runs a read-only query on the sales database; {SUPPORTED}"),
        "inputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "the SQL query"}},
            "required": ["query"]
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "array"}},
                "row_count": {"type": "integer"}
            },
            "required": ["columns", "rows", "row_count"]
        },
        "annotations": {"readOnlyHint": true}
    }))
}

/// The Database MCP.
pub fn database_server() -> std::io::Result<TestServer> {
    let tables = Arc::new(sales_tables());
    let metadata = serde_json::to_string_pretty(&database_metadata(&tables)).map_err(std::io::Error::other)?;
    let tool = execute_query_tool().map_err(std::io::Error::other)?;
    TestServer::builder()
        .name("database-mcp")
        .text_resource("database://metadata", "database_metadata", "application/json", &metadata)
        // Also offered by the product metadata server, which has the lower priority number:
        // this one is shadowed in the merge.
        .text_resource(
            "metadata-summary://info",
            "metadata_summary",
            "application/json",
            &json!({"tables": tables.len(), "source": "database"}).to_string(),
        )
        .tool(tool, move |args| {
            let query = args
                .get("query")
                .and_then(Value::as_str)
                .ok_or_else(|| "missing argument `query` (a string)".to_string())?;
            let result = run_select(&tables, query)?;
            let text = serde_json::to_string(&result).map_err(|e| e.to_string())?;
            Ok(CallToolResult::from_text(text).with_structured_content(result))
        })
        .start()
}

/// The Product Metadata MCP.
pub fn product_metadata_server() -> std::io::Result<TestServer> {
    let aliases = json!({"aliases": [
        {"alias": "widget", "product_id": 1, "canonical_name": "Widget Pro"},
        {"alias": "pro widget", "product_id": 1, "canonical_name": "Widget Pro"},
        {"alias": "gadget", "product_id": 2, "canonical_name": "Gadget Max"},
        {"alias": "gizmo", "product_id": 3, "canonical_name": "Gizmo Lite"}
    ]});
    let mappings = json!({"mappings": [
        {"user_term": "customer name", "table": "customers", "column": "name"},
        {"user_term": "revenue", "table": "order_items", "column": "quantity * unit_price"},
        {"user_term": "order date", "table": "orders", "column": "order_date"},
        {"user_term": "product category", "table": "products", "column": "category"}
    ]});
    let summary = json!({
        "product_aliases": aliases["aliases"].as_array().map_or(0, Vec::len),
        "column_mappings": mappings["mappings"].as_array().map_or(0, Vec::len),
        "domains": ["products", "aliases"],
        "last_updated": "2024-03-10T00:00:00Z"
    });
    let text = |v: &Value| serde_json::to_string_pretty(v).map_err(std::io::Error::other);
    TestServer::builder()
        .name("product-metadata-mcp")
        .text_resource("product-aliases://list", "product_aliases", "application/json", &text(&aliases)?)
        .text_resource("column-mappings://list", "column_mappings", "application/json", &text(&mappings)?)
        .text_resource("metadata-summary://info", "metadata_summary", "application/json", &text(&summary)?)
        .start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_all_some_columns_and_limits() {
        let tables = sales_tables();
        let r = run_select(&tables, "SELECT * FROM customers LIMIT 3").unwrap();
        assert_eq!(r["row_count"], 3);
        assert_eq!(r["columns"], json!(["id", "name", "email", "city"]));
        assert_eq!(r["rows"][0], json!([1, "Ada Lovelace", "ada@example.com", "London"]));
        let r = run_select(&tables, "select name,price from PRODUCTS;").unwrap();
        assert_eq!(r["columns"], json!(["name", "price"]));
        assert_eq!(r["row_count"], 3);
        let r = run_select(&tables, "SELECT order_id , quantity FROM order_items LIMIT 0").unwrap();
        assert_eq!(r["rows"], json!([]));
    }

    #[test]
    fn anything_else_is_an_error_that_says_what_is_supported() {
        let tables = sales_tables();
        let e = run_select(&tables, "DELETE FROM customers").unwrap_err();
        assert!(e.contains("only SELECT") && e.contains("supported:"), "{e}");
        let e = run_select(&tables, "SELECT * FROM users").unwrap_err();
        assert!(e.contains("unknown table `users`") && e.contains("customers"), "{e}");
        let e = run_select(&tables, "SELECT nope FROM customers").unwrap_err();
        assert!(e.contains("unknown column `nope`"), "{e}");
        assert!(
            run_select(&tables, "SELECT * FROM customers WHERE id = 1").unwrap_err().contains("unsupported clause")
        );
        assert!(run_select(&tables, "SELECT * FROM customers LIMIT -1").unwrap_err().contains("LIMIT"));
        assert!(run_select(&tables, "SELECT *").unwrap_err().contains("no FROM"));
        assert!(run_select(&tables, "SELECT * FROM").unwrap_err().contains("no table"));
        assert!(run_select(&tables, "").unwrap_err().contains("only SELECT"));
        assert!(run_select(&tables, "SELECT a b FROM customers").unwrap_err().contains("column list"));
    }

    #[test]
    fn metadata_describes_every_table() {
        let m = database_metadata(&sales_tables());
        let names: Vec<&str> = m["tables"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["customers", "products", "orders", "order_items"]);
        assert!(execute_query_tool().is_ok());
    }
}
