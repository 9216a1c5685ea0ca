//! `tools`, `resources` and `prompts`: the catalogue's listings, after a gather without
//! contents ([`listing`]).

use crate::Failure;
use crate::args::{Cli, Format, GatherArgs, ToolsArgs};
use crate::output::{self, emit};

use super::{listing, print_json};

/// `tools`: every tool with the server that offers it and its size in tokens; with
/// `--search`, the best matches of the merged catalogue.
pub fn tools(cli: &Cli, args: &ToolsArgs) -> Result<(), Failure> {
    if let Some(query) = &args.search {
        return listing(cli, &args.listing, |_, g| {
            let found = g.search_tools(query, args.limit.max(1));
            match args.listing.format {
                Format::Table => {
                    emit(&output::search_table(g, &found));
                    Ok(())
                }
                Format::Json => print_json(&output::search_json(g, query, &found)),
            }
        });
    }
    let args = &args.listing;
    listing(cli, args, |_, g| match args.format {
        Format::Table => {
            emit(&output::tools_table(g));
            Ok(())
        }
        Format::Json => print_json(&output::tools_json(g)),
    })
}

/// `resources`: the merged resources, then every template with its server.
pub fn resources(cli: &Cli, args: &GatherArgs) -> Result<(), Failure> {
    listing(cli, args, |_, g| match args.format {
        Format::Table => {
            emit(&output::resources_and_templates_table(g));
            Ok(())
        }
        Format::Json => print_json(&output::resources_json(g)),
    })
}

/// `prompts` (without `get`): the catalogue's prompts by merged name.
pub fn prompts(cli: &Cli, args: &GatherArgs) -> Result<(), Failure> {
    listing(cli, args, |_, g| match args.format {
        Format::Table => {
            emit(&output::prompts_table(g));
            Ok(())
        }
        Format::Json => print_json(&output::prompts_json(g)),
    })
}
