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
//! Each tool is a document of six fields, each a list of words (see [`text::words`]):
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

use regex::{Regex, RegexBuilder};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Gathered, Merged, MergedTool};
use crate::error::{Error, Result};
use crate::protocol::Tool;

/// The compiled size a search regex may reach (1 MiB), so that a pattern from a user cannot
/// make the regex crate build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

mod index;
mod text;

use index::*;
pub(crate) use index::{LazyToolIndex, ToolIndex};

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

#[cfg(test)]
mod tests;
