//! `check`: validates a config and lists its servers as understood; does not connect.

use crate::Failure;
use crate::args::{CheckArgs, Cli, Format};
use crate::output::{self, emit};

use super::{load, print_json};

/// `check`: the config's servers and orchestration settings, then what the loader assumed or
/// left out; an invalid config is exit 2 (from [`load`]).
pub fn run(cli: &Cli, args: &CheckArgs) -> Result<(), Failure> {
    let config = load(cli, &args.config.config)?;
    match args.format {
        Format::Table => {
            emit(&output::config_table(&config));
            let notes = output::config_notes(&config);
            if !notes.is_empty() {
                say!(
                    "\nread as {} config; assumed or left out:\n{}",
                    output::format_name(config.format()),
                    notes.trim_end()
                );
            }
            say!("\nok: {} server(s), {} enabled", config.servers.len(), config.enabled_servers().count());
        }
        Format::Json => print_json(&output::config_json(&config))?,
    }
    Ok(())
}
