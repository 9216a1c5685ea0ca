//! The person's step of a URL-mode elicitation, for every command: a server asks the user to
//! visit a URL (to connect an account, pay, enter a secret elsewhere). [`UrlPrompt`] shows the
//! asking server's name and the full URL on stderr and asks before opening it in the browser;
//! the URL is never fetched by us. Without a terminal on stdin nobody can consent: declined.

use std::io::IsTerminal as _;
use std::sync::mpsc;
use std::time::Instant;

use mcp_orchestrator::{ElicitResult, HandlerError, RequestContext, UrlElicitRequest, UrlElicitationHandler};

use super::login::open_browser;

/// Shows a URL elicitation and asks before opening it (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct UrlPrompt {
    /// Never start a browser: the person opens the URL themselves.
    pub no_browser: bool,
}

/// What the person is shown: the server, its message (control characters replaced, so that a
/// server cannot drive the terminal), the full URL, the question.
pub fn prompt_text(server: &str, request: &UrlElicitRequest) -> String {
    let message: String = request.message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let message = message.trim();
    let why = if message.is_empty() { String::new() } else { format!(": {message}") };
    format!("Server `{server}` asks you to open a URL{why}\n  {}\nOpen it in your browser? [y/N] ", request.url)
}

/// Whether an answer is a yes (`y`, `yes`, any case); anything else, or no answer, is a no.
pub fn consents(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// One line from stdin, or `None` at the deadline or at the end of input. The reading thread
/// is left to end with the line (the command exits soon after).
fn read_line(deadline: Instant) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("cli-elicit-stdin".into())
        .spawn(move || {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(line);
            }
        })
        .ok()?;
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
}

impl UrlElicitationHandler for UrlPrompt {
    fn elicit_url(&self, cx: &RequestContext, request: UrlElicitRequest) -> Result<ElicitResult, HandlerError> {
        eprint!("{}", prompt_text(&cx.server, &request));
        if !std::io::stdin().is_terminal() {
            eprintln!("\n(stdin is not a terminal: declined)");
            return Ok(ElicitResult::decline());
        }
        let Some(answer) = read_line(cx.deadline) else {
            eprintln!("\n(no answer in time: cancelled)");
            return Ok(ElicitResult::cancel());
        };
        if !consents(&answer) {
            return Ok(ElicitResult::decline());
        }
        if self.no_browser || open_browser(&request.url, cx.deadline).is_err() {
            eprintln!("Open the URL above in a browser.");
        }
        Ok(ElicitResult::accept_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_person_sees_the_server_and_the_full_url_and_is_asked() {
        let request: UrlElicitRequest = serde_json::from_value(serde_json::json!({
            "mode": "url", "message": "Connect\u{1b}[2J your account\n", "url": "https://x.example/a?b=c&d=e"
        }))
        .unwrap();
        let text = prompt_text("github", &request);
        assert_eq!(
            text,
            "Server `github` asks you to open a URL: Connect [2J your account\n  https://x.example/a?b=c&d=e\nOpen it in \
             your browser? [y/N] "
        );
        assert!(consents("y\n") && consents(" YES ") && !consents("") && !consents("n") && !consents("yess"));
    }
}
