//! Walking a compiled schema over a value: the first violation, with its instance path; the
//! annotations `unevaluated*` need (which properties and items the passing in-place
//! subschemas evaluated); the depth and step bounds.
//!
//! The walk recurses once per subschema applied, so its frames are kept small (messages are
//! written in one cold function, errors are boxed, annotations exist only when a schema has an
//! `unevaluated*` keyword): [`MAX_DEPTH`] levels take about 300 KiB of stack in a debug build.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Number, Value};

use super::compile::{Compiled, Dialect, Id, Kind};
use super::json::{self, NUMBER, TYPE_NAMES};
use super::keywords::Keywords;
use super::{MAX_DEPTH, MAX_STEPS, Violation};

pub(super) fn validate(compiled: &Compiled, instance: &Value) -> Result<(), Violation> {
    let mut v = Validator { c: compiled, steps: 0, depth: 0, path: String::new() };
    v.eval(compiled.root, instance).map(drop).map_err(|e| *e)
}

struct Validator<'s> {
    c: &'s Compiled,
    steps: u64,
    depth: usize,
    /// The instance path of the value being checked, as a JSON pointer.
    path: String,
}

/// What the passing subschemas applied to one value evaluated of it (for `unevaluated*`);
/// `None` unless the schema has such a keyword.
type Annotations<'v> = Option<Box<Evaluated<'v>>>;

#[derive(Default)]
struct Evaluated<'v> {
    all_properties: bool,
    properties: HashSet<&'v str>,
    all_items: bool,
    /// Items `0..prefix` were evaluated.
    prefix: usize,
    items: HashSet<usize>,
}

fn merge<'v>(into: &mut Annotations<'v>, other: Annotations<'v>) {
    match (into.as_mut(), other) {
        (_, None) => {}
        (None, other) => *into = other,
        (Some(a), Some(b)) => {
            a.all_properties |= b.all_properties;
            a.properties.extend(b.properties);
            a.all_items |= b.all_items;
            a.prefix = a.prefix.max(b.prefix);
            a.items.extend(b.items);
        }
    }
}

type Fail = Box<Violation>;

/// A bound on numbers: its value, its keyword, which order passes, what a failure says.
type Bound<'k> = (&'k Option<Number>, &'static str, fn(Ordering) -> bool, &'static str);
type Outcome<'v> = Result<Annotations<'v>, Fail>;

/// Why a keyword failed, turned into a message only when it did ([`Validator::fail`]).
enum Why<'a> {
    False(&'a str),
    Type(u8, &'static str),
    Enum(&'a [Value]),
    Const(&'a Value),
    Bound(&'static str, &'a Number),
    MultipleOf(&'a Number),
    /// (what is counted, how many, fewer than (or more than) the limit, the limit)
    Count(&'static str, u64, bool, u64),
    Pattern(&'a str),
    Unique(usize, usize),
    NoContains,
    Contains(u64, bool, u64),
    Required(&'a str),
    Dependent(&'a str, &'a str),
    AnyOf(usize),
    OneOfNone(usize),
    OneOfTwo(usize, usize),
    Not,
}

impl<'s> Validator<'s> {
    #[cold]
    #[inline(never)]
    fn fail(&self, location: &str, keyword: &str, why: Why<'_>) -> Fail {
        let message = match why {
            Why::False(location) => refusal(location),
            Why::Type(types, got) => format!("expected {}, got {got}", type_list(types)),
            Why::Enum(values) => not_one_of(values),
            Why::Const(value) => format!("is not the constant {}", json::brief(value)),
            Why::Bound(says, bound) => format!("{says} {bound}"),
            Why::MultipleOf(m) => format!("is not a multiple of {m}"),
            Why::Count(what, len, fewer, limit) => {
                format!("has {len} {what}, {} than {limit}", if fewer { "fewer" } else { "more" })
            }
            Why::Pattern(source) => format!("does not match the pattern {source:?}"),
            Why::Unique(first, second) => format!("items {first} and {second} are equal"),
            Why::NoContains => "no item matches contains".to_string(),
            Why::Contains(found, fewer, limit) => {
                let (than, keyword) = if fewer { ("fewer", "minContains") } else { ("more", "maxContains") };
                format!("{found} items match contains, {than} than {keyword} {limit}")
            }
            Why::Required(name) => format!("the required property {name:?} is missing"),
            Why::Dependent(missing, name) => format!("the property {missing:?} is required when {name:?} is present"),
            Why::AnyOf(n) => format!("matches none of the {n} schemas of anyOf"),
            Why::OneOfNone(n) => format!("matches none of the {n} schemas of oneOf"),
            Why::OneOfTwo(a, b) => format!("matches schemas {a} and {b} of oneOf; exactly one must match"),
            Why::Not => "matches the schema of not".to_string(),
        };
        let schema_path = if keyword.is_empty() { location.to_string() } else { format!("{location}/{keyword}") };
        Box::new(Violation { instance_path: self.path.clone(), schema_path, message, limit: false })
    }

    #[cold]
    #[inline(never)]
    fn limit(&self, location: &str, steps: bool) -> Fail {
        let message = if steps {
            format!("validation stopped after {MAX_STEPS} steps")
        } else {
            format!("validation stopped: subschemas nest deeper than {MAX_DEPTH} (a $ref loop?)")
        };
        Box::new(Violation {
            instance_path: self.path.clone(),
            schema_path: location.to_string(),
            message,
            limit: true,
        })
    }

    /// Counts `n` steps of work against [`MAX_STEPS`].
    fn step(&mut self, n: u64, location: &str) -> Result<(), Fail> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return Err(self.limit(location, true));
        }
        Ok(())
    }

    fn collecting<'a, 'v>(&self, ann: &'a mut Annotations<'v>) -> Option<&'a mut Evaluated<'v>> {
        if self.c.annotations { Some(ann.get_or_insert_default()) } else { None }
    }

    /// Applies node `id` to `instance`.
    fn eval<'v>(&mut self, id: Id, instance: &'v Value) -> Outcome<'v> {
        let c = self.c;
        let node = &c.nodes[id];
        self.step(1, &node.location)?;
        if self.depth >= MAX_DEPTH {
            return Err(self.limit(&node.location, false));
        }
        match &node.kind {
            Kind::Bool(true) => Ok(None),
            Kind::Bool(false) => Err(self.fail(&node.location, "", Why::False(&node.location))),
            Kind::Keywords(k) => {
                self.depth += 1;
                let outcome = self.keywords(k, &node.location, instance);
                self.depth -= 1;
                outcome
            }
        }
    }

    /// Applies `id` to a child of the current value: the property `key`, or the item `index`.
    fn child<'v>(&mut self, id: Id, key: Option<&str>, index: usize, instance: &'v Value) -> Outcome<'v> {
        let len = self.path.len();
        self.path.push('/');
        match key {
            Some(key) => {
                for c in key.chars() {
                    match c {
                        '~' => self.path.push_str("~0"),
                        '/' => self.path.push_str("~1"),
                        c => self.path.push(c),
                    }
                }
            }
            None => {
                use std::fmt::Write as _;
                let _ = write!(self.path, "{index}");
            }
        }
        let outcome = self.eval(id, instance);
        self.path.truncate(len);
        outcome
    }

    fn keywords<'v>(&mut self, k: &'s Keywords, at: &str, instance: &'v Value) -> Outcome<'v> {
        let mut ann: Annotations<'v> = None;
        for &target in &k.refs {
            merge(&mut ann, self.eval(target, instance)?);
        }
        if k.types != 0 && !type_matches(k.types, instance) {
            return Err(self.fail(at, "type", Why::Type(k.types, json::type_name(instance))));
        }
        if let Some(values) = &k.enumeration {
            self.step(values.len() as u64, at)?;
            if !values.iter().any(|v| json::equal(v, instance)) {
                return Err(self.fail(at, "enum", Why::Enum(values)));
            }
        }
        if let Some(constant) = &k.constant
            && !json::equal(constant, instance)
        {
            return Err(self.fail(at, "const", Why::Const(constant)));
        }
        match instance {
            Value::Number(n) => self.number(k, at, n)?,
            Value::String(s) => self.string(k, at, s)?,
            Value::Array(items) => self.array(k, at, items, &mut ann)?,
            Value::Object(map) => self.object(k, at, instance, map, &mut ann)?,
            _ => {}
        }
        self.composition(k, at, instance, &mut ann)?;
        if k.unevaluated_items.is_some() || k.unevaluated_properties.is_some() {
            self.unevaluated(k, instance, &mut ann)?;
        }
        Ok(ann)
    }

    fn unevaluated<'v>(&mut self, k: &'s Keywords, instance: &'v Value, ann: &mut Annotations<'v>) -> Result<(), Fail> {
        let mut seen = ann.take().unwrap_or_default();
        if let (Some(id), Value::Array(items)) = (k.unevaluated_items, instance) {
            for (i, item) in items.iter().enumerate() {
                if !(seen.all_items || i < seen.prefix || seen.items.contains(&i)) {
                    self.child(id, None, i, item)?;
                }
            }
            seen.all_items = true;
        }
        if let (Some(id), Value::Object(map)) = (k.unevaluated_properties, instance) {
            for (key, value) in map {
                if !(seen.all_properties || seen.properties.contains(key.as_str())) {
                    self.child(id, Some(key), 0, value)?;
                }
            }
            seen.all_properties = true;
        }
        *ann = Some(seen);
        Ok(())
    }

    fn composition<'v>(
        &mut self,
        k: &'s Keywords,
        at: &str,
        instance: &'v Value,
        ann: &mut Annotations<'v>,
    ) -> Result<(), Fail> {
        for &id in &k.all_of {
            merge(ann, self.eval(id, instance)?);
        }
        if !k.any_of.is_empty() {
            let mut matched = false;
            for &id in &k.any_of {
                match self.eval(id, instance) {
                    Ok(a) => {
                        matched = true;
                        merge(ann, a);
                        // Every passing branch's annotations count, when some are needed.
                        if !self.c.annotations {
                            break;
                        }
                    }
                    Err(e) if e.limit => return Err(e),
                    Err(_) => {}
                }
            }
            if !matched {
                return Err(self.fail(at, "anyOf", Why::AnyOf(k.any_of.len())));
            }
        }
        if !k.one_of.is_empty() {
            let mut passed = None;
            for (i, &id) in k.one_of.iter().enumerate() {
                match self.eval(id, instance) {
                    Ok(_) if passed.is_some() => {
                        return Err(self.fail(at, "oneOf", Why::OneOfTwo(passed.unwrap_or_default(), i)));
                    }
                    Ok(a) => {
                        passed = Some(i);
                        merge(ann, a);
                    }
                    Err(e) if e.limit => return Err(e),
                    Err(_) => {}
                }
            }
            if passed.is_none() {
                return Err(self.fail(at, "oneOf", Why::OneOfNone(k.one_of.len())));
            }
        }
        if let Some(id) = k.not {
            match self.eval(id, instance) {
                Ok(_) => return Err(self.fail(at, "not", Why::Not)),
                Err(e) if e.limit => return Err(e),
                Err(_) => {}
            }
        }
        if let Some(id) = k.if_ {
            match self.eval(id, instance) {
                Ok(a) => {
                    merge(ann, a);
                    if let Some(then) = k.then_ {
                        merge(ann, self.eval(then, instance)?);
                    }
                }
                Err(e) if e.limit => return Err(e),
                Err(_) => {
                    if let Some(otherwise) = k.else_ {
                        merge(ann, self.eval(otherwise, instance)?);
                    }
                }
            }
        }
        Ok(())
    }

    fn number(&mut self, k: &Keywords, at: &str, n: &Number) -> Result<(), Fail> {
        let checks: [Bound<'_>; 4] = [
            (&k.minimum, "minimum", |o| o != Ordering::Less, "is less than the minimum"),
            (&k.maximum, "maximum", |o| o != Ordering::Greater, "is greater than the maximum"),
            (&k.exclusive_minimum, "exclusiveMinimum", |o| o == Ordering::Greater, "is not greater than"),
            (&k.exclusive_maximum, "exclusiveMaximum", |o| o == Ordering::Less, "is not less than"),
        ];
        for (bound, keyword, ok, says) in checks {
            if let Some(bound) = bound
                && !ok(json::cmp_numbers(n, bound))
            {
                return Err(self.fail(at, keyword, Why::Bound(says, bound)));
            }
        }
        if let Some(m) = &k.multiple_of
            && !json::is_multiple(n, m)
        {
            return Err(self.fail(at, "multipleOf", Why::MultipleOf(m)));
        }
        Ok(())
    }

    fn string(&mut self, k: &Keywords, at: &str, s: &str) -> Result<(), Fail> {
        if k.min_length.is_some() || k.max_length.is_some() {
            let len = s.chars().count() as u64;
            if let Some(min) = k.min_length.filter(|m| len < *m) {
                return Err(self.fail(at, "minLength", Why::Count("characters", len, true, min)));
            }
            if let Some(max) = k.max_length.filter(|m| len > *m) {
                return Err(self.fail(at, "maxLength", Why::Count("characters", len, false, max)));
            }
        }
        if let Some(p) = &k.pattern {
            self.step(1, at)?;
            if !p.regex.is_match(s) {
                return Err(self.fail(at, "pattern", Why::Pattern(&p.source)));
            }
        }
        Ok(())
    }

    fn array<'v>(
        &mut self,
        k: &'s Keywords,
        at: &str,
        items: &'v [Value],
        ann: &mut Annotations<'v>,
    ) -> Result<(), Fail> {
        let len = items.len() as u64;
        if let Some(min) = k.min_items.filter(|m| len < *m) {
            return Err(self.fail(at, "minItems", Why::Count("items", len, true, min)));
        }
        if let Some(max) = k.max_items.filter(|m| len > *m) {
            return Err(self.fail(at, "maxItems", Why::Count("items", len, false, max)));
        }
        if k.unique_items {
            self.step(len, at)?;
            if let Some((first, second)) = duplicate(items) {
                return Err(self.fail(at, "uniqueItems", Why::Unique(first, second)));
            }
        }
        for (i, (item, &id)) in items.iter().zip(&k.prefix_items).enumerate() {
            self.child(id, None, i, item)?;
        }
        if let Some(seen) = self.collecting(ann) {
            seen.prefix = seen.prefix.max(k.prefix_items.len().min(items.len()));
        }
        if let Some(id) = k.items {
            for (i, item) in items.iter().enumerate().skip(k.prefix_items.len()) {
                self.child(id, None, i, item)?;
            }
            if let Some(seen) = self.collecting(ann) {
                seen.all_items = true;
            }
        }
        if let Some(id) = k.contains {
            let min = k.min_contains.unwrap_or(1);
            let mut found = 0u64;
            for (i, item) in items.iter().enumerate() {
                match self.child(id, None, i, item) {
                    Ok(_) => {
                        found += 1;
                        if k.dialect == Dialect::Draft2020
                            && let Some(seen) = self.collecting(ann)
                        {
                            seen.items.insert(i);
                        }
                        if found >= min && k.max_contains.is_none() && !self.c.annotations {
                            break;
                        }
                    }
                    Err(e) if e.limit => return Err(e),
                    Err(_) => {}
                }
            }
            if found < min {
                return Err(match k.min_contains {
                    None => self.fail(at, "contains", Why::NoContains),
                    Some(_) => self.fail(at, "minContains", Why::Contains(found, true, min)),
                });
            }
            if let Some(max) = k.max_contains.filter(|m| found > *m) {
                return Err(self.fail(at, "maxContains", Why::Contains(found, false, max)));
            }
        }
        Ok(())
    }

    fn object<'v>(
        &mut self,
        k: &'s Keywords,
        at: &str,
        instance: &'v Value,
        map: &'v Map<String, Value>,
        ann: &mut Annotations<'v>,
    ) -> Result<(), Fail> {
        let len = map.len() as u64;
        if let Some(min) = k.min_properties.filter(|m| len < *m) {
            return Err(self.fail(at, "minProperties", Why::Count("properties", len, true, min)));
        }
        if let Some(max) = k.max_properties.filter(|m| len > *m) {
            return Err(self.fail(at, "maxProperties", Why::Count("properties", len, false, max)));
        }
        if let Some(name) = k.required.iter().find(|r| !map.contains_key(*r)) {
            return Err(self.fail(at, "required", Why::Required(name)));
        }
        for (name, required) in k.dependent_required.iter().filter(|(name, _)| map.contains_key(name)) {
            if let Some(missing) = required.iter().find(|r| !map.contains_key(*r)) {
                let keyword = if k.dialect == Dialect::Draft7 { "dependencies" } else { "dependentRequired" };
                return Err(self.fail(at, keyword, Why::Dependent(missing, name)));
            }
        }
        for (name, &id) in &k.properties {
            if let Some((key, value)) = map.get_key_value(name) {
                self.child(id, Some(key), 0, value)?;
                if let Some(seen) = self.collecting(ann) {
                    seen.properties.insert(key);
                }
            }
        }
        if !k.pattern_properties.is_empty() || k.additional_properties.is_some() {
            for (key, value) in map {
                let mut matched = k.properties.contains_key(key);
                for (pattern, id) in &k.pattern_properties {
                    self.step(1, at)?;
                    if pattern.regex.is_match(key) {
                        matched = true;
                        self.child(*id, Some(key), 0, value)?;
                        if let Some(seen) = self.collecting(ann) {
                            seen.properties.insert(key);
                        }
                    }
                }
                if let (false, Some(id)) = (matched, k.additional_properties) {
                    self.child(id, Some(key), 0, value)?;
                }
            }
            if k.additional_properties.is_some()
                && let Some(seen) = self.collecting(ann)
            {
                seen.all_properties = true;
            }
        }
        if let Some(id) = k.property_names {
            for key in map.keys() {
                let name = Value::String(key.clone());
                if let Err(e) = self.eval(id, &name) {
                    return Err(invalid_name(e, key));
                }
            }
        }
        for (_, id) in k.dependent_schemas.iter().filter(|(name, _)| map.contains_key(name)) {
            merge(ann, self.eval(*id, instance)?);
        }
        Ok(())
    }
}

/// The first two equal items, by their canonical text.
fn duplicate(items: &[Value]) -> Option<(usize, usize)> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut text = String::new();
        json::canonical(item, &mut text);
        if let Some(first) = seen.insert(text, i) {
            return Some((first, i));
        }
    }
    None
}

/// A `propertyNames` violation: the name's, said of the object.
#[cold]
fn invalid_name(mut e: Fail, key: &str) -> Fail {
    if !e.limit {
        e.message = format!("the property name {key:?} is invalid: {}", e.message);
    }
    e
}

fn type_matches(types: u8, instance: &Value) -> bool {
    let bit = json::type_bit(instance);
    types & bit != 0 || (bit == json::INTEGER && types & NUMBER != 0)
}

/// `string or null`.
fn type_list(types: u8) -> String {
    let names: Vec<&str> = TYPE_NAMES.iter().filter(|(_, b)| types & b != 0).map(|(n, _)| *n).collect();
    names.join(" or ")
}

/// Why a value failed `enum`: its values when there are few.
fn not_one_of(values: &[Value]) -> String {
    if values.len() <= 5 {
        let list: Vec<String> = values.iter().map(json::brief).collect();
        format!("is not one of {}", list.join(", "))
    } else {
        format!("is not one of the {} values of enum", values.len())
    }
}

/// What a `false` schema says, by the keyword it is the value of.
fn refusal(location: &str) -> String {
    let keyword = location.rsplit('/').next().unwrap_or_default();
    match keyword {
        "additionalProperties" | "unevaluatedProperties" | "items" | "additionalItems" | "unevaluatedItems" => {
            format!("is not allowed ({keyword} is false)")
        }
        _ => "is not allowed (the schema here is false)".to_string(),
    }
}
