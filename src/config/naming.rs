//! How the catalogue names tools and prompts, and which names a server contributes: plain
//! data of the config (`orchestration.naming`, a server's `tools:` / `prompts:` filters) that the
//! catalogue applies. Pure.

use serde::Serialize;

/// How the merged view names tools and prompts (`orchestration.naming`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Naming {
    /// Names as the servers give them; on a collision the lowest priority number wins
    /// (`priority`, the default).
    #[default]
    Priority,
    /// Every name is `<server><separator><name>` (`prefix`).
    Prefix,
    /// A name offered by one server stays as it is; a name offered by several is prefixed on
    /// every one of them (`prefix_on_collision`).
    PrefixOnCollision,
}

impl Naming {
    /// The config's spellings, in order.
    pub(crate) const NAMES: &'static [&'static str] = &["priority", "prefix", "prefix_on_collision"];

    /// The mode a config value names.
    pub(crate) fn parse(text: &str) -> Option<Naming> {
        match text {
            "priority" => Some(Naming::Priority),
            "prefix" => Some(Naming::Prefix),
            "prefix_on_collision" => Some(Naming::PrefixOnCollision),
            _ => None,
        }
    }
}

/// Which names of one kind a server contributes to the catalogue (`tools: {include, exclude}`
/// in a server's config): glob patterns where `*` matches any run of characters and `?` one.
/// Empty `include` admits every name; `exclude` wins over `include`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameFilter {
    /// Names admitted (all when empty).
    pub include: Vec<String>,
    /// Names left out.
    pub exclude: Vec<String>,
}

impl NameFilter {
    /// A filter admitting the names that match a pattern of `include` (every name when it is
    /// empty) and none of `exclude`.
    pub fn new(
        include: impl IntoIterator<Item = impl Into<String>>,
        exclude: impl IntoIterator<Item = impl Into<String>>,
    ) -> NameFilter {
        NameFilter {
            include: include.into_iter().map(Into::into).collect(),
            exclude: exclude.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `name` passes the filter.
    pub fn allows(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob_match(p, name)))
            && !self.exclude.iter().any(|p| glob_match(p, name))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// `*` matches any run of characters (none included), `?` exactly one; everything else itself.
/// Linear in practice: one backtrack point (the last `*`), as in the classic wildcard matcher.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, t, ok) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abcd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*_query", "execute_query", true),
            ("db.*.read", "db.users.read", true),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxbx", false),
            ("exact", "exact", true),
            ("exact", "exac", false),
            ("é*", "éa", true),
        ] {
            assert_eq!(glob_match(p, t), ok, "{p} vs {t}");
        }
    }
}
