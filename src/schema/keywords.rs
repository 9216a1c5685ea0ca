//! The keywords of one object schema, and the values that hold no subschema: checked and
//! read (numbers, counts, `required`, patterns in `regex` syntax).

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};

use super::compile::{Dialect, Fallible, Id};
use super::json::{self, TYPE_NAMES};
use super::{MAX_REGEX_BYTES, SchemaError};

/// A compiled `pattern` (or `patternProperties` key) and its source.
pub(super) struct Pattern {
    pub source: String,
    pub regex: Regex,
}

/// The keywords of one object schema; absent ones are `None` or empty.
#[derive(Default)]
pub(super) struct Keywords {
    pub dialect: Dialect,
    /// The targets of `$ref`, `$dynamicRef`, `$recursiveRef` (applied in place).
    pub refs: Vec<Id>,
    /// `type` as bits (0: any).
    pub types: u8,
    pub enumeration: Option<Vec<Value>>,
    pub constant: Option<Value>,
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    pub exclusive_minimum: Option<Number>,
    pub exclusive_maximum: Option<Number>,
    pub multiple_of: Option<Number>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    pub prefix_items: Vec<Id>,
    pub items: Option<Id>,
    pub contains: Option<Id>,
    pub min_contains: Option<u64>,
    pub max_contains: Option<u64>,
    pub unevaluated_items: Option<Id>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub required: Vec<String>,
    pub properties: BTreeMap<String, Id>,
    pub pattern_properties: Vec<(Pattern, Id)>,
    pub additional_properties: Option<Id>,
    pub property_names: Option<Id>,
    pub dependent_required: Vec<(String, Vec<String>)>,
    pub dependent_schemas: Vec<(String, Id)>,
    pub unevaluated_properties: Option<Id>,
    pub all_of: Vec<Id>,
    pub any_of: Vec<Id>,
    pub one_of: Vec<Id>,
    pub not: Option<Id>,
    pub if_: Option<Id>,
    pub then_: Option<Id>,
    pub else_: Option<Id>,
}

#[cold]
pub(super) fn invalid(pointer: &str, detail: impl Into<String>) -> Box<SchemaError> {
    Box::new(SchemaError::Invalid { location: format!("#{pointer}"), detail: detail.into() })
}

#[cold]
pub(super) fn unsupported(pointer: &str, detail: impl Into<String>) -> Box<SchemaError> {
    Box::new(SchemaError::Unsupported { location: format!("#{pointer}"), detail: detail.into() })
}

/// A keyword value that must be a non-negative integer (`2.0` is one).
pub(super) fn count(map: &Map<String, Value>, key: &str, pointer: &str) -> Fallible<Option<u64>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) if json::is_integer(n) && n.as_f64().is_some_and(|f| f >= 0.0) => {
            Ok(Some(n.as_u64().unwrap_or_else(|| n.as_f64().map_or(u64::MAX, |f| f as u64))))
        }
        Some(_) => Err(invalid(&format!("{pointer}/{key}"), format!("{key} is not a non-negative integer"))),
    }
}

fn number(map: &Map<String, Value>, key: &str, pointer: &str) -> Fallible<Option<Number>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.clone())),
        Some(_) => Err(invalid(&format!("{pointer}/{key}"), format!("{key} is not a number"))),
    }
}

pub(super) fn strings(value: &Value, pointer: &str, what: &str) -> Fallible<Vec<String>> {
    let items = value.as_array().ok_or_else(|| invalid(pointer, format!("{what} is not an array")))?;
    items
        .iter()
        .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| invalid(pointer, format!("{what} holds a non-string"))))
        .collect()
}

pub(super) fn pattern(source: &str, pointer: &str) -> Fallible<Pattern> {
    let built =
        RegexBuilder::new(&ecma_classes(source)).size_limit(MAX_REGEX_BYTES).dfa_size_limit(MAX_REGEX_BYTES).build();
    match built {
        Ok(regex) => Ok(Pattern { source: source.to_string(), regex }),
        Err(regex::Error::CompiledTooBig(limit)) => {
            Err(invalid(pointer, format!("pattern {source:?} compiles to more than {limit} bytes")))
        }
        Err(e) => {
            let why = e.to_string();
            let why = why.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
            Err(unsupported(pointer, format!("pattern {source:?} is not supported: {why}")))
        }
    }
}

/// An ECMA-262 pattern's classes in `regex` syntax: `\d` and `\w` are ASCII-only there
/// (`regex` makes them Unicode-aware), `\cX` is a control character.
fn ecma_classes(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let class = match next {
                    'd' => Some("0-9"),
                    'w' => Some("0-9A-Za-z_"),
                    'D' => Some("^0-9"),
                    'W' => Some("^0-9A-Za-z_"),
                    _ => None,
                };
                match class {
                    // Inside a class, a negated one nests (`[[^0-9].]`).
                    Some(class) if in_class && !class.starts_with('^') => out.push_str(class),
                    Some(class) => {
                        out.push('[');
                        out.push_str(class);
                        out.push(']');
                    }
                    None if next == 'c' && chars.peek().is_some_and(char::is_ascii_alphabetic) => {
                        let letter = chars.next().unwrap_or('@');
                        out.push_str(&format!("\\x{{{:02X}}}", (letter as u8) % 32));
                    }
                    None => {
                        out.push(c);
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The keywords whose values hold no subschema (off the recursive path of a compile).
#[inline(never)]
pub(super) fn scalars(map: &Map<String, Value>, pointer: &str, k: &mut Keywords) -> Fallible<()> {
    let at = |pointer: &str, key: &str| format!("{pointer}/{key}");
    if let Some(types) = map.get("type") {
        k.types =
            type_bits(types).ok_or_else(|| invalid(&at(pointer, "type"), format!("type {types} is not valid")))?;
    }
    if let Some(values) = map.get("enum") {
        let values = values.as_array().ok_or_else(|| invalid(&at(pointer, "enum"), "enum is not an array"))?;
        k.enumeration = Some(values.clone());
    }
    k.constant = map.get("const").cloned();
    k.minimum = number(map, "minimum", pointer)?;
    k.maximum = number(map, "maximum", pointer)?;
    k.exclusive_minimum = number(map, "exclusiveMinimum", pointer)?;
    k.exclusive_maximum = number(map, "exclusiveMaximum", pointer)?;
    k.multiple_of = number(map, "multipleOf", pointer)?;
    if k.multiple_of.as_ref().is_some_and(|m| m.as_f64().is_none_or(|f| f <= 0.0)) {
        return Err(invalid(&at(pointer, "multipleOf"), "multipleOf is not greater than 0"));
    }
    k.min_length = count(map, "minLength", pointer)?;
    k.max_length = count(map, "maxLength", pointer)?;
    if let Some(source) = map.get("pattern") {
        let source = source.as_str().ok_or_else(|| invalid(&at(pointer, "pattern"), "pattern is not a string"))?;
        k.pattern = Some(pattern(source, &at(pointer, "pattern"))?);
    }
    k.min_items = count(map, "minItems", pointer)?;
    k.max_items = count(map, "maxItems", pointer)?;
    match map.get("uniqueItems") {
        None => {}
        Some(Value::Bool(b)) => k.unique_items = *b,
        Some(_) => return Err(invalid(&at(pointer, "uniqueItems"), "uniqueItems is not a boolean")),
    }
    if k.dialect != Dialect::Draft7 {
        k.min_contains = count(map, "minContains", pointer)?;
        k.max_contains = count(map, "maxContains", pointer)?;
    }
    k.min_properties = count(map, "minProperties", pointer)?;
    k.max_properties = count(map, "maxProperties", pointer)?;
    if let Some(required) = map.get("required") {
        k.required = strings(required, &at(pointer, "required"), "required")?;
    }
    Ok(())
}

/// `type` (a name or a non-empty list of names) as bits.
fn type_bits(value: &Value) -> Option<u8> {
    let bit = |name: &Value| TYPE_NAMES.iter().find(|(n, _)| Some(*n) == name.as_str()).map(|(_, b)| *b);
    match value {
        Value::Array(names) if !names.is_empty() => names.iter().try_fold(0, |bits, n| Some(bits | bit(n)?)),
        Value::Array(_) => None,
        name => bit(name),
    }
}
