//! Reading a YAML document with serde-saphyr into the raw structs, and rewriting its errors
//! to name the server (or section), the key and the alternatives, at serde-saphyr's line and
//! column.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::{RawDoc, RawOrchestration, RawServer, RawServers, at_loc};
use crate::config::report::unlocated;
use crate::error::Error;

const TOP_KEYS: &[&str] = &["mcp_servers", "orchestration"];

/// Where the deserializer is, so that an error from serde-saphyr can name the server it is in.
#[derive(Clone, Default)]
enum Section {
    #[default]
    Top,
    /// Reading the names of `mcp_servers`.
    Servers,
    /// Inside the server of that name.
    Server(String),
    /// Inside `orchestration`.
    Orchestration,
}

/// State shared by the seeds below during one parse.
#[derive(Default)]
struct Ctx {
    section: RefCell<Section>,
    /// An error raised by our own visitors, with its location (serde's error type cannot carry
    /// ours); it takes precedence over the serde-saphyr error it caused.
    raised: RefCell<Option<Error>>,
}

impl Ctx {
    fn enter(&self, section: Section) {
        *self.section.borrow_mut() = section;
    }

    fn raise<E: de::Error>(&self, error: Error) -> E {
        let text = error.to_string();
        *self.raised.borrow_mut() = Some(error);
        E::custom(text)
    }
}

struct DocSeed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = RawDoc;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<RawDoc, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = RawDoc;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with `mcp_servers`")
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<RawDoc, E> {
        Ok(RawDoc::default())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<RawDoc, E> {
        Ok(RawDoc::default())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<RawDoc, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawDoc, A::Error> {
        let ctx = self.0;
        let mut doc = RawDoc::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            doc.first_key.get_or_insert(key.referenced);
            match key.value.as_str() {
                "mcp_servers" => {
                    ctx.enter(Section::Servers);
                    let servers = map.next_value_seed(ServersSeed(ctx))?;
                    doc.servers = Some((key.referenced, servers));
                }
                "orchestration" => {
                    ctx.enter(Section::Orchestration);
                    doc.orchestration = map.next_value::<Option<Spanned<RawOrchestration>>>()?;
                }
                other => {
                    return Err(ctx.raise(at_loc(
                        &key.referenced,
                        format!("unknown top-level key `{other}` (allowed: {})", TOP_KEYS.join(", ")),
                    )));
                }
            }
            ctx.enter(Section::Top);
        }
        Ok(doc)
    }
}

struct ServersSeed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for ServersSeed<'_> {
    type Value = RawServers;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ServersSeed<'_> {
    type Value = RawServers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of server names to servers")
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let ctx = self.0;
        let mut servers = Vec::new();
        while let Some(name) = map.next_key::<Spanned<String>>()? {
            ctx.enter(Section::Server(name.value.clone()));
            let server = map.next_value::<Spanned<RawServer>>()?;
            servers.push((name, server));
            ctx.enter(Section::Servers);
        }
        Ok(servers)
    }
}

/// The document, or its first problem and whether it is one the parse can go on after (an
/// unknown or duplicate key, a value of the wrong type), rather than a syntax error.
pub(super) fn parse_raw(text: &str) -> std::result::Result<RawDoc, (Box<Error>, bool)> {
    let ctx = Ctx::default();
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let parsed =
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| DocSeed(&ctx).deserialize(de));
    match parsed {
        Ok(doc) => Ok(doc),
        Err(e) => {
            if let Some(raised) = ctx.raised.borrow_mut().take() {
                return Err((Box::new(raised), false));
            }
            let section = ctx.section.borrow().clone();
            let mut inner = e.without_snippet();
            while let serde_saphyr::Error::AliasError { error, .. } = inner {
                inner = error.without_snippet();
            }
            let recoverable = matches!(
                inner,
                serde_saphyr::Error::SerdeUnknownField { .. }
                    | serde_saphyr::Error::DuplicateMappingKey { .. }
                    | serde_saphyr::Error::InvalidScalar { .. }
                    | serde_saphyr::Error::Unexpected { .. }
                    | serde_saphyr::Error::SerdeInvalidType { .. }
            );
            Err((Box::new(translate(&e, &section, text)), recoverable))
        }
    }
}

/// Rewrites a serde-saphyr error into ours: names the server (or section), the key and the
/// alternatives; keeps serde-saphyr's line and column.
fn translate(e: &serde_saphyr::Error, section: &Section, text: &str) -> Error {
    use serde_saphyr::Error as E;
    use serde_saphyr::MessageFormatter;

    let mut inner = e.without_snippet();
    while let E::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let prefix = match section {
        Section::Top => String::new(),
        Section::Servers => "mcp_servers: ".to_owned(),
        Section::Server(name) => format!("server `{name}`: "),
        Section::Orchestration => "orchestration: ".to_owned(),
    };
    // A value of the wrong type: name its key.
    let key = e
        .location()
        .and_then(|loc| key_at(text, loc.line() as usize, loc.column() as usize))
        .filter(|k| match section {
            Section::Top => true,
            Section::Servers => k != "mcp_servers",
            Section::Server(name) => k != name,
            Section::Orchestration => k != "orchestration",
        })
        .map(|k| format!("`{k}`: "))
        .unwrap_or_default();
    let message = match inner {
        E::SerdeUnknownField { field, expected, .. } => {
            format!("{prefix}unknown key `{field}` (allowed: {})", expected.join(", "))
        }
        E::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("?");
            match section {
                Section::Servers => format!("duplicate server `{key}`"),
                _ => format!("{prefix}duplicate key `{key}`"),
            }
        }
        E::InvalidScalar { ty, .. } => format!("{prefix}{key}invalid value: expected {}", type_word(ty)),
        E::Unexpected { expected, .. } => format!("{prefix}{key}expected {}", structure_word(expected)),
        E::SerdeInvalidType { unexpected, expected, .. } => {
            format!("{prefix}{key}invalid type: expected {expected}, found {unexpected}")
        }
        other => {
            let text = serde_saphyr::UserMessageFormatter.format_message(other);
            format!("{prefix}{}", text.escape_debug())
        }
    };
    match e.location() {
        Some(loc) => at_loc(&loc, message),
        None => unlocated(message),
    }
}

/// The key whose value starts at (`line`, `column`) (1-based): `key:` just before it on the
/// same line (block or flow style), or, for a value on the lines below its key, the nearest
/// preceding non-blank, non-comment line when it is `key:` alone.
fn key_at(text: &str, line: usize, column: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let before: String = here.chars().take(column.saturating_sub(1)).collect();
    let key_of = |prefix: &str| -> Option<String> {
        let body = prefix.trim_end().strip_suffix(':')?;
        let start = body.rfind(['{', ',', ' ', '\t', '-']).map_or(0, |i| i + 1);
        let key = body[start..].trim_matches(['"', '\'']);
        (!key.is_empty()).then(|| key.to_owned())
    };
    if let Some(key) = key_of(&before) {
        return Some(key);
    }
    if !before.trim().is_empty() && before.trim() != "-" {
        return None;
    }
    let previous = lines[..line - 1].iter().rev().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    })?;
    key_of(previous)
}

fn type_word(ty: &str) -> String {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "isize" | "usize" => {
            "an integer".into()
        }
        "f32" | "f64" | "floating point" => "a number".into(),
        "bool" | "boolean" => "true or false".into(),
        other => format!("a value of type {other}"),
    }
}

fn structure_word(expected: &str) -> String {
    match expected {
        "mapping start" => "a mapping".into(),
        "sequence start" => "a list".into(),
        "string scalar" => "a string".into(),
        other => other.to_owned(),
    }
}
