//! `prompts get NAME`: gets one prompt, with its arguments, from the server that owns the
//! merged name in the catalogue.

use mcp_orchestrator::{Gathered, Orchestrator, Status};

use crate::Failure;
use crate::args::{Cli, Format, PromptGetArgs};
use crate::output::{self, emit};

use super::{listing, print_json};

/// `prompts get NAME`: the listings-only gather ([`listing`]), then [`prompt`].
pub fn get(cli: &Cli, args: &PromptGetArgs) -> Result<(), Failure> {
    listing(cli, &args.listing, |o, g| prompt(o, g, &args.name, &args.arguments(), args.listing.format))
}

/// `prompts get NAME`: from the server that owns NAME in the catalogue.
fn prompt(
    o: &Orchestrator,
    g: &Gathered,
    name: &str,
    arguments: &std::collections::BTreeMap<String, String>,
    format: Format,
) -> Result<(), Failure> {
    let Some(merged) = g.prompt(name) else {
        let failed = g.servers.iter().filter(|s| s.status == Status::Failed).count();
        let also = if failed > 0 { format!(" ({failed} server(s) could not be asked)") } else { String::new() };
        return Err(Failure::Other(format!("no server offers a prompt named `{name}`{also}")));
    };
    let result = o.get_prompt_on(&merged.server, &merged.original, arguments)?;
    match format {
        Format::Table => emit(&output::prompt_text(&result)),
        Format::Json => print_json(&serde_json::json!({
            "name": name,
            "server": merged.server,
            "original": merged.original,
            "description": result.description,
            "messages": result.messages,
        }))?,
    }
    Ok(())
}
