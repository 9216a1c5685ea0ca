//! `completions` and `man`: the shell completion script and the man page, generated from the
//! command line's definition.

use clap::CommandFactory;

use crate::Failure;
use crate::args::Cli;
use crate::output::emit;

/// `completions SHELL`: the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mcp-orchestrator", &mut out);
    emit(&String::from_utf8_lossy(&out));
    Ok(())
}

/// `man`: the man page (roff) on stdout.
pub fn man() -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::Other(format!("cannot render the man page: {e}")))?;
    emit(&String::from_utf8_lossy(&out));
    Ok(())
}
