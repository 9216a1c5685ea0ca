//! A stdio server's command line as it may be shown (`check`, `status`, `Debug`, config error
//! snippets): arguments often carry tokens (`--token xyz`, `--api-key=…`, `API_KEY=…`, a URL
//! with a password). The rule, applied to each argument:
//!
//! 1. `--name=value` (or `-name=value`) whose name holds a secret word: `--name=***`;
//! 2. the argument after a flag (`-…`, no `=`) whose name holds a secret word: `***`;
//! 3. `NAME=value` (an environment assignment) whose name holds a secret word: `NAME=***`;
//! 4. `Name: value` (a header) whose name holds a secret word: `Name: ***`;
//! 5. a URL: its user info `***`, its query string `?…`;
//! 6. a value that looks like a token by itself (`ghp_…`, `github_pat_…`, `glpat-…`, `sk-…`,
//!    `xoxb-…`, `AKIA…`, a JWT `eyJ…`, `Bearer …`): `***`.
//!
//! Secret words (case-insensitive, anywhere in the name): auth, token, secret, password,
//! passwd, pwd, key, cookie, credential, bearer. It over-redacts on purpose (`--keyboard us`
//! shows `***`). Best effort: a secret in an argument with none of these marks is shown as it
//! is — put secrets in `env` (whose values are never shown) instead.

/// Words in a name that make its value a secret.
pub(crate) const SECRET_WORDS: &[&str] =
    &["auth", "token", "secret", "password", "passwd", "pwd", "key", "cookie", "credential", "bearer"];

/// What a redacted value becomes.
const HIDDEN: &str = "***";

/// Prefixes of well-known token formats.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "xapp-",
    "AKIA",
    "ASIA",
    "eyJ",
    "Bearer ",
    "bearer ",
];

/// Whether a name (of a flag, a variable, a header) makes its value a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// A flag (`-x`, `--name`) whose value is a secret: the next argument is hidden.
fn is_secret_flag(arg: &str) -> bool {
    arg.starts_with('-') && !arg.contains('=') && arg.len() > 1 && is_secret_name(arg.trim_start_matches('-'))
}

/// Whether `s` looks like a token by itself.
fn looks_like_token(s: &str) -> bool {
    TOKEN_PREFIXES.iter().any(|p| s.starts_with(p) && s.len() > p.len() + 3)
}

/// A command line (the program, then its arguments) as it may be shown: see the module docs.
pub(crate) fn redact_command_line<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for word in words {
        if hide_next && !word.starts_with('-') {
            out.push(HIDDEN.to_string());
            hide_next = false;
            continue;
        }
        hide_next = is_secret_flag(word);
        out.push(redact_word(word));
    }
    out
}

/// One argument, on its own (rules 1, 3, 4, 5 and 6).
pub(crate) fn redact_word(word: &str) -> String {
    if looks_like_token(word) {
        return HIDDEN.to_string();
    }
    // `--name=value`, `NAME=value`: the name decides.
    if let Some((name, value)) = word.split_once('=') {
        let bare = name.trim_start_matches('-');
        let plain = !bare.is_empty()
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !name.contains("://");
        if plain && (is_secret_name(bare) || looks_like_token(value)) {
            return format!("{name}={HIDDEN}");
        }
    }
    // `Name: value`, `Name:value` (a header; not a URL's `scheme:`).
    if let Some((name, _)) = word.split_once(':')
        && !word.contains("://")
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && is_secret_name(name)
    {
        return format!("{name}: {HIDDEN}");
    }
    if word.contains("://") {
        return redact_urls(word);
    }
    word.to_string()
}

/// Every URL in `text`: user info `***`, a query string `?…` (as written, not normalised).
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(i, |(j, _)| j);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ']'))
            .map_or(rest.len(), |e| i + e);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url_as_written(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A URL as written, its user info replaced by `***` and its query string by `?…`.
fn redact_url_as_written(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (rest, query) = match rest.find(['?', '#']) {
        Some(q) if rest[q..].starts_with('?') => (&rest[..q], "?…"),
        Some(q) => (&rest[..q], ""),
        None => (rest, ""),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***{}", &authority[at..]),
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}{query}")
}

/// The words of a config line that may be arguments: runs of characters between whitespace,
/// quotes, brackets, braces and commas, with their byte ranges.
fn words(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let delimiter = c.is_whitespace() || matches!(c, '"' | '\'' | '[' | ']' | '{' | '}' | ',');
        match (delimiter, start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// A config line with its argument-like words redacted (rules 1, 2 within the line, 3 and 6;
/// URLs and `key: value` pairs are the caller's). `after_secret_flag`: the line before ended
/// with a secret flag (`- --token` in a block list), so this line's first value is hidden.
pub(crate) fn redact_args_in_line(line: &str, after_secret_flag: bool) -> String {
    let mut out = String::new();
    let mut copied = 0;
    let mut hide_next = after_secret_flag;
    for (start, end) in words(line) {
        let word = &line[start..end];
        // A YAML list marker or a `key:` is not an argument.
        if word == "-" || word == ":" || (word.ends_with(':') && !word.starts_with('-')) {
            continue;
        }
        let shown = if hide_next && !word.starts_with('-') {
            hide_next = false;
            HIDDEN.to_string()
        } else {
            hide_next = is_secret_flag(word);
            if word.contains("://") || word.contains(':') { word.to_string() } else { redact_word(word) }
        };
        if shown != word {
            out.push_str(&line[copied..start]);
            out.push_str(&shown);
            copied = end;
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// Whether the last argument-like word of `line` is a secret flag (`  - --token`).
pub(crate) fn ends_with_secret_flag(line: &str) -> bool {
    words(line).last().is_some_and(|&(s, e)| is_secret_flag(&line[s..e]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(args: &[&str]) -> Vec<String> {
        redact_command_line(args.iter().copied())
    }

    #[test]
    fn secret_flags_assignments_headers_urls_and_tokens_are_hidden() {
        assert_eq!(
            shown(&["npx", "-y", "server", "--token", "xyz", "--api-key=sk1", "--port", "8080"]),
            ["npx", "-y", "server", "--token", "***", "--api-key=***", "--port", "8080"]
        );
        assert_eq!(
            shown(&["env", "GITHUB_TOKEN=abc", "PATH=/bin", "srv"]),
            ["env", "GITHUB_TOKEN=***", "PATH=/bin", "srv"]
        );
        assert_eq!(shown(&["--header", "Authorization: Bearer abc"]), ["--header", "Authorization: ***"]);
        assert_eq!(shown(&["-H", "X-Api-Key:abc"]), ["-H", "X-Api-Key: ***"]);
        assert_eq!(
            shown(&["mcp-remote", "https://u:pw@example.com/mcp?key=1"]),
            ["mcp-remote", "https://***@example.com/mcp?…"]
        );
        assert_eq!(
            shown(&["srv", "ghp_abcdefghijkl", "eyJhbGciOi.x.y", "Bearer abcdef"]),
            ["srv", "***", "***", "***"]
        );
        assert_eq!(shown(&["--url=http://h/x?t=1"]), ["--url=http://h/x?…"]);
        assert_eq!(shown(&["--opt=sk-abcdefgh"]), ["--opt=***"], "a token after any flag");
        // A secret flag followed by another flag hides nothing; `-p 8080` is not a secret.
        assert_eq!(shown(&["--token", "--verbose", "-p", "8080"]), ["--token", "--verbose", "-p", "8080"]);
        assert_eq!(shown(&["-m", "files_mcp", "./data", "sk"]), ["-m", "files_mcp", "./data", "sk"]);
        assert_eq!(shown(&["python", "server.py", "--debug"]), ["python", "server.py", "--debug"]);
    }

    #[test]
    fn debug_of_a_stdio_server_hides_its_secret_arguments() {
        let s = crate::config::ServerConfig::stdio("gh", "srv", ["--token", "ARGSECRET1", "API_KEY=ARGSECRET2"]);
        let debug = format!("{s:?}");
        assert!(!debug.contains("ARGSECRET"), "{debug}");
        assert!(debug.contains(r#"args: ["--token", "***", "API_KEY=***"]"#), "{debug}");
    }

    #[test]
    fn config_lines_hide_argument_secrets_in_flow_and_block_lists() {
        assert_eq!(
            redact_args_in_line(r#"    args: ["--token", "xyz", "--api-key=k1", "-m", "srv"]"#, false),
            r#"    args: ["--token", "***", "--api-key=***", "-m", "srv"]"#
        );
        assert_eq!(
            redact_args_in_line(r#"      "args": ["-y", "ghp_0123456789"],"#, false),
            r#"      "args": ["-y", "***"],"#
        );
        assert!(ends_with_secret_flag("      - --token"));
        assert!(!ends_with_secret_flag("      - --verbose"));
        assert_eq!(redact_args_in_line("      - xyz", true), "      - ***");
        assert_eq!(redact_args_in_line("      - xyz", false), "      - xyz");
        assert_eq!(redact_args_in_line("    priority: 3", false), "    priority: 3");
        assert_eq!(redact_args_in_line("    command: python", false), "    command: python");
    }
}
