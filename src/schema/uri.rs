//! URI references as `$id` and `$ref` use them: resolved against a base (RFC 3986, section 5.2,
//! without a query's subtleties), split at the fragment.

/// The base of a document without an `$id`: hierarchical, so that relative references resolve
/// (to URIs no resource of the document has, which are then refused as out of the document).
pub(super) const DEFAULT_BASE: &str = "mcp-orchestrator://schema/root";

/// `reference` resolved against `base`.
pub(super) fn resolve(base: &str, reference: &str) -> String {
    let base = base.split('#').next().unwrap_or_default();
    if has_scheme(reference) {
        let (scheme, rest) = reference.split_at(reference.find(':').map_or(0, |i| i + 1));
        let (authority, path) = split_authority(rest);
        return format!("{scheme}{authority}{}", remove_dots(path));
    }
    if reference.is_empty() {
        return base.to_string();
    }
    if reference.starts_with('#') {
        return format!("{base}{reference}");
    }
    let (scheme, rest) = base.split_at(base.find(':').map_or(0, |i| i + 1));
    if reference.starts_with("//") {
        let (authority, path) = split_authority(reference);
        return format!("{scheme}{authority}{}", remove_dots(path));
    }
    let (authority, path) = split_authority(rest);
    let path = path.split('?').next().unwrap_or_default();
    if reference.starts_with('?') {
        return format!("{scheme}{authority}{path}{reference}");
    }
    let merged = if reference.starts_with('/') {
        reference.to_string()
    } else {
        match path.rfind('/') {
            Some(i) => format!("{}{reference}", &path[..=i]),
            None if !authority.is_empty() => format!("/{reference}"),
            None => reference.to_string(),
        }
    };
    format!("{scheme}{authority}{}", remove_dots(&merged))
}

/// The URI without its fragment, and the fragment (percent-decoded; empty when none).
pub(super) fn split_fragment(uri: &str) -> (&str, String) {
    match uri.split_once('#') {
        Some((uri, fragment)) => (uri, percent_encoding::percent_decode_str(fragment).decode_utf8_lossy().into_owned()),
        None => (uri, String::new()),
    }
}

fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else { return false };
    let scheme = &reference[..colon];
    scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `//authority` and the rest, of a URI's part after its scheme.
fn split_authority(rest: &str) -> (&str, &str) {
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).map_or(rest.len(), |i| i + 2);
        rest.split_at(end)
    } else {
        ("", rest)
    }
}

/// A path (with what follows it) without its `.` and `..` segments.
fn remove_dots(path_and_more: &str) -> String {
    let split = path_and_more.find(['?', '#']).unwrap_or(path_and_more.len());
    let (path, more) = path_and_more.split_at(split);
    if !path.contains('.') {
        return path_and_more.to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." if last => out.push(""),
            "." => {}
            ".." => {
                if out.len() > 1 || out.first().is_some_and(|s| !s.is_empty()) {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("{}{more}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_against_their_base() {
        let base = "http://example.com/schemas/root.json";
        for (reference, want) in [
            ("", "http://example.com/schemas/root.json"),
            ("#/$defs/a", "http://example.com/schemas/root.json#/$defs/a"),
            ("item.json", "http://example.com/schemas/item.json"),
            ("./item.json#foo", "http://example.com/schemas/item.json#foo"),
            ("../other/x.json", "http://example.com/other/x.json"),
            ("/abs.json", "http://example.com/abs.json"),
            ("//cdn.example/x", "http://cdn.example/x"),
            ("urn:uuid:1234#x", "urn:uuid:1234#x"),
            ("https://a.example/b/../c", "https://a.example/c"),
        ] {
            assert_eq!(resolve(base, reference), want, "{reference}");
        }
        assert_eq!(resolve(DEFAULT_BASE, "#a"), "mcp-orchestrator://schema/root#a");
        assert_eq!(resolve(DEFAULT_BASE, "other.json"), "mcp-orchestrator://schema/other.json");
        assert_eq!(resolve("urn:uuid:1234", "#/a"), "urn:uuid:1234#/a");
        assert_eq!(split_fragment("x#/a%20b"), ("x", "/a b".to_string()));
        assert_eq!(split_fragment("x"), ("x", String::new()));
    }
}
