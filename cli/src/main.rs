//! `mcp-orchestrator`: check a config, gather from its servers, call a tool, or run the demo.
//!
//! Run `mcp-orchestrator --help` for the commands. Exit status: 0 ok, 1 the operation failed,
//! 2 bad usage or an invalid config, 3 partial (some servers failed, the rest printed).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `println!` through [`output::emit`].
macro_rules! say {
    () => { $crate::output::emit("\n") };
    ($($arg:tt)*) => { $crate::output::emit(&format!("{}\n", format_args!($($arg)*))) };
}

mod args;
mod commands;
mod logging;
mod output;

use std::process::ExitCode;

use mcp_orchestrator::Error;

use args::{Cli, Command, PromptsCommand, TasksCommand};

/// Why the command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage that clap cannot see (a `--server` the config does not have): exit 2.
    Usage(String),
    /// An invalid config: exit 2.
    Config(Error),
    /// The operation failed: exit 1.
    Op(Error),
    /// The operation failed for a reason that is not a library error (a tool's error result,
    /// a demo server that would not start): exit 1.
    Other(String),
    /// Some servers failed, the others' results were printed: exit 3.
    Partial(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        if e.is_config() { Failure::Config(e) } else { Failure::Op(e) }
    }
}

fn main() -> ExitCode {
    // A usage error exits here with status 2; --help and --version with 0.
    let cli = Cli::from_args();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

fn report(failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(message) => {
            eprintln!("error: {message}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Failure::Config(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Failure::Op(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Failure::Other(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Failure::Partial(message) => {
            eprintln!("partial: {message}");
            ExitCode::from(3)
        }
    }
}

/// Runs the command the command line names: one function per command.
fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Check(args) => commands::check::run(cli, args),
        Command::Gather(args) => commands::gather::run(cli, args),
        Command::Call(args) => commands::call::run(cli, args),
        Command::Tools(args) => commands::list::tools(cli, args),
        Command::Resources(args) => commands::list::resources(cli, args),
        Command::Read(args) => commands::read::run(cli, args),
        Command::Prompts(args) => match &args.get {
            None => commands::list::prompts(cli, &args.listing),
            Some(PromptsCommand::Get(get)) => commands::prompt::get(cli, get),
        },
        Command::Tasks(args) => match &args.command {
            TasksCommand::Get(task) => commands::tasks::get(cli, task),
            TasksCommand::Wait(wait) => commands::tasks::wait(cli, wait),
            TasksCommand::Cancel(task) => commands::tasks::cancel(cli, task),
        },
        Command::Serve(args) => commands::serve::run(cli, args),
        Command::Status(args) => commands::status::run(cli, args),
        Command::Login(args) => commands::login::run(cli, args),
        Command::Completions { shell } => commands::docs::completions(*shell),
        Command::Man => commands::docs::man(),
        Command::Demo => commands::demo::run(cli),
    }
}
