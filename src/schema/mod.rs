//! A JSON Schema validator, written for tools' `outputSchema`: [`Schema`] (its docs say what it
//! supports). Pure: no I/O, and no `$ref` is ever fetched.

use serde_json::Value;

mod compile;
mod json;
mod keywords;
#[cfg(test)]
mod tests;
mod uri;
mod validate;

const MAX_DEPTH: usize = Schema::MAX_DEPTH;
const MAX_SUBSCHEMAS: usize = Schema::MAX_SUBSCHEMAS;
const MAX_STEPS: u64 = Schema::MAX_STEPS;
const MAX_REGEX_BYTES: usize = Schema::MAX_REGEX_BYTES;

/// A compiled JSON Schema. `Send + Sync`: compile once with [`Schema::compile`], share, validate
/// many values with [`Schema::validate`], from many threads.
///
/// # Dialects
///
/// A schema without `$schema` is JSON Schema 2020-12, as MCP says. `$schema` may also name
/// 2019-09 or draft-07; their keywords are read with their own meaning where it differs
/// (draft-07: a `$ref` hides its siblings, `items` as an array with `additionalItems`,
/// `dependencies`, `definitions`, an `$id` of `#name` is an anchor; 2019-09: `items` as an
/// array, `additionalItems`, `$recursiveRef`). Any other dialect (draft-04, a custom
/// meta-schema) is [`SchemaError::Unsupported`]: the schema cannot be read, which says nothing
/// about the data.
///
/// # Keywords
///
/// `type` (an `integer` is any number with a zero fraction), `enum`, `const` (numbers compare by
/// value: `1` equals `1.0`), `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`, `dependentRequired`,
/// `dependentSchemas`, `prefixItems`, `items`, `contains`, `minContains`, `maxContains`,
/// `minItems`, `maxItems`, `uniqueItems`, `minLength`, `maxLength` (in Unicode code points),
/// `pattern`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
/// `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `unevaluatedProperties` and
/// `unevaluatedItems` (with the annotations of every in-place subschema that passed), boolean
/// schemas, and `$ref` to `#` JSON pointers, `$anchor`s and `$id`s of the same document (and
/// `$dynamicRef` where it cannot differ from a `$ref`: one resource of the document declares its
/// anchor). `format`, `title`, `description`, `default`, `examples`, `content*` are annotations
/// only; unknown keywords are ignored.
///
/// Not supported, each a [`SchemaError::Unsupported`] at compile time: a `$ref` out of the
/// document (never fetched: MCP forbids dereferencing network URIs), a `$dynamicRef` or
/// `$recursiveRef` whose target the dynamic scope could change, a `pattern` the `regex` crate
/// cannot express (ECMA-262 look-around and back-references). `pattern` is matched with Rust's
/// `regex` syntax, which agrees with ECMA-262 on common patterns; its classes (`\d`, `\w`) are
/// Unicode-aware.
///
/// # Bounds
///
/// A hostile schema cannot hang or overflow the stack. Compiling takes at most
/// [`MAX_SUBSCHEMAS`](Schema::MAX_SUBSCHEMAS) subschemas, nested at most
/// [`MAX_DEPTH`](Schema::MAX_DEPTH) deep, each pattern's program at most
/// [`MAX_REGEX_BYTES`](Schema::MAX_REGEX_BYTES) (and `regex` matches in linear time). Validating
/// applies subschemas at most `MAX_DEPTH` deep (a `$ref` loop, a deeply nested value) and takes
/// at most [`MAX_STEPS`](Schema::MAX_STEPS) steps (subschema applications, pattern matches,
/// `enum` comparisons, `uniqueItems` entries). Past a bound, validation stops with a
/// [`Violation`] whose [`is_limit`](Violation::is_limit) is true.
///
/// ```
/// use mcp_orchestrator::{Schema, json};
///
/// let schema = Schema::compile(&json!({
///     "type": "object",
///     "properties": {"rows": {"type": "array", "items": {"$ref": "#/$defs/row"}}},
///     "$defs": {"row": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}
/// }))?;
/// assert!(schema.validate(&json!({"rows": [{"name": "a"}]})).is_ok());
/// let v = schema.validate(&json!({"rows": [{"name": "a"}, {"name": 7}]})).unwrap_err();
/// assert_eq!(v.instance_path(), "/rows/1/name");
/// assert_eq!(v.schema_path(), "#/$defs/row/properties/name/type");
/// assert_eq!(v.message(), "expected string, got integer");
/// # Ok::<(), mcp_orchestrator::SchemaError>(())
/// ```
pub struct Schema {
    compiled: compile::Compiled,
}

impl Schema {
    /// How deep subschemas may nest, in the schema and in one validation (each subschema applied
    /// inside another, `$ref`s included, is one level).
    pub const MAX_DEPTH: usize = 128;
    /// The most subschemas one schema may have.
    pub const MAX_SUBSCHEMAS: usize = 20_000;
    /// The most steps one validation may take.
    pub const MAX_STEPS: u64 = 1_000_000;
    /// The largest compiled program of one `pattern` (the `regex` crate's `size_limit`).
    pub const MAX_REGEX_BYTES: usize = 1 << 20;

    /// Reads a schema (an object or a boolean). The error says where and why the schema cannot
    /// be used: an unsupported dialect or feature, or an invalid keyword value.
    pub fn compile(schema: &Value) -> Result<Schema, SchemaError> {
        compile::compile(schema).map(|compiled| Schema { compiled })
    }

    /// Checks a value; the error is the first violation found, with where it is.
    pub fn validate(&self, instance: &Value) -> Result<(), Violation> {
        validate::validate(&self.compiled, instance)
    }

    /// Whether a value is valid (a value that hits a bound is not).
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validate(instance).is_ok()
    }

    /// The dialect the schema was read as: `2020-12`, `2019-09` or `draft-07`.
    pub fn dialect(&self) -> &'static str {
        self.compiled.dialect.name()
    }
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("dialect", &self.dialect())
            .field("subschemas", &self.compiled.nodes.len())
            .finish_non_exhaustive()
    }
}

/// Why a schema cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema asks for something this validator does not do: another dialect, a `$ref` out
    /// of the document, a dynamic reference, a pattern feature the `regex` crate lacks.
    #[error("unsupported schema at {location}: {detail}")]
    Unsupported {
        /// Where, as a URI fragment JSON pointer into the schema (`#/properties/a/pattern`).
        location: String,
        /// What.
        detail: String,
    },
    /// The schema is not a valid schema (a keyword of the wrong type, a `$ref` to nothing), or
    /// is past a bound ([`MAX_DEPTH`](Schema::MAX_DEPTH), [`MAX_SUBSCHEMAS`](Schema::MAX_SUBSCHEMAS), [`MAX_REGEX_BYTES`](Schema::MAX_REGEX_BYTES)).
    #[error("invalid schema at {location}: {detail}")]
    Invalid {
        /// Where, as a URI fragment JSON pointer into the schema.
        location: String,
        /// What.
        detail: String,
    },
}

impl SchemaError {
    /// Whether the schema is unsupported (rather than invalid).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, SchemaError::Unsupported { .. })
    }
}

/// A value that does not match a schema: where in the value, which keyword, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    instance_path: String,
    schema_path: String,
    message: String,
    limit: bool,
}

impl Violation {
    /// Where in the value, as a JSON pointer (`/items/3/name`; empty for the value itself).
    pub fn instance_path(&self) -> &str {
        &self.instance_path
    }

    /// The failing keyword's place in the schema, as a URI fragment JSON pointer
    /// (`#/properties/items/items/properties/name/type`; through a `$ref`, the place of its
    /// target).
    pub fn schema_path(&self) -> &str {
        &self.schema_path
    }

    /// What is wrong (`expected string, got integer`). Values of the instance are not quoted,
    /// only property names, lengths and counts.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether validation stopped at a bound ([`MAX_DEPTH`](Schema::MAX_DEPTH), [`MAX_STEPS`](Schema::MAX_STEPS)) rather than at a
    /// keyword the value fails.
    pub fn is_limit(&self) -> bool {
        self.limit
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at {}: {} ({})", crate::error::display_pointer(&self.instance_path), self.message, self.schema_path)
    }
}

impl std::error::Error for Violation {}
