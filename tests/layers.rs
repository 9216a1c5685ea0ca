//! The layer rule (ARCHITECTURE.md, "Layers"): every module of the library sits in a layer, and a
//! module imports only from its own layer or the layers below it, with no circle inside a layer.
//! Read from the source: every `crate::<module>` path (in `use` lines and in code, comments left
//! out) of every file under `src/`. A new module must be given a layer here (and in
//! ARCHITECTURE.md), or this test fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom first. Keep in step with ARCHITECTURE.md's layer table.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["backoff", "deadline", "op"]),
    ("errors", &["error"]),
    ("wire", &["url", "jsonrpc", "sse"]),
    ("protocol", &["protocol", "handlers", "schema"]),
    ("data", &["config"]),
    ("transport", &["transport"]),
    ("auth", &["auth"]),
    ("session", &["session"]),
    ("client", &["client"]),
    ("catalogue", &["cache", "catalog", "pool"]),
    ("orchestrator", &["orchestrator"]),
    ("serving", &["serve"]),
    ("test support", &["testing", "bench_support"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`src/config/json.rs` → `config`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let first = rel.components().next().expect("a path").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file without comments (`//…` to the end of the line, `/* … */`) and string
/// literals, so that docs and messages that mention `crate::x` are not imports.
fn code_only(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += if bytes[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next.is_some() && bytes.get(i + 2) == Some(&'\'') {
            // A char literal like '"' or '{'.
            out.push_str("' '");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every top-level module a piece of code names through `crate::`: `crate::a::…`, and the
/// groups of `use crate::{a::…, b, …}` (nested groups included).
fn imported_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `mcp_orchestrator_crate::`, …
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level names of the group: at brace depth 0, each item's first segment.
            let mut depth = 0;
            let mut item = String::new();
            let mut first_segment_done = false;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !item.is_empty() {
                            found.insert(std::mem::take(&mut item));
                        }
                        first_segment_done = false;
                    }
                    c if depth == 0 && !first_segment_done && (c.is_alphanumeric() || c == '_') => item.push(c),
                    ':' if depth == 0 && !item.is_empty() => first_segment_done = true,
                    _ => {}
                }
            }
            if !item.is_empty() {
                found.insert(item);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} files under {}", files.len(), src.display());

    let mut problems = Vec::new();
    // module → modules it imports (other than itself), with a file that does it.
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "bin" {
            continue; // the crate root re-exports; the binary is a user of the library
        }
        let Some(layer) = layer_of(&module) else {
            problems.push(format!("{}: module `{module}` has no layer in tests/layers.rs", file.display()));
            continue;
        };
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for imported in imported_modules(&code_only(&text)) {
            if imported == module {
                continue;
            }
            let shown = file.strip_prefix(&src).unwrap().display().to_string();
            match layer_of(&imported) {
                // The crate root's re-exports (`crate::Tool`): the public API, as a user sees it;
                // only the top layer (test support, a user of the library) may name it.
                None if layer == LAYERS.len() - 1 => {}
                None => problems.push(format!("src/{shown}: imports `crate::{imported}`, which has no layer")),
                Some(l) if l > layer => problems.push(format!(
                    "src/{shown}: `{module}` (layer {}) imports `{imported}` (layer {}, above it)",
                    LAYERS[layer].0, LAYERS[l].0
                )),
                Some(_) => {
                    edges.entry(module.clone()).or_default().entry(imported).or_insert(shown);
                }
            }
        }
    }
    // No circle among modules of one layer (a circle across layers is already an upward import).
    for (module, imports) in &edges {
        for (imported, file) in imports {
            if layer_of(imported) == layer_of(module) && reaches(&edges, imported, module, &mut BTreeSet::new()) {
                problems.push(format!("src/{file}: `{module}` → `{imported}` closes a circle back to `{module}`"));
            }
        }
    }
    assert!(problems.is_empty(), "the layer rule is broken:\n  {}", problems.join("\n  "));
}

fn reaches(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    if from == to {
        return true;
    }
    if !seen.insert(from.to_string()) {
        return false;
    }
    edges.get(from).is_some_and(|next| next.keys().any(|n| reaches(edges, n, to, seen)))
}

#[test]
fn the_import_reader_sees_every_form() {
    let code = code_only(
        "use crate::a::b;\nuse crate::{c::d, e, f::{g, h}};\nlet x = crate::i::j();\n\
         // crate::comment::x\nlet s = \"crate::string\";\nmacro_rules! m { () => { $crate::k } }\n",
    );
    let found: Vec<String> = imported_modules(&code).into_iter().collect();
    assert_eq!(found, ["a", "c", "e", "f", "i"]);
}
