//! `read URI`: reads one resource after a listings-only gather, from the server that wins the
//! URI or else from the first reachable server that can read it.

use mcp_orchestrator::{Gathered, Orchestrator, Status};

use crate::Failure;
use crate::args::{Cli, Format, ReadArgs};
use crate::output::{self, emit};

use super::{listing, print_json};

/// `read URI`: the listings-only gather ([`listing`]), then [`read`].
pub fn run(cli: &Cli, args: &ReadArgs) -> Result<(), Failure> {
    listing(cli, &args.listing, |o, g| read(o, g, &args.uri, args.listing.format))
}

/// `read URI`: from the server that wins the URI, else from the first reachable server (in
/// priority order) that can read it.
fn read(o: &Orchestrator, g: &Gathered, uri: &str, format: Format) -> Result<(), Failure> {
    let candidates: Vec<&str> = match g.resource(uri) {
        Some(m) => vec![m.server.as_str()],
        None => g.servers.iter().filter(|s| s.status == Status::Ok).map(|s| s.name.as_str()).collect(),
    };
    let mut errors = Vec::new();
    for server in candidates {
        match o.client(server).and_then(|c| c.read_resource(uri)) {
            Ok(contents) => {
                match format {
                    Format::Table => emit(&output::contents_text(&contents)),
                    Format::Json => {
                        print_json(&serde_json::json!({"uri": uri, "server": server, "contents": contents}))?
                    }
                }
                return Ok(());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(Failure::Other(match g.resource(uri) {
        Some(_) => errors.join("; "),
        None if errors.is_empty() => format!("no reachable server to read `{uri}` from"),
        None => format!("no server lists `{uri}`, and none could read it: {}", errors.join("; ")),
    }))
}
