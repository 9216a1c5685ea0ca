//! Tool search over the merged catalogue: a BM25F index of the tools' names, titles,
//! descriptions and parameters, a literal / regex mode, and token estimates of the tool
//! definitions a host would hand a model.
//!
//! Pure: built from a [`Gathered`]'s tools, no I/O, no locks, no clock. The index is built the
//! first time a [`Gathered`] is searched (its `OnceLock`) and lives as long as that catalogue;
//! a new gather that changes a server's part builds a new `Gathered`, hence a new index.
//!
//! # Ranking
//!
//! Each tool is a document of six fields, each a list of words (see [`words`]):
//!
//! | field | text | weight | length normalisation `b` |
//! | --- | --- | --- | --- |
//! | name | the merged name (which holds the original one) | 3.0 | 0.3 |
//! | title | `title` | 2.0 | 0.3 |
//! | params | the names of `inputSchema.properties` | 1.5 | 0.5 |
//! | server | the owning server's name | 1.0 | 0.0 |
//! | description | `description` | 1.0 | 0.75 |
//! | param descriptions | each property's `description` | 0.5 | 0.75 |
//!
//! The score of a tool is BM25F (Robertson and Zaragoza's field-weighted BM25): per query word,
//! the fields' weighted, length-normalised frequencies are summed first and saturated once
//! (`k1` = 1.2), times the word's inverse document frequency `ln(1 + (N - df + 0.5) / (df +
//! 0.5))`. A word found in the name counts three times one in the description, but a word
//! repeated in every field does not run away. The server's name is a field because a request
//! names the service more often than the tool does ("post to slack").
//!
//! A query word also looks for its verb forms (`creating`, `created` → `create`; `matching` →
//! `match`; `stopped` → `stop`; weight 0.9). A word found neither way is looked up once more,
//! with less weight (0.6): as the prefix of indexed words (`repo` → `repository`), or by the
//! longest indexed word it starts with, at most 3 letters shorter (`configure` → `config`).
//! An everyday verb also looks for the API verbs it stands for (`show` → `list`, `get`;
//! `remove` → `delete`; `find` → `search`; weight 0.5; the table is `API_VERBS`). Where several
//! indexed words stand for one query word, a tool counts the best of them.
//!
//! What it cannot do is know what a word means: "how much did we spend" does not find a tool
//! that only says "cost" (`tests/support/tool_catalogue.rs` keeps such requests as
//! `HARD_QUERIES`).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Gathered, Merged, MergedTool};
use crate::error::{Error, Result};
use crate::protocol::Tool;

/// The compiled size a search regex may reach (1 MiB), so that a pattern from a user cannot
/// make the regex crate build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;

/// The fields of a tool's document, in the order of [`WEIGHTS`] and [`B`].
const NAME: usize = 0;
const TITLE: usize = 1;
const PARAMS: usize = 2;
const SERVER: usize = 3;
const DESCRIPTION: usize = 4;
const PARAM_DESCRIPTIONS: usize = 5;
const FIELDS: usize = 6;

/// Each field's weight (see the module docs).
const WEIGHTS: [f32; FIELDS] = [3.0, 2.0, 1.5, 1.0, 1.0, 0.5];
/// Each field's length normalisation: short fields (names) barely, prose fully.
const B: [f32; FIELDS] = [0.3, 0.3, 0.5, 0.0, 0.75, 0.75];

/// The weight of a query word found as a verb form (`created` → `create`).
const MORPH_WEIGHT: f32 = 0.9;
/// The weight of a query word found as a prefix, either way (`repo` → `repository`,
/// `configure` → `config`).
const PREFIX_WEIGHT: f32 = 0.6;
/// The weight of an API verb standing in for an everyday one (`remove` → `delete`).
const SYNONYM_WEIGHT: f32 = 0.5;
/// At most this many indexed words stand in for one query word taken as a prefix.
const MAX_EXPANSIONS: usize = 32;

/// Words too common in requests and descriptions to tell tools apart. Domain verbs (`list`,
/// `get`, `create`) are not among them: they do.
const STOP_WORDS: &[&str] = &[
    "a", "about", "also", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does",
    "done", "for", "from", "give", "have", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "many",
    "me", "much", "my", "need", "now", "of", "on", "or", "our", "please", "should", "so", "some", "that", "the",
    "their", "them", "then", "there", "these", "this", "those", "to", "us", "very", "want", "was", "we", "what",
    "when", "where", "which", "who", "will", "with", "would", "you", "your",
];
/// The length of the longest of [`STOP_WORDS`] (a longer word is not looked up).
const LONGEST_STOP_WORD: usize = 6;

/// The verbs tool names are made of, and the everyday verbs a request says instead (sorted by
/// the everyday verb). Tool APIs name their operations with a handful of verbs — list, get,
/// create, update, delete, search — while people ask to "show", "remove", "find" or "add";
/// each everyday verb also looks for its API verbs, at [`SYNONYM_WEIGHT`]. Only verbs: nouns
/// are the catalogue's own vocabulary and are left to it.
const API_VERBS: &[(&str, &[&str])] = &[
    ("add", &["create"]),
    ("book", &["create"]),
    ("change", &["update"]),
    ("destroy", &["delete"]),
    ("display", &["list", "get"]),
    ("edit", &["update"]),
    ("erase", &["delete"]),
    ("fetch", &["get"]),
    ("find", &["search"]),
    ("lookup", &["search", "get"]),
    ("make", &["create"]),
    ("modify", &["update"]),
    ("remove", &["delete"]),
    ("retrieve", &["get"]),
    ("schedule", &["create"]),
    ("see", &["list", "get"]),
    ("show", &["list", "get"]),
    ("view", &["get", "list"]),
];

/// The API verbs an everyday verb (or a form of it: `removing`, `showed`) stands for.
fn api_verbs(word: &str) -> &'static [&'static str] {
    let find = |w: &str| API_VERBS.binary_search_by(|(k, _)| (*k).cmp(w)).ok().map(|i| API_VERBS[i].1);
    find(word).or_else(|| verb_forms(word).iter().find_map(|f| find(f))).unwrap_or_default()
}

/// What to look for in the tools of a catalogue ([`Gathered::search_tools_matching`],
/// [`Orchestrator::search_tools`](crate::Orchestrator::search_tools)).
///
/// A `&str` converts into [`ToolQuery::Ranked`]; [`ToolQuery::parse`] reads what a person
/// typed, where `/…/` is a regular expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolQuery<'a> {
    /// Words, in any order and form, ranked by relevance (BM25F over names, titles, parameters
    /// and descriptions, with light stemming; see [`Gathered::search_tools`]). Never fails;
    /// a query with no word (or only stop words) finds nothing.
    Ranked(&'a str),
    /// The text itself, case-insensitive, anywhere in a tool's merged name, title, description
    /// or a parameter's name. Tools are ordered by the field it is found in (name first), then
    /// by name.
    Literal(&'a str),
    /// A regular expression ([`regex`](https://docs.rs/regex) syntax, case-sensitive unless it
    /// says `(?i)`), searched in the same fields as [`ToolQuery::Literal`] and ordered the same
    /// way. An invalid or too large pattern (over 1 MiB compiled) is an [`Error::Config`].
    Regex(&'a str),
}

impl<'a> ToolQuery<'a> {
    /// Reads a query as typed: `/pattern/` (at least one character between the slashes) is a
    /// [`ToolQuery::Regex`], anything else [`ToolQuery::Ranked`] words.
    ///
    /// ```
    /// use mcp_orchestrator::ToolQuery;
    /// assert_eq!(ToolQuery::parse("/^github_/"), ToolQuery::Regex("^github_"));
    /// assert_eq!(ToolQuery::parse("open a pull request"), ToolQuery::Ranked("open a pull request"));
    /// assert_eq!(ToolQuery::parse("/"), ToolQuery::Ranked("/"));
    /// ```
    pub fn parse(text: &'a str) -> ToolQuery<'a> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(pattern) if !pattern.is_empty() => ToolQuery::Regex(pattern),
            _ => ToolQuery::Ranked(text),
        }
    }
}

impl<'a> From<&'a str> for ToolQuery<'a> {
    fn from(text: &'a str) -> ToolQuery<'a> {
        ToolQuery::Ranked(text)
    }
}

/// A tool a search found, best first.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ToolMatch {
    /// Its merged name (what [`Orchestrator::call_tool`](crate::Orchestrator::call_tool) takes).
    pub name: String,
    /// The server that owns it.
    pub server: String,
    /// Its name on that server.
    pub original: String,
    /// How well it matches: higher is better. For a ranked query, its BM25F score (comparable
    /// within one search only); for a literal or regex query, the weight of the best field
    /// that matched (name 3, title 2, parameter name 1.5, description 1).
    pub score: f64,
    /// The estimated tokens of its definition ([`MergedTool::tokens`]).
    pub tokens: usize,
    /// Its definition, as the owner gave it.
    pub tool: Tool,
}

impl Gathered {
    /// The tools that best match `query`'s words, best first, at most `limit` of them (none for
    /// a `limit` of 0). Ties keep the catalogue's order (by merged name).
    ///
    /// Words are matched as described in [`ToolQuery::Ranked`]: names split on `_ - . /`,
    /// spaces, camelCase and digit boundaries, lowercased, plurals folded (`issues` →
    /// `issue`), common stop words left out. A word found in a name counts more than one in a
    /// title, a parameter's name or the description. The index is built from the tools on the
    /// first search of this catalogue (no I/O) and reused by every later one.
    ///
    #[cfg_attr(feature = "testing", doc = "```")]
    #[cfg_attr(not(feature = "testing"), doc = "```ignore")]
    /// use mcp_orchestrator::{Config, Orchestrator, ServerConfig, ToolQuery, json};
    /// use mcp_orchestrator::testing::{TestServer, text_result};
    ///
    /// let ok = |_: &mcp_orchestrator::Value| Ok(text_result("ok"));
    /// let chat = TestServer::builder()
    ///     .simple_tool("post_message", "Post a message to a channel", ok)
    ///     .simple_tool("list_channels", "List the workspace's channels", ok)
    ///     .start()?;
    /// let git = TestServer::builder()
    ///     .simple_tool("createPullRequest", "Open a pull request from a branch", ok)
    ///     .start()?;
    /// let servers = vec![ServerConfig::sse("slack", chat.url()), ServerConfig::sse("github", git.url())];
    /// let orchestrator = Orchestrator::new(Config::new(servers, Default::default())?);
    /// let g = orchestrator.gather_all_resources()?;
    ///
    /// let hits = g.search_tools("open pull requests", 3);
    /// assert_eq!((hits[0].name.as_str(), hits[0].server.as_str()), ("createPullRequest", "github"));
    /// assert_eq!(g.search_tools("send a slack message", 1)[0].name, "post_message");
    ///
    /// let hits = g.search_tools_matching(ToolQuery::parse("/^(post|list)_/"), 10)?;
    /// assert_eq!(hits.len(), 2);
    /// assert!(g.search_tools_matching(ToolQuery::Regex("(unclosed"), 10).is_err());
    ///
    /// // What the tool definitions would cost a model's context, estimated.
    /// let total: usize = g.tools.iter().map(|t| t.tokens()).sum();
    /// assert_eq!(g.tool_tokens(), total);
    /// orchestrator.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_tools(&self, query: &str, limit: usize) -> Vec<ToolMatch> {
        let index = self.tool_index();
        index.ranked(query, limit).into_iter().map(|(i, score)| index.hit(&self.tools, i, score)).collect()
    }

    /// The tools that match `query`, best first, at most `limit` of them: ranked words as
    /// [`search_tools`](Self::search_tools), or a literal or a regular expression
    /// ([`ToolQuery`]).
    ///
    /// Fails only for a [`ToolQuery::Regex`] that does not compile, or a regex or a literal
    /// that compiled exceeds 1 MiB: an [`Error::Config`] that quotes the pattern and says what
    /// is wrong.
    pub fn search_tools_matching(&self, query: ToolQuery<'_>, limit: usize) -> Result<Vec<ToolMatch>> {
        let regex = match query {
            ToolQuery::Ranked(text) => return Ok(self.search_tools(text, limit)),
            ToolQuery::Literal(text) => compile(&regex::escape(text), true, text, "literal")?,
            ToolQuery::Regex(pattern) => compile(pattern, false, pattern, "regular expression")?,
        };
        let index = self.tool_index();
        let mut found: Vec<(usize, f32)> =
            self.tools.iter().enumerate().filter_map(|(i, t)| best_field(&regex, t).map(|w| (i, w))).collect();
        top(&mut found, limit);
        Ok(found.into_iter().map(|(i, score)| index.hit(&self.tools, i, score)).collect())
    }

    /// The estimated tokens of every tool definition of the catalogue together: the sum of
    /// [`MergedTool::tokens`] over [`Gathered::tools`], what listing them all would cost a
    /// model's context. An estimate (see [`MergedTool::tokens`]).
    pub fn tool_tokens(&self) -> usize {
        self.tool_index().total_tokens
    }

    /// The estimated tokens of one tool's definition, by merged name ([`MergedTool::tokens`],
    /// computed once per catalogue).
    pub fn tool_token_estimate(&self, name: &str) -> Option<usize> {
        let i = self.tools.binary_search_by(|m| m.name.as_str().cmp(name)).ok()?;
        Some(self.tool_index().tokens[i])
    }

    fn tool_index(&self) -> &ToolIndex {
        self.tool_index.get_or_init(|| ToolIndex::build(&self.tools))
    }
}

impl Merged<Tool> {
    /// The estimated number of tokens this tool's definition takes in a model's context: its
    /// JSON as a host sends it (compact; `name` — the merged name —, `title`, `description`,
    /// `inputSchema`, `outputSchema`, `annotations`; not `icons` nor `_meta`), one token per 4
    /// bytes, rounded up.
    ///
    /// Four bytes a token is the usual rule of thumb for English text under the BPE tokenizers
    /// of current models; JSON punctuation and identifiers tokenize a little denser, so the real
    /// count of a given model may be some 10–30 % higher or lower. Good for comparing tools and
    /// for budgets with a margin; not an exact count.
    pub fn tokens(&self) -> usize {
        let t = &self.item;
        let view = HostView {
            name: &self.name,
            title: t.title.as_deref(),
            description: t.description.as_deref(),
            input_schema: &t.input_schema,
            output_schema: t.output_schema.as_ref(),
            annotations: t.annotations.as_ref(),
        };
        let mut bytes = ByteCount(0);
        // Serialising borrowed strings and JSON values into a counter cannot fail.
        let _ = serde_json::to_writer(&mut bytes, &view);
        bytes.0.div_ceil(4)
    }
}

/// A tool definition as a host sends it to a model.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HostView<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_schema: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a Value>,
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compiles a search pattern; `shown` and `what` name it in the error (the text as given).
fn compile(pattern: &str, case_insensitive: bool, shown: &str, what: &str) -> Result<Regex> {
    RegexBuilder::new(pattern).case_insensitive(case_insensitive).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
        let why = match e {
            regex::Error::CompiledTooBig(limit) => format!("it compiles to more than {limit} bytes"),
            other => other.to_string(),
        };
        Error::Config {
            message: format!("tool search: `{shown}` is not a usable {what}: {why}"),
            line: None,
            column: None,
            snippet: None,
            more: Vec::new(),
        }
    })
}

/// The weight of the best field of `tool` that `regex` matches, if any.
fn best_field(regex: &Regex, tool: &MergedTool) -> Option<f32> {
    let t = &tool.item;
    if regex.is_match(&tool.name) {
        return Some(WEIGHTS[NAME]);
    }
    if t.title.as_deref().is_some_and(|s| regex.is_match(s)) {
        return Some(WEIGHTS[TITLE]);
    }
    if properties(&t.input_schema).any(|(name, _)| regex.is_match(name)) {
        return Some(WEIGHTS[PARAMS]);
    }
    if t.description.as_deref().is_some_and(|s| regex.is_match(s)) {
        return Some(WEIGHTS[DESCRIPTION]);
    }
    None
}

/// The top-level properties of an input schema: each name, and its description if it has one.
fn properties(schema: &Value) -> impl Iterator<Item = (&str, Option<&str>)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, p)| (name.as_str(), p.get("description").and_then(Value::as_str)))
}

/// Keeps the `limit` best of `(tool, score)`, best first; ties by tool position.
fn top(found: &mut Vec<(usize, f32)>, limit: usize) {
    let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if limit == 0 {
        found.clear();
        return;
    }
    if found.len() > limit {
        found.select_nth_unstable_by(limit - 1, order);
        found.truncate(limit);
    }
    found.sort_unstable_by(order);
}

/// The BM25F index of one catalogue's tools, and their token estimates. Tools are referred to
/// by their position in [`Gathered::tools`].
pub(crate) struct ToolIndex {
    /// Every indexed word, sorted (prefix look-ups are a range).
    terms: Vec<Box<str>>,
    /// For each word of `terms`, the tools holding it and the word's BM25F score in each.
    postings: Vec<Vec<(u32, f32)>>,
    /// Each tool's estimated tokens.
    tokens: Vec<usize>,
    total_tokens: usize,
}

impl fmt::Debug for ToolIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolIndex")
            .field("tools", &self.tokens.len())
            .field("terms", &self.terms.len())
            .field("total_tokens", &self.total_tokens)
            .finish()
    }
}

impl ToolIndex {
    /// Indexes `tools` (no I/O).
    pub(crate) fn build(tools: &[MergedTool]) -> ToolIndex {
        // Pass 1: each tool's words per field, counted; word ids in order of appearance.
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut docs: Vec<Vec<(u32, [u16; FIELDS])>> = Vec::with_capacity(tools.len());
        let mut lengths: Vec<[u32; FIELDS]> = Vec::with_capacity(tools.len());
        let mut scratch = Vec::new();
        for tool in tools {
            let mut counts: HashMap<u32, [u16; FIELDS]> = HashMap::new();
            let mut length = [0u32; FIELDS];
            let mut add = |field: usize, text: &str, scratch: &mut Vec<String>| {
                scratch.clear();
                terms(text, scratch);
                for word in scratch.drain(..) {
                    let next = ids.len() as u32;
                    let id = *ids.entry(word).or_insert(next);
                    let c = &mut counts.entry(id).or_default()[field];
                    *c = c.saturating_add(1);
                    length[field] += 1;
                }
            };
            let t = &tool.item;
            add(NAME, &tool.name, &mut scratch);
            if let Some(title) = &t.title {
                add(TITLE, title, &mut scratch);
            }
            for (name, description) in properties(&t.input_schema) {
                add(PARAMS, name, &mut scratch);
                if let Some(d) = description {
                    add(PARAM_DESCRIPTIONS, d, &mut scratch);
                }
            }
            add(SERVER, &tool.server, &mut scratch);
            if let Some(d) = &t.description {
                add(DESCRIPTION, d, &mut scratch);
            }
            docs.push(counts.into_iter().collect());
            lengths.push(length);
        }

        // Pass 2: BM25F per (word, tool).
        let n = tools.len().max(1) as f32;
        let mut average = [0f32; FIELDS];
        for l in &lengths {
            for f in 0..FIELDS {
                average[f] += l[f] as f32 / n;
            }
        }
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); ids.len()];
        for (doc, words) in docs.iter().enumerate() {
            for (id, counts) in words {
                let mut tf = 0f32;
                for f in 0..FIELDS {
                    if counts[f] > 0 {
                        let norm = if average[f] > 0.0 { lengths[doc][f] as f32 / average[f] } else { 1.0 };
                        tf += WEIGHTS[f] * counts[f] as f32 / (1.0 - B[f] + B[f] * norm);
                    }
                }
                postings[*id as usize].push((doc as u32, tf / (K1 + tf)));
            }
        }
        for list in &mut postings {
            let df = list.len() as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for (_, w) in list.iter_mut() {
                *w *= idf;
            }
            list.sort_unstable_by_key(|&(doc, _)| doc);
        }

        // Sorted vocabulary, postings in the same order.
        let mut vocabulary: Vec<(String, u32)> = ids.into_iter().collect();
        vocabulary.sort_unstable();
        let mut slots: Vec<Option<Vec<(u32, f32)>>> = postings.into_iter().map(Some).collect();
        let (terms, postings) = vocabulary
            .into_iter()
            .map(|(word, id)| (word.into_boxed_str(), slots[id as usize].take().unwrap_or_default()))
            .unzip();

        let tokens: Vec<usize> = tools.iter().map(MergedTool::tokens).collect();
        let total_tokens = tokens.iter().sum();
        ToolIndex { terms, postings, tokens, total_tokens }
    }

    /// How many distinct words are indexed.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // reason: only the bench support reads it
    pub(crate) fn term_count(&self) -> usize {
        self.terms.len()
    }

    fn find(&self, term: &str) -> Option<usize> {
        self.terms.binary_search_by(|t| (**t).cmp(term)).ok()
    }

    /// The indexed words that stand for a query word, each with the query word's weight.
    fn resolve(&self, term: &str, out: &mut Vec<(usize, f32)>) {
        self.resolve_word(term, out);
        for verb in api_verbs(term) {
            if let Some(i) = self.find(verb) {
                out.push((i, SYNONYM_WEIGHT));
            }
        }
    }

    /// The indexed words that stand for a query word itself (or its forms, or as a prefix).
    fn resolve_word(&self, term: &str, out: &mut Vec<(usize, f32)>) {
        // The word itself and its verb forms (`matching` finds `match` too).
        let before = out.len();
        if let Some(i) = self.find(term) {
            out.push((i, 1.0));
        }
        if let Some(i) = verb_forms(term).iter().find_map(|form| self.find(form)) {
            out.push((i, MORPH_WEIGHT));
        }
        if out.len() > before {
            return;
        }
        if term.chars().count() >= 3 {
            let start = self.terms.partition_point(|t| **t < *term);
            let expansions = self.terms[start..].iter().take_while(|t| t.starts_with(term)).take(MAX_EXPANSIONS);
            let before = out.len();
            out.extend(expansions.enumerate().map(|(k, _)| (start + k, PREFIX_WEIGHT)));
            if out.len() > before {
                return;
            }
            // The longest indexed word the query word starts with, at most 3 letters shorter.
            let shortest = term.len().saturating_sub(3).max(4);
            let mut end = term.len();
            while end > shortest {
                end -= 1;
                if !term.is_char_boundary(end) {
                    continue;
                }
                if let Some(i) = self.find(&term[..end]) {
                    out.push((i, PREFIX_WEIGHT));
                    return;
                }
            }
        }
    }

    /// The best `limit` tools for the query's words, with their scores.
    fn ranked(&self, query: &str, limit: usize) -> Vec<(usize, f32)> {
        if limit == 0 || self.tokens.is_empty() {
            return Vec::new();
        }
        let mut words = Vec::new();
        terms(query, &mut words);
        words.sort_unstable();
        words.dedup();
        let mut scores = vec![0f32; self.tokens.len()];
        let mut stand_ins = Vec::new();
        let mut best: Vec<(u32, f32)> = Vec::new();
        for word in &words {
            stand_ins.clear();
            self.resolve(word, &mut stand_ins);
            if let [(term, weight)] = stand_ins[..] {
                for &(doc, w) in &self.postings[term] {
                    scores[doc as usize] += weight * w;
                }
                continue;
            }
            // Several stand-ins (a prefix): a tool counts the best of them, once.
            best.clear();
            for &(term, weight) in &stand_ins {
                best.extend(self.postings[term].iter().map(|&(doc, w)| (doc, weight * w)));
            }
            best.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
            best.dedup_by_key(|p| p.0);
            for &(doc, w) in &best {
                scores[doc as usize] += w;
            }
        }
        let mut found: Vec<(usize, f32)> = scores.into_iter().enumerate().filter(|&(_, s)| s > 0.0).collect();
        top(&mut found, limit);
        found
    }

    fn hit(&self, tools: &[MergedTool], i: usize, score: f32) -> ToolMatch {
        let m = &tools[i];
        ToolMatch {
            name: m.name.clone(),
            server: m.server.clone(),
            original: m.original.clone(),
            score: f64::from(score),
            tokens: self.tokens[i],
            tool: m.item.clone(),
        }
    }
}

/// The lazily built index a [`Gathered`] holds.
pub(crate) type LazyToolIndex = OnceLock<ToolIndex>;

/// The words of `text`, as they are indexed and searched: split on everything that is not a
/// letter or a digit (`_ - . /`, spaces, punctuation), at camelCase boundaries (`getHTTPServer`
/// → `get http server`) and between letters and digits (`ec2` → `ec 2`); lowercased; `'s`
/// dropped. Inside one run of letters and digits, each two neighbouring parts are also joined
/// (`GitHub` → `git hub github`, `PostgreSQL` → `postgre sql postgresql`, `s3` → `s 3 s3`), so
/// that a brand written in camel case in one place and in one word in another still matches.
/// Stop words are kept (see [`terms`]).
pub(crate) fn words(text: &str, out: &mut Vec<String>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Class {
        Upper,
        Lower,
        Digit,
        Other,
    }
    let class = |c: char| {
        if c.is_uppercase() {
            Class::Upper
        } else if c.is_alphabetic() {
            Class::Lower // lowercase, or a letter without case
        } else if c.is_numeric() {
            Class::Digit
        } else {
            Class::Other
        }
    };
    // The parts of the current run of letters and digits.
    let mut run: Vec<String> = Vec::new();
    let mut word = String::new();
    let end_run = |run: &mut Vec<String>, word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            run.push(std::mem::take(word));
        }
        for k in 1..run.len() {
            let pair = format!("{}{}", run[k - 1], run[k]);
            out.push(pair);
        }
        out.append(run);
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let here = class(c);
        if here == Class::Other {
            end_run(&mut run, &mut word, out);
            // `'s` (`what's`, `repo's`): the possessive or contraction is not a word.
            if matches!(c, '\'' | '\u{2019}')
                && matches!(chars.get(i + 1), Some('s' | 'S'))
                && chars.get(i + 2).is_none_or(|&n| class(n) == Class::Other)
            {
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(&p) = i.checked_sub(1).and_then(|j| chars.get(j)) {
            let boundary = match (class(p), here) {
                (Class::Digit, Class::Upper | Class::Lower) | (Class::Upper | Class::Lower, Class::Digit) => true,
                (Class::Lower, Class::Upper) => true,
                // `HTTPServer`: the last capital of a run starts the next word.
                (Class::Upper, Class::Upper) => chars.get(i + 1).is_some_and(|&n| class(n) == Class::Lower),
                _ => false,
            };
            if boundary && !word.is_empty() {
                run.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
        i += 1;
    }
    end_run(&mut run, &mut word, out);
}

/// The searchable words of `text`: its [`words`], stop words left out, plurals folded
/// ([`singular`]).
pub(crate) fn terms(text: &str, out: &mut Vec<String>) {
    let start = out.len();
    words(text, out);
    let mut kept = start;
    for i in start..out.len() {
        if out[i].len() <= LONGEST_STOP_WORD && STOP_WORDS.binary_search(&out[i].as_str()).is_ok() {
            continue;
        }
        if let Some(f) = singular(&out[i]) {
            out[i] = f;
        }
        out.swap(kept, i);
        kept += 1;
    }
    out.truncate(kept);
}

/// The singular of an English plural, by its ending alone — the only stemming done on both the
/// index and the query, because it is the one rule that is almost always right on tool
/// vocabulary (`issues`, `repositories`, `branches`, `addresses`), and a wrong fold still folds
/// the same way on both sides. Words of up to three letters (`gas`, `dns`, `aws`) and those in
/// `ss`, `us`, `is` (`access`, `status`, `analysis`) are left alone. `None`: no change.
pub(crate) fn singular(word: &str) -> Option<String> {
    if word.len() <= 3 || !word.is_ascii() {
        return None;
    }
    if let Some(stem) = word.strip_suffix("ies") {
        // `policies` → `policy`; `ties` is left alone (too short to tell).
        return (stem.len() >= 2).then(|| format!("{stem}y"));
    }
    if word.ends_with("sses") || word.ends_with("xes") || word.ends_with("ches") || word.ends_with("shes") {
        return Some(word[..word.len() - 2].to_string());
    }
    if word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return None;
    }
    word.strip_suffix('s').map(str::to_string)
}

/// The forms of a verb a query word might be (`creating` → `creat`, `create`; `stopped` →
/// `stopp`, `stop`), looked up besides the word itself.
fn verb_forms(word: &str) -> Vec<String> {
    let mut forms = Vec::new();
    let stem = if word.len() >= 6 { word.strip_suffix("ing") } else { None }
        .or_else(|| if word.len() >= 5 { word.strip_suffix("ed") } else { None });
    if let Some(stem) = stem {
        forms.push(stem.to_string());
        forms.push(format!("{stem}e"));
        let b = stem.as_bytes();
        if b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiou".contains(&b[b.len() - 1]) {
            forms.push(stem[..stem.len() - 1].to_string());
        }
    }
    forms
}

#[cfg(test)]
mod tests;
