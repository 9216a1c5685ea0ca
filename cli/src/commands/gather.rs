//! `gather`: connects to the servers, gathers everything (contents included), prints each
//! server's outcome and the merged resources; a failure with `--format json` is a document too.

use mcp_orchestrator::Orchestrator;

use crate::Failure;
use crate::args::{Cli, Format, GatherArgs};
use crate::output::{self, emit};

use super::{initialize, load, login, partial, print_json, run_config};

/// `gather`: the config for the command line, one orchestrator, closed whatever the outcome.
pub fn run(cli: &Cli, args: &GatherArgs) -> Result<(), Failure> {
    let config = run_config(load(cli, &args.config.config)?, &args.servers, &args.run)?;
    let orchestrator = login::orchestrator(config, cli.no_browser);
    let result = gather(&orchestrator, args.format);
    orchestrator.close();
    result
}

/// Initializes, gathers and prints; partial (exit 3) when some servers failed.
fn gather(o: &Orchestrator, format: Format) -> Result<(), Failure> {
    let gathered = initialize(o).and_then(|()| Ok(o.gather_all_resources()?));
    let stats = o.cache_stats();
    let partial = gathered.as_ref().ok().and_then(|g| partial(g));
    match (format, gathered) {
        (Format::Table, Ok(gathered)) => emit(&output::gather_table(&gathered, &stats)),
        (Format::Table, Err(e)) => return Err(e),
        (Format::Json, Ok(gathered)) => print_json(&output::gather_json(&gathered, &stats))?,
        (Format::Json, Err(Failure::Op(e))) => {
            // A failure is a document too: the error and what is known of each server.
            print_json(&output::gather_failure_json(&o.config(), &e, &o.connect_failures(), &stats))?;
            return Err(Failure::Op(e));
        }
        (Format::Json, Err(e)) => return Err(e),
    }
    if let Some(partial) = partial {
        return Err(Failure::Partial(partial));
    }
    Ok(())
}
