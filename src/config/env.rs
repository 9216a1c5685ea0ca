//! `${VAR}` expansion in the YAML's values: `${NAME}` is replaced by the variable `NAME`
//! (letters, digits and `_`, not starting with a digit) in `url`, header values, `command`,
//! `args`, `env` values, `cwd` and the `auth` block; `$${` stands for a literal `${`; any other
//! `$` is kept as it is. An unset variable is an error naming the variable, the key and the
//! line, never the text around it (it may be a secret). The JSON formats' variables are
//! `json/vars.rs`.

use serde_saphyr::Spanned;

use super::yaml::at_loc;
use crate::error::Result;

/// Why a `${…}` could not be expanded. No variant carries the text around it: that text may
/// be a secret.
#[derive(Debug, PartialEq)]
pub(super) enum ExpandError {
    /// `${NAME}` with `NAME` unset.
    Unset(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${…}` whose content is not a variable name.
    BadName(String),
}

/// Replaces `${NAME}` with `lookup(NAME)`; `$${` is a literal `${`; any other `$` stays.
pub(super) fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(ExpandError::Unterminated);
            };
            let name = &tail[..end];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ExpandError::BadName(name.to_owned()));
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands `${VAR}` in one value; errors point at the value and name the key.
pub(super) fn expand_at(
    value: &Spanned<String>,
    server: &str,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    expand(&value.value, lookup).map_err(|e| {
        let message = match e {
            ExpandError::Unset(var) => {
                format!("server `{server}`: environment variable `{var}` (used in `{key}`) is not set")
            }
            ExpandError::Unterminated => {
                format!("server `{server}`: `${{` without a closing `}}` in `{key}` (write `$${{` for a literal `${{`)")
            }
            ExpandError::BadName(name) => {
                format!("server `{server}`: invalid variable name `{name}` in `${{…}}` of `{key}`")
            }
        };
        at_loc(&value.referenced, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_rules() {
        let lookup = |n: &str| (n == "A").then(|| "1".to_owned());
        assert_eq!(expand("x${A}y${A}", &lookup), Ok("x1y1".into()));
        assert_eq!(expand("$A $ $$ $${A} ${A}$", &lookup), Ok("$A $ $$ ${A} 1$".into()));
        assert_eq!(expand("${B}", &lookup), Err(ExpandError::Unset("B".into())));
        assert_eq!(expand("${A", &lookup), Err(ExpandError::Unterminated));
        assert_eq!(expand("${}", &lookup), Err(ExpandError::BadName(String::new())));
        assert_eq!(expand("${A-B}", &lookup), Err(ExpandError::BadName("A-B".into())));
        assert_eq!(expand("über ${A}", &lookup), Ok("über 1".into()));
    }
}
