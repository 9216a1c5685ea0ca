//! The validator, keyword family by keyword family; dialects; bounds. (The JSON Schema Test
//! Suite's 2020-12, 2019-09 and draft-07 files were also run against it while writing it: every
//! case whose schema compiles passes.)

use serde_json::{Value, json};

use super::*;

fn schema(s: Value) -> Schema {
    Schema::compile(&s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Each instance's validity under `s`.
#[track_caller]
fn check(s: Value, cases: &[(Value, bool)]) {
    let compiled = schema(s.clone());
    for (instance, valid) in cases {
        let got = compiled.validate(instance);
        assert_eq!(got.is_ok(), *valid, "schema {s}, instance {instance}: {got:?}");
    }
}

/// The first violation of `instance`: (instance path, schema path, message).
#[track_caller]
fn violation(s: Value, instance: Value) -> (String, String, String) {
    let v = schema(s).validate(&instance).expect_err("invalid");
    assert!(!v.is_limit(), "{v}");
    (v.instance_path().into(), v.schema_path().into(), v.message().into())
}

#[test]
fn type_enum_const() {
    check(
        json!({"type": "integer"}),
        &[(json!(1), true), (json!(1.0), true), (json!(-3e2), true), (json!(1.5), false), (json!("1"), false)],
    );
    check(json!({"type": "number"}), &[(json!(1), true), (json!(0.5), true), (json!(null), false)]);
    check(json!({"type": ["string", "null"]}), &[(json!("a"), true), (json!(null), true), (json!(0), false)]);
    check(json!({"type": "object"}), &[(json!({}), true), (json!([]), false)]);
    check(json!({"type": "array"}), &[(json!([]), true), (json!({}), false)]);
    check(json!({"type": "boolean"}), &[(json!(false), true), (json!(0), false)]);
    check(
        json!({"enum": [1, "a", {"b": [null]}]}),
        &[(json!(1.0), true), (json!({"b": [null]}), true), (json!(2), false)],
    );
    check(json!({"const": {"a": [1, 2]}}), &[(json!({"a": [1.0, 2]}), true), (json!({"a": [2, 1]}), false)]);
    check(json!({"const": false}), &[(json!(false), true), (json!(0), false)]);
    assert_eq!(
        violation(json!({"properties": {"n": {"type": ["string", "null"]}}}), json!({"n": 1.5})),
        ("/n".into(), "#/properties/n/type".into(), "expected null or string, got number".into())
    );
    assert_eq!(violation(json!({"enum": ["a", "b"]}), json!("c")).2, r#"is not one of "a", "b""#);
}

#[test]
fn objects() {
    let s = json!({
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}, "tags": {"type": "array"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": false
    });
    check(
        s.clone(),
        &[
            (json!({"id": 1}), true),
            (json!({"id": 1, "x-a": "b"}), true),
            (json!({"id": 1, "x-a": 2}), false),
            (json!({"id": 1, "other": 0}), false),
            (json!({"tags": []}), false),
        ],
    );
    assert_eq!(violation(s.clone(), json!({"tags": []})).2, r#"the required property "id" is missing"#);
    assert_eq!(
        violation(s, json!({"id": 1, "a/b": 0})),
        ("/a~1b".into(), "#/additionalProperties".into(), "is not allowed (additionalProperties is false)".into())
    );
    check(
        json!({"propertyNames": {"maxLength": 3}, "minProperties": 1, "maxProperties": 2}),
        &[
            (json!({"abc": 1}), true),
            (json!({"abcd": 1}), false),
            (json!({}), false),
            (json!({"a": 1, "b": 2, "c": 3}), false),
        ],
    );
    check(
        json!({"dependentRequired": {"card": ["billing"]}, "dependentSchemas": {"x": {"required": ["y"]}}}),
        &[
            (json!({}), true),
            (json!({"card": 1, "billing": 2}), true),
            (json!({"card": 1}), false),
            (json!({"x": 1}), false),
        ],
    );
    check(json!({"additionalProperties": {"type": "number"}}), &[(json!({"a": 1}), true), (json!({"a": "1"}), false)]);
    let (_, _, message) = violation(json!({"propertyNames": {"pattern": "^[a-z]+$"}}), json!({"Bad": 1}));
    assert_eq!(message, r#"the property name "Bad" is invalid: does not match the pattern "^[a-z]+$""#);
}

#[test]
fn arrays() {
    check(
        json!({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
        &[(json!([]), true), (json!(["a", 1]), true), (json!([1]), false), (json!(["a", 1, null]), false)],
    );
    check(
        json!({"items": {"type": "integer"}, "minItems": 1, "maxItems": 2}),
        &[(json!([1]), true), (json!([]), false), (json!([1, 2, 3]), false), (json!([1, "2"]), false)],
    );
    check(
        json!({"uniqueItems": true}),
        &[
            (json!([1, "1", [1], {"a": 1}]), true),
            (json!([1, 1.0]), false),
            (json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}]), false),
        ],
    );
    check(
        json!({"contains": {"type": "string"}}),
        &[(json!([1, "a"]), true), (json!([1, 2]), false), (json!([]), false)],
    );
    check(
        json!({"contains": {"type": "string"}, "minContains": 2, "maxContains": 3}),
        &[(json!(["a", "b"]), true), (json!(["a", 1]), false), (json!(["a", "b", "c", "d"]), false)],
    );
    check(json!({"contains": {"type": "string"}, "minContains": 0}), &[(json!([]), true), (json!([1]), true)]);
    assert_eq!(violation(json!({"items": {"type": "string"}}), json!(["a", "b", "c", 4])).0, "/3");
    assert_eq!(violation(json!({"uniqueItems": true}), json!([1, 2, 1])).2, "items 0 and 2 are equal");
}

#[test]
fn strings_and_numbers() {
    // Code points, not bytes nor UTF-16 units.
    check(
        json!({"minLength": 2, "maxLength": 3}),
        &[(json!("é😀"), true), (json!("😀"), false), (json!("abcd"), false)],
    );
    check(
        json!({"pattern": "^\\d{4}-[a-z]+$"}),
        &[(json!("2024-ab"), true), (json!("٢٠٢٤-ab"), false), (json!("x"), false)],
    );
    check(json!({"pattern": "b"}), &[(json!("abc"), true), (json!(7), true)]);
    check(json!({"pattern": "^[\\w.]+$"}), &[(json!("a_b.c"), true), (json!("é"), false)]);
    check(
        json!({"minimum": 1, "maximum": 3}),
        &[(json!(1), true), (json!(3.0), true), (json!(0.99), false), (json!(4), false)],
    );
    check(
        json!({"exclusiveMinimum": 1, "exclusiveMaximum": 3}),
        &[(json!(2), true), (json!(1), false), (json!(3), false)],
    );
    check(json!({"multipleOf": 0.0001}), &[(json!(0.0075), true), (json!(0.00751), false)]);
    check(json!({"multipleOf": 3}), &[(json!(9), true), (json!(10), false), (json!(9.0), true)]);
    check(
        json!({"maximum": 18446744073709551615_u64}),
        &[(json!(18446744073709551615_u64), true), (json!(1e20), false)],
    );
    check(
        json!({"minimum": -9007199254740993_i64}),
        &[(json!(-9007199254740992_i64), true), (json!(-9007199254740994_i64), false)],
    );
    assert_eq!(violation(json!({"minimum": 0}), json!(-1)).2, "is less than the minimum 0");
    assert_eq!(violation(json!({"maxLength": 1}), json!("ab")).2, "has 2 characters, more than 1");
}

#[test]
fn composition_and_conditionals() {
    check(json!({"allOf": [{"minimum": 1}, {"maximum": 2}]}), &[(json!(1), true), (json!(3), false)]);
    check(
        json!({"anyOf": [{"type": "string"}, {"minimum": 5}]}),
        &[(json!("a"), true), (json!(7), true), (json!(1), false)],
    );
    check(
        json!({"oneOf": [{"type": "integer"}, {"minimum": 5}]}),
        &[(json!(1), true), (json!(5.5), true), (json!(7), false)],
    );
    check(json!({"not": {"type": "null"}}), &[(json!(0), true), (json!(null), false)]);
    let s = json!({
        "if": {"properties": {"kind": {"const": "phone"}}, "required": ["kind"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]}
    });
    check(
        s.clone(),
        &[
            (json!({"kind": "phone", "phone": "1"}), true),
            (json!({"kind": "phone", "email": "a"}), false),
            (json!({"email": "a"}), true),
            (json!({}), false),
        ],
    );
    assert_eq!(violation(s, json!({"kind": "phone"})).1, "#/then/required");
    assert_eq!(
        violation(json!({"oneOf": [{}, {}]}), json!(1)).2,
        "matches schemas 0 and 1 of oneOf; exactly one must match"
    );
    assert_eq!(violation(json!({"anyOf": [false, false]}), json!(1)).2, "matches none of the 2 schemas of anyOf");
    check(json!(true), &[(json!({"any": "thing"}), true)]);
    check(json!(false), &[(json!(null), false)]);
    check(json!({"properties": {"a": false}}), &[(json!({}), true), (json!({"a": 1}), false)]);
}

#[test]
fn unevaluated_properties_and_items_see_in_place_annotations() {
    let s = json!({
        "properties": {"a": true},
        "allOf": [{"properties": {"b": true}}],
        "anyOf": [{"properties": {"c": true}, "required": ["c"]}, {"properties": {"d": true}, "required": ["d"]}],
        "if": {"properties": {"e": {"const": 1}}, "required": ["e"]},
        "then": {"properties": {"f": true}},
        "unevaluatedProperties": false
    });
    check(
        s,
        &[
            (json!({"a": 1, "b": 1, "c": 1}), true),
            (json!({"c": 1, "d": 1}), true),
            (json!({"c": 1, "e": 1, "f": 1}), true),
            (json!({"c": 1, "f": 1}), false),
            (json!({"c": 1, "z": 1}), false),
            // A failed branch's annotations do not count.
            (json!({"d": 1, "c": "x", "e": 2}), false),
        ],
    );
    let s =
        json!({"$ref": "#/$defs/base", "$defs": {"base": {"properties": {"x": true}}}, "unevaluatedProperties": false});
    check(s, &[(json!({"x": 1}), true), (json!({"y": 1}), false)]);
    let s = json!({"prefixItems": [true], "contains": {"type": "string"}, "unevaluatedItems": {"type": "integer"}});
    check(s, &[(json!([null, "a", 3]), true), (json!([null, "a", null]), false)]);
    check(
        json!({"allOf": [{"prefixItems": [true, true]}], "unevaluatedItems": false}),
        &[(json!([1, 2]), true), (json!([1, 2, 3]), false)],
    );
    assert_eq!(
        violation(json!({"unevaluatedProperties": false}), json!({"q": 1})).2,
        "is not allowed (unevaluatedProperties is false)"
    );
}

#[test]
fn refs_anchors_and_ids_within_the_document() {
    let s = json!({
        "$id": "https://example.com/root.json",
        "$defs": {
            "name": {"$anchor": "name", "type": "string"},
            "a~b": {"type": "integer"},
            "a b": {"type": "boolean"},
            "inner": {"$id": "inner.json", "$defs": {"n": {"type": "null"}}, "$ref": "#/$defs/n"},
            "tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}}
        },
        "properties": {
            "by_anchor": {"$ref": "#name"},
            "by_pointer": {"$ref": "#/$defs/a~0b"},
            "by_id": {"$ref": "inner.json"},
            "by_absolute": {"$ref": "https://example.com/root.json#/$defs/name"},
            "by_percent": {"$ref": "#/$defs/a%20b"},
            "tree": {"$ref": "#/$defs/tree"},
            "into_properties": {"$ref": "#/properties/by_anchor"}
        }
    });
    check(
        s.clone(),
        &[
            (
                json!({"by_anchor": "x", "by_pointer": 1, "by_id": null, "by_absolute": "y", "into_properties": "z"}),
                true,
            ),
            (json!({"by_anchor": 1}), false),
            (json!({"by_pointer": "1"}), false),
            (json!({"by_id": 0}), false),
            (json!({"by_absolute": 0}), false),
            (json!({"by_percent": true}), true),
            (json!({"by_percent": 0}), false),
            (json!({"tree": {"kids": [{"kids": []}, {"kids": [{}]}]}}), true),
            (json!({"tree": {"kids": [{"kids": [1]}]}}), false),
            (json!({"into_properties": 2}), false),
        ],
    );
    let (path, keyword, _) = violation(s, json!({"tree": {"kids": [{"kids": [{"kids": 3}]}]}}));
    assert_eq!((path.as_str(), keyword.as_str()), ("/tree/kids/0/kids/0/kids", "#/$defs/tree/properties/kids/type"));
    // `definitions`, and a pointer into a keyword the walk does not know.
    check(
        json!({"definitions": {"a": {"type": "string"}}, "x-lib": {"b": {"type": "null"}}, "anyOf": [{"$ref": "#/definitions/a"}, {"$ref": "#/x-lib/b"}]}),
        &[(json!("s"), true), (json!(null), true), (json!(1), false)],
    );
    // A `$dynamicRef` whose anchor one resource declares is a `$ref`.
    let s = json!({"$dynamicAnchor": "node", "properties": {"next": {"$dynamicRef": "#node"}}, "required": ["v"]});
    check(s, &[(json!({"v": 1, "next": {"v": 2}}), true), (json!({"v": 1, "next": {}}), false)]);
}

#[test]
fn dialects() {
    assert_eq!(schema(json!({})).dialect(), "2020-12");
    for (uri, name) in [
        ("https://json-schema.org/draft/2020-12/schema", "2020-12"),
        ("https://json-schema.org/draft/2019-09/schema#", "2019-09"),
        ("http://json-schema.org/draft-07/schema#", "draft-07"),
        ("http://json-schema.org/draft-07/schema", "draft-07"),
    ] {
        assert_eq!(schema(json!({"$schema": uri})).dialect(), name);
    }
    for uri in ["http://json-schema.org/draft-04/schema#", "https://example.com/my-meta", "draft-07"] {
        let e = Schema::compile(&json!({"$schema": uri, "type": "object"})).unwrap_err();
        assert!(e.is_unsupported(), "{uri}: {e}");
        assert_eq!(
            e.to_string(),
            format!("unsupported schema at #: dialect {uri:?} is not supported (2020-12, 2019-09 and draft-07 are)")
        );
    }
    // draft-07: `$ref` hides its siblings; `items` as an array, `additionalItems`, `dependencies`.
    let d7 = "http://json-schema.org/draft-07/schema#";
    check(
        json!({"$schema": d7, "definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 1}}}),
        &[(json!({"a": "long"}), true), (json!({"a": 1}), false)],
    );
    check(
        json!({"$schema": d7, "items": [{"type": "string"}], "additionalItems": {"type": "integer"}}),
        &[(json!(["a", 1]), true), (json!(["a", "b"]), false)],
    );
    check(
        json!({"$schema": d7, "dependencies": {"a": ["b"], "c": {"required": ["d"]}}}),
        &[(json!({"a": 1, "b": 1}), true), (json!({"a": 1}), false), (json!({"c": 1}), false)],
    );
    // draft-07 has no unevaluatedProperties: ignored as an unknown keyword.
    check(json!({"$schema": d7, "unevaluatedProperties": false}), &[(json!({"a": 1}), true)]);
    // 2020-12 with the array form of `items` (invalid there): read as 2019-09 would.
    check(
        json!({"items": [{"type": "string"}], "additionalItems": false}),
        &[(json!(["a"]), true), (json!(["a", 1]), false)],
    );
}

#[test]
fn what_cannot_be_compiled_says_why() {
    let unsupported = |s: Value| {
        let e = Schema::compile(&s).unwrap_err();
        assert!(e.is_unsupported(), "{s}: {e}");
        e.to_string()
    };
    let e = unsupported(json!({"properties": {"p": {"$ref": "https://example.com/profile.json"}}}));
    assert_eq!(
        e,
        "unsupported schema at #/properties/p/$ref: $ref \"https://example.com/profile.json\" points out of this schema (no $ref is ever fetched)"
    );
    unsupported(json!({"$ref": "other.json#/a"}));
    unsupported(json!({"$id": "https://a.example/s.json", "$ref": "https://b.example/s.json"}));
    let e = unsupported(json!({"pattern": "^(?=.*[A-Z]).+$"}));
    assert!(e.starts_with("unsupported schema at #/pattern: pattern \"^(?=.*[A-Z]).+$\" is not supported: "), "{e}");
    unsupported(json!({"patternProperties": {"(a)\\1": true}}));
    // A dynamic reference the dynamic scope could redirect.
    unsupported(json!({
        "$dynamicAnchor": "n",
        "$defs": {"other": {"$id": "other.json", "$dynamicAnchor": "n"}},
        "items": {"$dynamicRef": "#n"}
    }));

    let invalid = |s: Value| {
        let e = Schema::compile(&s).unwrap_err();
        assert!(!e.is_unsupported(), "{s}: {e}");
        e.to_string()
    };
    assert_eq!(invalid(json!({"type": "strnig"})), "invalid schema at #/type: type \"strnig\" is not valid");
    assert_eq!(
        invalid(json!({"properties": {"a": {"minLength": -1}}})),
        "invalid schema at #/properties/a/minLength: minLength is not a non-negative integer"
    );
    invalid(json!({"properties": {"a": 3}}));
    invalid(json!({"required": "a"}));
    invalid(json!({"multipleOf": 0}));
    invalid(json!({"anyOf": []}));
    invalid(json!({"$ref": "#/$defs/missing"}));
    invalid(json!({"$ref": "#nowhere"}));
    invalid(json!(7));
}

#[test]
fn bounds_stop_hostile_schemas() {
    // A `$ref` loop that never descends into the value.
    let looping =
        schema(json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}));
    let v = looping.validate(&json!(1)).unwrap_err();
    assert!(v.is_limit() && v.message().contains("deeper than 128"), "{v}");
    assert!(schema(json!({"$ref": "#"})).validate(&json!(null)).unwrap_err().is_limit());
    // A value deeper than the bound, under a recursive schema.
    let mut deep = json!(null);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let v = schema(json!({"items": {"$ref": "#"}})).validate(&deep).unwrap_err();
    assert!(v.is_limit(), "{v}");
    // Composition whose work doubles at each level: 2^25 applications, cut at the step bound.
    let mut defs = serde_json::Map::new();
    defs.insert("d0".into(), json!({}));
    for i in 1..=25 {
        let down = format!("#/$defs/d{}", i - 1);
        defs.insert(format!("d{i}"), json!({"anyOf": [false, {"allOf": [{"$ref": down}, {"$ref": down}]}]}));
    }
    let started = std::time::Instant::now();
    let v = schema(json!({"$defs": defs, "$ref": "#/$defs/d25"})).validate(&json!(1)).unwrap_err();
    assert!(v.is_limit() && v.message() == "validation stopped after 1000000 steps", "{v}");
    eprintln!("the step bound stopped a validation after {:?}", started.elapsed());
    // A huge oneOf: past the subschema bound when compiled; under it, its branches are steps.
    let branches = |n: i64| -> Vec<Value> { (0..n).map(|i| json!({"const": i})).collect() };
    let e = Schema::compile(&json!({"oneOf": branches(30_000)})).unwrap_err();
    assert_eq!(e.to_string(), "invalid schema at #/oneOf/19999: more than 20000 subschemas");
    let wide = schema(json!({"items": {"oneOf": branches(10_000)}}));
    assert!(wide.validate(&json!([1, 2, 3])).is_ok());
    assert!(wide.validate(&Value::Array(vec![json!(1); 500])).unwrap_err().is_limit());
    // A schema nested past the depth bound.
    let mut nested = json!({});
    for _ in 0..200 {
        nested = json!({"not": nested});
    }
    let e = Schema::compile(&nested).unwrap_err();
    assert!(e.to_string().contains("deeper than 128"), "{e}");
    // A pattern whose program is too large.
    let e = Schema::compile(&json!({"pattern": "\\w{1000}{1000}"})).unwrap_err();
    assert!(!e.is_unsupported() && e.to_string().contains("compiles to more than"), "{e}");
}

#[test]
fn the_deepest_validation_fits_a_small_stack() {
    // The depth bound is reached well within 512 KiB (the crate's smallest thread stack).
    let s = schema(json!({"properties": {"a": {"$ref": "#"}}, "anyOf": [{"$ref": "#/$defs/x"}], "$defs": {"x": true}}));
    let mut deep = json!({});
    for _ in 0..200 {
        deep = json!({"a": deep});
    }
    let handle =
        std::thread::Builder::new().stack_size(512 * 1024).spawn(move || s.validate(&deep).map_err(|v| v.is_limit()));
    assert_eq!(handle.unwrap().join().unwrap(), Err(true));
}

#[test]
fn compiled_schemas_are_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Schema>();
    let s = schema(json!({"type": "object"}));
    assert_eq!(format!("{s:?}"), "Schema { dialect: \"2020-12\", subschemas: 1, .. }");
}
