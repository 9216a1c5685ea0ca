//! How config errors are made and reported: an [`Error::Config`] at a line and column (or at
//! none), several problems in one, each with the line it is on (a snippet, secrets redacted),
//! and the file's path in front of each message.

use crate::error::Error;

/// A config error with no location.
pub(super) fn unlocated(message: impl Into<String>) -> Error {
    Error::Config { message: message.into(), line: None, column: None, snippet: None, more: Vec::new() }
}

/// A config error at a position (1-based; a zero line means unknown).
pub(super) fn at(line: u64, column: u64, message: impl Into<String>) -> Error {
    let known = line > 0;
    Error::Config {
        message: message.into(),
        line: known.then_some(line as usize),
        column: (known && column > 0).then_some(column as usize),
        snippet: None,
        more: Vec::new(),
    }
}

/// One error holding every problem, in document order (unlocated ones last). Problems that are
/// themselves several are flattened.
pub(crate) fn combine(problems: Vec<Error>) -> Error {
    let mut all: Vec<Error> = Vec::new();
    for problem in problems {
        match problem {
            Error::Config { message, line, column, snippet, more } => {
                all.push(Error::Config { message, line, column, snippet, more: Vec::new() });
                all.extend(more);
            }
            other => all.push(other),
        }
    }
    all.sort_by_key(|e| match e {
        Error::Config { line, column, .. } => (line.unwrap_or(usize::MAX), column.unwrap_or(0)),
        _ => (usize::MAX, 0),
    });
    let mut all = all.into_iter();
    match all.next() {
        Some(Error::Config { message, line, column, snippet, .. }) => {
            Error::Config { message, line, column, snippet, more: all.collect() }
        }
        Some(other) => other,
        None => Error::Config {
            message: "invalid configuration".into(),
            line: None,
            column: None,
            snippet: None,
            more: Vec::new(),
        },
    }
}

/// Fills in each problem's snippet: its line of `text`, redacted.
pub(super) fn with_snippets(text: &str, error: Error) -> Error {
    let fill = |line: Option<usize>, snippet: Option<String>| {
        snippet.or_else(|| {
            let index = line?.checked_sub(1)?;
            let prev = index.checked_sub(1).and_then(|p| text.lines().nth(p));
            Some(redact_snippet(prev, text.lines().nth(index)?))
        })
    };
    match error {
        Error::Config { message, line, column, snippet, more } => Error::Config {
            message,
            line,
            column,
            snippet: fill(line, snippet),
            more: more.into_iter().map(|e| with_snippets(text, e)).collect(),
        },
        other => other,
    }
}

/// Puts `prefix` (the file's path) in front of every problem's message.
pub(super) fn prefix(error: Error, prefix: &str) -> Error {
    match error {
        Error::Config { message, line, column, snippet, more } => Error::Config {
            message: format!("{prefix}{message}"),
            line,
            column,
            snippet,
            more: more.into_iter().map(|e| self::prefix(e, prefix)).collect(),
        },
        other => other,
    }
}

use super::redact::{SECRET_WORDS, ends_with_secret_flag, redact_args_in_line, redact_urls};

/// A line of a config as [`redact_line`] shows it, and its arguments' secrets hidden (see
/// `redact.rs`): a secret flag's value, `--name=value`, `NAME=value`, a token by its look; `prev`
/// is the line before (a block list's `- --token` hides this line's value).
fn redact_snippet(prev: Option<&str>, line: &str) -> String {
    redact_line(&redact_args_in_line(line, prev.is_some_and(ends_with_secret_flag)))
}

/// A line of a config as it may be shown: the value of a key that looks secret (`Authorization`,
/// `X-Api-Key`, `GITHUB_TOKEN`, …) replaced by `<redacted>` (in block, flow and JSON style), the
/// user info of a URL by `***`, tabs kept (the caret lines up), other control characters
/// dropped, cut at 200 characters.
pub(super) fn redact_line(line: &str) -> String {
    // Segments separated by `{`, `}` and `,` outside quotes; each may be `key: value`.
    let mut shown = String::new();
    let mut segment = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if matches!(c, '{' | '}' | ',') => {
                shown.push_str(&redact_segment(&segment));
                shown.push(c);
                segment.clear();
                continue;
            }
            None => {}
        }
        segment.push(c);
    }
    shown.push_str(&redact_segment(&segment));
    // URLs as everywhere else: user info as `***`, a query string as `?…`.
    let out = redact_urls(&shown);
    out.chars().filter(|c| !c.is_control() || *c == '\t').take(200).collect()
}

/// `key: value` with a secret-looking key becomes `key: <redacted>`.
fn redact_segment(segment: &str) -> String {
    let split = segment
        .char_indices()
        .find(|&(i, c)| c == ':' && segment[i + 1..].chars().next().is_none_or(|n| n == ' ' || n == '"' || n == '\''));
    if let Some((i, _)) = split {
        let key = segment[..i].to_ascii_lowercase();
        let value = segment[i + 1..].trim();
        if !value.is_empty() && SECRET_WORDS.iter().any(|w| key.contains(w)) {
            return format!("{} <redacted>", &segment[..=i]);
        }
    }
    segment.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_snippets() {
        assert_eq!(redact_line("      Authorization: \"Bearer abc\""), "      Authorization: <redacted>");
        assert_eq!(redact_line("    \"X-Api-Key\": \"k\","), "    \"X-Api-Key\": <redacted>,");
        assert_eq!(redact_line("  \"GITHUB_TOKEN\": \"ghp_x\""), "  \"GITHUB_TOKEN\": <redacted>");
        assert_eq!(redact_line("    url: http://user:pw@h/sse"), "    url: http://***@h/sse");
        assert_eq!(
            redact_line("    url: http://alice:pw@h:99999/x?api_key=k, \"https://h/?t=1\""),
            "    url: http://***@h:99999/x?…, \"https://h/?…\""
        );
        assert_eq!(redact_line("    priority: high"), "    priority: high");
        assert_eq!(
            redact_snippet(None, r#"    args: ["--token", "xyz", "--api-key=k1", "https://u:p@h/"]"#),
            r#"    args: ["--token", "***", "--api-key=***", "https://***@h/"]"#
        );
        assert_eq!(redact_snippet(Some("      - --password"), "      - hunter2"), "      - ***");
        assert_eq!(
            redact_line("  db: {url: 'http://h', headers: {Authorization: \"Bearer a,b\", X-Other: y}}"),
            "  db: {url: 'http://h', headers: {Authorization: <redacted>, X-Other: y}}"
        );
    }
}
