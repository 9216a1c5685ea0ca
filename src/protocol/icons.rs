//! Icons (2025-11-25) of tools, prompts, resources, templates and servers, typed, with the
//! unsafe ones dropped as they are decoded.
//!
//! An icon's `src` is shown by a host, so only what a host may safely load is kept: `https:`
//! and `http:` URLs, and `data:image/…` URIs. Anything else — `javascript:`, `vbscript:`,
//! `file:`, `data:text/html`, a relative reference, a malformed value — is dropped with a debug
//! log record; the rest of the listing is kept.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One icon of a tool, prompt, resource, template or server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Icon {
    /// Where the image is: an `https:`/`http:` URL or a `data:image/…` URI (others are dropped).
    pub src: String,
    /// Its MIME type, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The sizes it fits (`"48x48"`, `"any"`), when the server says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<String>,
    /// The theme it is for (`"light"`, `"dark"`), when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
}

impl Icon {
    /// An icon at `src` (kept whatever its scheme: the check is on decoding).
    pub fn new(src: impl Into<String>) -> Icon {
        Icon { src: src.into(), mime_type: None, sizes: Vec::new(), theme: None }
    }

    /// The bytes it owns on the heap (the cache's accounting).
    pub(crate) fn owned_bytes(&self) -> usize {
        self.src.len()
            + self.mime_type.as_ref().map_or(0, String::len)
            + self.sizes.iter().map(|s| s.len() + 8).sum::<usize>()
            + self.theme.as_ref().map_or(0, String::len)
    }
}

/// Whether a host may load `src`: an `http(s)` URL, or a `data:` URI of an image type.
pub fn is_safe_icon_src(src: &str) -> bool {
    let Some((scheme, rest)) = src.split_once(':') else { return false };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "http" => rest.starts_with("//") && rest.len() > 2,
        "data" => rest.get(..6).is_some_and(|t| t.eq_ignore_ascii_case("image/")),
        _ => false,
    }
}

/// The heap bytes of a list of icons.
pub(crate) fn icons_bytes(icons: &Option<Vec<Icon>>) -> usize {
    icons.as_ref().map_or(0, |v| v.iter().map(Icon::owned_bytes).sum::<usize>() + 8)
}

/// Decodes an `icons` field: a list of icons, each kept when it parses and its `src` is safe
/// ([`is_safe_icon_src`]); a field that is not a list is ignored. Never an error.
pub(crate) fn safe_icons<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Icon>>, D::Error> {
    let value = Value::deserialize(d)?;
    let Value::Array(items) = value else {
        if !value.is_null() {
            log::debug!("an `icons` field that is not a list was ignored");
        }
        return Ok(None);
    };
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_value::<Icon>(item) {
            Ok(icon) if is_safe_icon_src(&icon.src) => kept.push(icon),
            Ok(icon) => {
                // Only the scheme: a data URI can be long, a URL may carry a query.
                let scheme = icon.src.split_once(':').map_or("(none)", |(s, _)| s);
                log::debug!(
                    "an icon with an unsafe src (scheme `{}`) was dropped",
                    scheme.chars().take(16).collect::<String>()
                );
            }
            Err(e) => log::debug!("an icon that does not parse was dropped: {e}"),
        }
    }
    Ok(Some(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "safe_icons")]
        icons: Option<Vec<Icon>>,
    }

    fn decode(v: Value) -> Option<Vec<Icon>> {
        serde_json::from_value::<Holder>(v).unwrap().icons
    }

    #[test]
    fn only_http_and_image_data_icons_are_kept() {
        let icons = decode(serde_json::json!({"icons": [
            {"src": "https://example.com/a.png", "mimeType": "image/png", "sizes": ["48x48", "any"], "theme": "dark"},
            {"src": "HTTP://example.com/b.svg"},
            {"src": "data:image/png;base64,iVBORw0KGgo="},
            {"src": "javascript:alert(1)"},
            {"src": "JavaScript:alert(1)"},
            {"src": "vbscript:msgbox"},
            {"src": "file:///etc/passwd"},
            {"src": "data:text/html,<script>alert(1)</script>"},
            {"src": "/relative.png"},
            {"src": "https:"},
            {"nosrc": true},
            "not an icon"
        ]}))
        .unwrap();
        let srcs: Vec<&str> = icons.iter().map(|i| i.src.as_str()).collect();
        assert_eq!(
            srcs,
            ["https://example.com/a.png", "HTTP://example.com/b.svg", "data:image/png;base64,iVBORw0KGgo="]
        );
        assert_eq!(icons[0].mime_type.as_deref(), Some("image/png"));
        assert_eq!(icons[0].sizes, ["48x48", "any"]);
        assert_eq!(icons[0].theme.as_deref(), Some("dark"));
        assert_eq!(decode(serde_json::json!({"icons": "x"})), None);
        assert_eq!(decode(serde_json::json!({})), None);
        assert_eq!(decode(serde_json::json!({"icons": null})), None);
    }
}
