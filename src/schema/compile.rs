//! A schema document read into nodes: keyword values checked, `$id`s and anchors found, every
//! `$ref` resolved to a node before validation starts (so validation only walks).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::json;
use super::keywords::{Keywords, invalid, pattern, scalars, strings, unsupported};
use super::uri::{self, DEFAULT_BASE};
use super::{MAX_DEPTH, MAX_SUBSCHEMAS, SchemaError};

/// A node's index in [`Compiled::nodes`].
pub(super) type Id = usize;

/// The dialects read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Dialect {
    Draft7,
    Draft2019,
    #[default]
    Draft2020,
}

impl Dialect {
    /// The dialect a `$schema` URI names (`http` or `https`, with or without the empty fragment).
    fn of(uri: &str) -> Option<Dialect> {
        let uri = uri.strip_suffix('#').unwrap_or(uri);
        let uri = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
        match uri {
            "json-schema.org/draft/2020-12/schema" => Some(Dialect::Draft2020),
            "json-schema.org/draft/2019-09/schema" => Some(Dialect::Draft2019),
            "json-schema.org/draft-07/schema" => Some(Dialect::Draft7),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Dialect::Draft7 => "draft-07",
            Dialect::Draft2019 => "2019-09",
            Dialect::Draft2020 => "2020-12",
        }
    }
}

/// A compiled document: its nodes, the root's, whether any node needs annotations
/// (`unevaluated*`).
pub(super) struct Compiled {
    pub nodes: Vec<Node>,
    pub root: Id,
    pub dialect: Dialect,
    pub annotations: bool,
}

/// One subschema, with its place in the document (`#/properties/a`).
pub(super) struct Node {
    pub location: String,
    pub kind: Kind,
}

pub(super) enum Kind {
    Bool(bool),
    Keywords(Box<Keywords>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Ref,
    Dynamic,
    Recursive,
}

/// A `$ref` met while compiling, resolved once the whole document is read.
struct Pending {
    node: Id,
    reference: String,
    base: String,
    kind: RefKind,
    /// The keyword's place, for errors (`#/properties/a/$ref`).
    location: String,
}

struct Compiler<'d> {
    document: &'d Value,
    nodes: Vec<Node>,
    /// Each compiled node by its document JSON pointer, with its base URI and dialect.
    at: HashMap<String, (Id, String, Dialect)>,
    /// Each resource (the root and every `$id`) by its URI: its document pointer.
    resources: HashMap<String, String>,
    /// Each `$anchor` (and `$dynamicAnchor`, draft-07's `$id: "#name"`) by (resource URI, name).
    anchors: HashMap<(String, String), String>,
    /// The resources that declare each `$dynamicAnchor` name.
    dynamic_anchors: HashMap<String, HashSet<String>>,
    /// Whether a resource other than the root says `$recursiveAnchor: true`.
    nested_recursive_anchor: bool,
    pending: Vec<Pending>,
    annotations: bool,
}

/// Errors boxed inside: a compile recurses once per nested subschema, and every `?` of a
/// debug build keeps its own slot for the `Result`.
pub(super) type Fallible<T> = Result<T, Box<SchemaError>>;

pub(super) fn compile(document: &Value) -> Result<Compiled, SchemaError> {
    compile_document(document).map_err(|e| *e)
}

fn compile_document(document: &Value) -> Fallible<Compiled> {
    let mut c = Compiler {
        document,
        nodes: Vec::new(),
        at: HashMap::new(),
        resources: HashMap::new(),
        anchors: HashMap::new(),
        dynamic_anchors: HashMap::new(),
        nested_recursive_anchor: false,
        pending: Vec::new(),
        annotations: false,
    };
    c.resources.insert(DEFAULT_BASE.to_string(), String::new());
    let root = c.compile(document, String::new(), DEFAULT_BASE.to_string(), Dialect::default(), 0)?;
    while let Some(p) = c.pending.pop() {
        let target = c.resolve(&p)?;
        if let Kind::Keywords(k) = &mut c.nodes[p.node].kind {
            k.refs.push(target);
        }
    }
    let dialect = c.at.get("").map_or(Dialect::default(), |(_, _, d)| *d);
    Ok(Compiled { nodes: c.nodes, root, dialect, annotations: c.annotations })
}

fn escape(key: &str) -> String {
    json::escape(key)
}

impl Compiler<'_> {
    fn compile(
        &mut self,
        value: &Value,
        pointer: String,
        base: String,
        dialect: Dialect,
        depth: usize,
    ) -> Fallible<Id> {
        if let Some((id, _, _)) = self.at.get(&pointer) {
            return Ok(*id);
        }
        if depth > MAX_DEPTH {
            return Err(invalid(&pointer, format!("subschemas nest deeper than {MAX_DEPTH}")));
        }
        if self.nodes.len() >= MAX_SUBSCHEMAS {
            return Err(invalid(&pointer, format!("more than {MAX_SUBSCHEMAS} subschemas")));
        }
        let map = match value {
            Value::Bool(b) => {
                let id = self.push(&pointer, Kind::Bool(*b));
                self.at.insert(pointer, (id, base, dialect));
                return Ok(id);
            }
            Value::Object(map) => map,
            _ => return Err(invalid(&pointer, "a schema is not an object or a boolean")),
        };
        let mut dialect = dialect;
        if let Some(uri) = map.get("$schema") {
            let uri = uri.as_str().ok_or_else(|| invalid(&pointer, "$schema is not a string"))?;
            dialect = Dialect::of(uri).ok_or_else(|| {
                unsupported(&pointer, format!("dialect {uri:?} is not supported (2020-12, 2019-09 and draft-07 are)"))
            })?;
        }
        let base = self.identify(map, &pointer, base, dialect)?;
        let id = self.push(&pointer, Kind::Bool(true));
        self.at.insert(pointer.clone(), (id, base.clone(), dialect));
        let keywords = Scope { c: self, map, pointer: &pointer, base: &base, dialect, depth, node: id }.keywords()?;
        self.nodes[id].kind = Kind::Keywords(keywords);
        Ok(id)
    }

    fn push(&mut self, pointer: &str, kind: Kind) -> Id {
        self.nodes.push(Node { location: format!("#{pointer}"), kind });
        self.nodes.len() - 1
    }

    /// Registers the schema's `$id` (a new resource and base) and anchors; returns its base.
    fn identify(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        mut base: String,
        dialect: Dialect,
    ) -> Fallible<String> {
        // draft-07: a `$ref` hides its siblings, `$id` too.
        let hidden = dialect == Dialect::Draft7 && map.contains_key("$ref");
        if let Some(id) = map.get("$id").filter(|_| !hidden) {
            let id = id.as_str().ok_or_else(|| invalid(pointer, "$id is not a string"))?;
            let resolved = uri::resolve(&base, id);
            let (resource, fragment) = uri::split_fragment(&resolved);
            // `"$id": "#name"` is draft-07's anchor (later dialects say `$anchor`); any other
            // `$id` starts a resource, and sets the base of what it holds.
            if !id.starts_with('#') {
                base = resource.to_string();
                self.resources.insert(base.clone(), pointer.to_string());
            }
            if !fragment.is_empty() && !fragment.starts_with('/') {
                self.anchors.insert((base.clone(), fragment), pointer.to_string());
            }
        }
        if dialect != Dialect::Draft7 {
            for key in ["$anchor", "$dynamicAnchor"] {
                if let Some(name) = map.get(key) {
                    let name = name.as_str().ok_or_else(|| invalid(pointer, format!("{key} is not a string")))?;
                    self.anchors.insert((base.clone(), name.to_string()), pointer.to_string());
                    if key == "$dynamicAnchor" {
                        self.dynamic_anchors.entry(name.to_string()).or_default().insert(base.clone());
                    }
                }
            }
        }
        if !pointer.is_empty() && map.get("$recursiveAnchor") == Some(&Value::Bool(true)) {
            self.nested_recursive_anchor = true;
        }
        Ok(base)
    }

    /// The node a pending `$ref` points at (compiled now if nothing compiled it yet).
    fn resolve(&mut self, p: &Pending) -> Fallible<Id> {
        let absolute = uri::resolve(&p.base, &p.reference);
        let (resource, fragment) = uri::split_fragment(&absolute);
        let Some(root) = self.resources.get(resource) else {
            return Err(Box::new(SchemaError::Unsupported {
                location: p.location.clone(),
                detail: format!("$ref {:?} points out of this schema (no $ref is ever fetched)", p.reference),
            }));
        };
        let pointer = if fragment.is_empty() || fragment.starts_with('/') {
            format!("{root}{fragment}")
        } else {
            match self.anchors.get(&(resource.to_string(), fragment.clone())) {
                Some(pointer) => pointer.clone(),
                None => {
                    return Err(Box::new(SchemaError::Invalid {
                        location: p.location.clone(),
                        detail: format!("$ref {:?}: no anchor {fragment:?} in the schema", p.reference),
                    }));
                }
            }
        };
        let dynamic = match p.kind {
            RefKind::Ref => false,
            RefKind::Dynamic => self.dynamic_anchors.get(&fragment).is_some_and(|r| r.len() > 1),
            RefKind::Recursive => self.nested_recursive_anchor,
        };
        if dynamic {
            return Err(Box::new(SchemaError::Unsupported {
                location: p.location.clone(),
                detail: format!("{:?}: a dynamic reference whose target depends on the dynamic scope", p.reference),
            }));
        }
        if let Some((id, _, _)) = self.at.get(&pointer) {
            return Ok(*id);
        }
        let document = self.document;
        let Some(value) = document.pointer(&pointer) else {
            return Err(Box::new(SchemaError::Invalid {
                location: p.location.clone(),
                detail: format!("$ref {:?} points at nothing", p.reference),
            }));
        };
        // Not a place the walk reached (inside an unknown keyword): its nearest compiled
        // ancestor gives its base and dialect.
        let mut ancestor = pointer.as_str();
        let (base, dialect) = loop {
            match ancestor.rfind('/') {
                Some(i) => ancestor = &ancestor[..i],
                None => break (DEFAULT_BASE.to_string(), Dialect::default()),
            }
            if let Some((_, base, dialect)) = self.at.get(ancestor) {
                break (base.clone(), *dialect);
            }
        };
        self.compile(value, pointer, base, dialect, 0)
    }
}

/// The keywords of one object schema being compiled.
struct Scope<'c, 'd, 'm> {
    c: &'c mut Compiler<'d>,
    map: &'m Map<String, Value>,
    pointer: &'m str,
    base: &'m str,
    dialect: Dialect,
    depth: usize,
    node: Id,
}

impl Scope<'_, '_, '_> {
    fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.pointer)
    }

    /// The subschema at `value`, `key` being its path below this schema.
    fn sub(&mut self, value: &Value, key: &str) -> Fallible<Id> {
        let pointer = self.at(key);
        self.c.compile(value, pointer, self.base.to_string(), self.dialect, self.depth + 1)
    }

    fn optional(&mut self, key: &str) -> Fallible<Option<Id>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(value) => self.sub(value, key).map(Some),
        }
    }

    fn list(&mut self, key: &str) -> Fallible<Vec<Id>> {
        let Some(value) = self.map.get(key) else { return Ok(Vec::new()) };
        let items = value.as_array().filter(|a| !a.is_empty());
        let items = items.ok_or_else(|| invalid(&self.at(key), format!("{key} is not a non-empty array")))?;
        items.iter().enumerate().map(|(i, s)| self.sub(s, &format!("{key}/{i}"))).collect()
    }

    /// The schemas of an object keyword (`properties`, `$defs`, …), by name.
    fn named(&mut self, key: &str) -> Fallible<Vec<(String, Id)>> {
        let Some(value) = self.map.get(key) else { return Ok(Vec::new()) };
        let map = value.as_object().ok_or_else(|| invalid(&self.at(key), format!("{key} is not an object")))?;
        map.iter().map(|(name, s)| Ok((name.clone(), self.sub(s, &format!("{key}/{}", escape(name)))?))).collect()
    }

    fn reference(&mut self, key: &str, kind: RefKind) -> Fallible<()> {
        if let Some(r) = self.map.get(key) {
            let reference = r.as_str().ok_or_else(|| invalid(&self.at(key), format!("{key} is not a string")))?;
            self.c.pending.push(Pending {
                node: self.node,
                reference: reference.to_string(),
                base: self.base.to_string(),
                kind,
                location: format!("#{}", self.at(key)),
            });
        }
        Ok(())
    }

    fn keywords(mut self) -> Fallible<Box<Keywords>> {
        let (map, pointer, dialect) = (self.map, self.pointer, self.dialect);
        let mut k = Box::new(Keywords { dialect, ..Keywords::default() });
        // Containers, applied by no one: compiled so that their `$id`s and anchors are known.
        self.named("$defs")?;
        self.named("definitions")?;
        self.reference("$ref", RefKind::Ref)?;
        // draft-07: a `$ref` hides every sibling keyword.
        if dialect == Dialect::Draft7 && map.contains_key("$ref") {
            return Ok(k);
        }
        match dialect {
            Dialect::Draft2020 => self.reference("$dynamicRef", RefKind::Dynamic)?,
            Dialect::Draft2019 => self.reference("$recursiveRef", RefKind::Recursive)?,
            Dialect::Draft7 => {}
        }
        scalars(map, pointer, &mut k)?;
        self.arrays(&mut k)?;
        self.objects(&mut k)?;
        k.all_of = self.list("allOf")?;
        k.any_of = self.list("anyOf")?;
        k.one_of = self.list("oneOf")?;
        k.not = self.optional("not")?;
        k.if_ = self.optional("if")?;
        k.then_ = self.optional("then")?;
        k.else_ = self.optional("else")?;
        Ok(k)
    }

    fn arrays(&mut self, k: &mut Keywords) -> Fallible<()> {
        let map = self.map;
        if self.dialect == Dialect::Draft2020 && map.contains_key("prefixItems") {
            k.prefix_items = self.list("prefixItems")?;
            k.items = self.optional("items")?;
        } else if let Some(Value::Array(items)) = map.get("items") {
            // The array form (draft-07, 2019-09; read the same way in a 2020-12 schema, where
            // it is invalid, rather than refused).
            k.prefix_items =
                items.iter().enumerate().map(|(i, s)| self.sub(s, &format!("items/{i}"))).collect::<Result<_, _>>()?;
            k.items = self.optional("additionalItems")?;
        } else {
            k.items = self.optional("items")?;
        }
        k.contains = self.optional("contains")?;
        if self.dialect != Dialect::Draft7 {
            k.unevaluated_items = self.optional("unevaluatedItems")?;
        }
        Ok(())
    }

    fn objects(&mut self, k: &mut Keywords) -> Fallible<()> {
        let map = self.map;
        k.properties = self.named("properties")?.into_iter().collect();
        if let Some(patterns) = map.get("patternProperties") {
            let patterns = patterns
                .as_object()
                .ok_or_else(|| invalid(&self.at("patternProperties"), "patternProperties is not an object"))?;
            for (source, s) in patterns {
                let key = format!("patternProperties/{}", escape(source));
                let compiled = pattern(source, &self.at(&key))?;
                k.pattern_properties.push((compiled, self.sub(s, &key)?));
            }
        }
        k.additional_properties = self.optional("additionalProperties")?;
        k.property_names = self.optional("propertyNames")?;
        // draft-07's `dependencies` (read in every dialect: later ones split it in two).
        let keys: &[&str] = if self.dialect == Dialect::Draft7 {
            &["dependencies"]
        } else {
            &["dependencies", "dependentRequired", "dependentSchemas"]
        };
        for &key in keys {
            let Some(deps) = map.get(key) else { continue };
            let deps = deps.as_object().ok_or_else(|| invalid(&self.at(key), format!("{key} is not an object")))?;
            for (name, dep) in deps {
                let at = format!("{key}/{}", escape(name));
                if key == "dependentRequired" || (key == "dependencies" && dep.is_array()) {
                    k.dependent_required.push((name.clone(), strings(dep, &self.at(&at), key)?));
                } else {
                    let id = self.sub(dep, &at)?;
                    k.dependent_schemas.push((name.clone(), id));
                }
            }
        }
        if self.dialect != Dialect::Draft7 {
            k.unevaluated_properties = self.optional("unevaluatedProperties")?;
        }
        if k.unevaluated_properties.is_some() || k.unevaluated_items.is_some() {
            self.c.annotations = true;
        }
        Ok(())
    }
}
