//! `WWW-Authenticate` (RFC 9110 §11.6.1, RFC 6750 §3): the `Bearer` challenge's parameters.

/// What a `Bearer` challenge says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// `error`, e.g. `invalid_token`, `insufficient_scope`.
    pub error: Option<String>,
    /// `scope`: space-separated scopes the request needs.
    pub scope: Option<String>,
    /// `resource_metadata` (RFC 9728 §5.1): where the protected-resource metadata is.
    pub resource_metadata: Option<String>,
}

impl Challenge {
    /// The scopes of `scope`, split on spaces.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope.as_deref().map(split_scopes).unwrap_or_default()
    }
}

/// Splits a space-separated scope string.
pub(crate) fn split_scopes(scope: &str) -> Vec<String> {
    scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Parses the `Bearer` challenge of a `WWW-Authenticate` value (several challenges may share it);
/// parameters of other schemes are ignored. Never fails: what cannot be read is left out.
pub(crate) fn parse(header: &str) -> Challenge {
    let mut out = Challenge::default();
    let mut rest = header;
    let mut in_bearer = false;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return out;
        }
        let end = rest.find(['=', ' ', '\t', ',']).unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if let Some(value_part) = after.strip_prefix('=').filter(|v| !v.starts_with('=')) {
            // An auth-param `name=value`.
            let value_part = value_part.trim_start_matches([' ', '\t']);
            let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut consumed = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, next)) = chars.next() {
                                value.push(next);
                            }
                        }
                        '"' => {
                            consumed = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[consumed.min(quoted.len())..])
            } else {
                let end = value_part.find([',', ' ', '\t']).unwrap_or(value_part.len());
                (value_part[..end].to_string(), &value_part[end..])
            };
            if in_bearer {
                let slot = match token.to_ascii_lowercase().as_str() {
                    "error" => Some(&mut out.error),
                    "scope" => Some(&mut out.scope),
                    "resource_metadata" => Some(&mut out.resource_metadata),
                    _ => None,
                };
                if let Some(slot) = slot
                    && slot.is_none()
                {
                    *slot = Some(value);
                }
            }
            rest = remaining;
        } else {
            // A scheme name (or a token68, which we skip).
            in_bearer = token.eq_ignore_ascii_case("bearer");
            rest = &rest[end.max(1).min(rest.len())..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parameters_quoted_and_plain() {
        let c = parse(
            r#"Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource""#,
        );
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scopes(), ["files:read", "files:write"]);
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource")
        );
        let c = parse("bearer error=invalid_token,scope=a");
        assert_eq!((c.error.as_deref(), c.scope.as_deref()), (Some("invalid_token"), Some("a")));
    }

    #[test]
    fn other_schemes_escapes_and_garbage() {
        let c = parse(r#"Basic realm="x", scope="no", Bearer realm="a\"b", scope="mcp:basic""#);
        assert_eq!(c.scope.as_deref(), Some("mcp:basic"));
        assert_eq!(parse("Bearer"), Challenge::default());
        assert_eq!(parse(""), Challenge::default());
        for junk in ["=", "==", "Bearer =\"", "Bearer scope=\"unterminated", ",,,", "Bearer a==b", "\"\"\""] {
            let _ = parse(junk);
        }
        assert_eq!(parse("Bearer scope=\"unterminated").scope.as_deref(), Some("unterminated"));
    }
}
