//! JSON as JSON Schema sees it: type names, equality where `1` equals `1.0`, numbers compared
//! exactly, JSON pointers.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Number, Value};

/// The types of `type`, as bits.
pub(super) const NULL: u8 = 1;
pub(super) const BOOLEAN: u8 = 2;
pub(super) const OBJECT: u8 = 4;
pub(super) const ARRAY: u8 = 8;
pub(super) const NUMBER: u8 = 16;
pub(super) const STRING: u8 = 32;
pub(super) const INTEGER: u8 = 64;

pub(super) const TYPE_NAMES: [(&str, u8); 7] = [
    ("null", NULL),
    ("boolean", BOOLEAN),
    ("object", OBJECT),
    ("array", ARRAY),
    ("number", NUMBER),
    ("string", STRING),
    ("integer", INTEGER),
];

/// Whether a number has a zero fraction (JSON Schema's integer).
pub(super) fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

/// The value's type bit (an integer is `INTEGER`, which `NUMBER` also admits).
pub(super) fn type_bit(value: &Value) -> u8 {
    match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Object(_) => OBJECT,
        Value::Array(_) => ARRAY,
        Value::Number(n) if is_integer(n) => INTEGER,
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
    }
}

/// The name of the value's type (`integer` for a number with a zero fraction).
pub(super) fn type_name(value: &Value) -> &'static str {
    let bit = type_bit(value);
    TYPE_NAMES.iter().find(|(_, b)| *b == bit).map_or("value", |(n, _)| n)
}

/// A number as an exact integer, when it is one that fits.
fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

/// Compares two numbers: exactly when both are integers, as doubles otherwise.
pub(super) fn cmp_numbers(a: &Number, b: &Number) -> Ordering {
    match (as_i128(a), as_i128(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

/// Whether `value` is a multiple of `divisor` (a positive number): exactly for integers; for
/// doubles, within a few units of rounding of the quotient (`0.0075` is a multiple of
/// `0.0001`).
pub(super) fn is_multiple(value: &Number, divisor: &Number) -> bool {
    if let (Some(x), Some(d)) = (as_i128(value), as_i128(divisor))
        && d != 0
    {
        return x % d == 0;
    }
    let (x, d) = (value.as_f64().unwrap_or(f64::NAN), divisor.as_f64().unwrap_or(f64::NAN));
    let q = x / d;
    if q.is_infinite() && x.is_finite() {
        // The quotient overflows; the remainder is exact.
        return x % d == 0.0;
    }
    if !q.is_finite() {
        return false;
    }
    (q - q.round()).abs() <= 4.0 * f64::EPSILON * q.abs().max(1.0)
}

/// JSON equality, numbers by value (`1 == 1.0`).
pub(super) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// A text that is the same for two values exactly when they are [`equal`] (keys sorted,
/// integral numbers written as integers), for `uniqueItems` through a hash set.
pub(super) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match (as_i128(n), n.as_f64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e38 => {
                let _ = write!(out, "{}", f as i128);
            }
            (None, f) => {
                let _ = write!(out, "{:?}", f.unwrap_or(f64::NAN));
            }
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here: serde_json's `preserve_order` (another crate may turn it on) keeps
            // the document's order.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (k, v) in entries {
                canonical(&Value::String(k.clone()), out);
                out.push(':');
                canonical(v, out);
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One JSON pointer segment, escaped (`~` as `~0`, `/` as `~1`).
pub(super) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A value from the schema, for a message: JSON, cut at 60 characters.
pub(super) fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}
