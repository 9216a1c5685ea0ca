//! `tools`, `resources` and `prompts`: the catalogue's listings, after a gather without
//! contents ([`listing`]).

use crate::Failure;
use crate::args::{Cli, Format, GatherArgs};
use crate::output::{self, emit};

use super::{listing, print_json};

/// `tools`: every tool with the server that offers it.
pub fn tools(cli: &Cli, args: &GatherArgs) -> Result<(), Failure> {
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
