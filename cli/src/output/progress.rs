//! The progress lines a person at a terminal sees on stderr: one per server as it connects,
//! and as it gathers later; nothing when stderr is not a terminal.

use std::io::IsTerminal;

use mcp_orchestrator::{Orchestrator, ProgressEvent, ProgressStage};

use super::human;

/// On a terminal (stderr), prints a line per server as it connects and gathers; returns
/// whether it does.
pub fn watch_progress(o: &Orchestrator) -> bool {
    let tty = std::io::stderr().is_terminal();
    if tty {
        eprintln!("connecting to {} server(s)...", o.config().enabled_servers().count());
        o.on_progress(|event| {
            if let Some(line) = progress_line(event) {
                eprintln!("{line}");
            }
        });
    }
    tty
}

/// The line a person sees for a progress event (none for the starts: the outcome follows).
fn progress_line(event: &ProgressEvent) -> Option<String> {
    let server = event.server();
    match event {
        ProgressEvent::Connected { protocol, transport, elapsed, .. } => {
            Some(format!("  {server}: connected ({transport}, protocol {protocol}) in {}", human(*elapsed)))
        }
        ProgressEvent::Gathered { resources, templates, tools, prompts, contents, elapsed, .. } => Some(format!(
            "  {server}: gathered {resources} resource(s), {templates} template(s), {tools} tool(s), \
             {prompts} prompt(s), {contents} read in {}",
            human(*elapsed)
        )),
        ProgressEvent::Failed { stage, error, .. } => {
            let what = if *stage == ProgressStage::Connect { "connect" } else { "gather" };
            Some(format!("  {server}: failed to {what}: {error}"))
        }
        _ => None,
    }
}
