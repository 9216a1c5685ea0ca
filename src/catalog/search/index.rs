//! The BM25F index of one catalogue's tools (see the ranking in [`super`]'s docs): built
//! once per catalogue, queried by ranked word look-ups.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use super::text::*;
use super::{ToolMatch, properties, top};
use crate::catalog::MergedTool;

/// BM25's term-frequency saturation.
pub(super) const K1: f32 = 1.2;

/// The fields of a tool's document, in the order of [`WEIGHTS`] and [`B`].
pub(super) const NAME: usize = 0;
pub(super) const TITLE: usize = 1;
pub(super) const PARAMS: usize = 2;
pub(super) const SERVER: usize = 3;
pub(super) const DESCRIPTION: usize = 4;
pub(super) const PARAM_DESCRIPTIONS: usize = 5;
pub(super) const FIELDS: usize = 6;

/// Each field's weight (see the module docs).
pub(super) const WEIGHTS: [f32; FIELDS] = [3.0, 2.0, 1.5, 1.0, 1.0, 0.5];
/// Each field's length normalisation: short fields (names) barely, prose fully.
pub(super) const B: [f32; FIELDS] = [0.3, 0.3, 0.5, 0.0, 0.75, 0.75];

/// The weight of a query word found as a verb form (`created` → `create`).
pub(super) const MORPH_WEIGHT: f32 = 0.9;
/// The weight of a query word found as a prefix, either way (`repo` → `repository`,
/// `configure` → `config`).
pub(super) const PREFIX_WEIGHT: f32 = 0.6;
/// The weight of an API verb standing in for an everyday one (`remove` → `delete`).
pub(super) const SYNONYM_WEIGHT: f32 = 0.5;
/// At most this many indexed words stand in for one query word taken as a prefix.
pub(super) const MAX_EXPANSIONS: usize = 32;

/// The BM25F index of one catalogue's tools, and their token estimates. Tools are referred to
/// by their position in [`Gathered::tools`].
pub(crate) struct ToolIndex {
    /// Every indexed word, sorted (prefix look-ups are a range).
    terms: Vec<Box<str>>,
    /// For each word of `terms`, the tools holding it and the word's BM25F score in each.
    postings: Vec<Vec<(u32, f32)>>,
    /// Each tool's estimated tokens.
    pub(super) tokens: Vec<usize>,
    pub(super) total_tokens: usize,
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

    pub(super) fn find(&self, term: &str) -> Option<usize> {
        self.terms.binary_search_by(|t| (**t).cmp(term)).ok()
    }

    /// The indexed words that stand for a query word, each with the query word's weight.
    pub(super) fn resolve(&self, term: &str, out: &mut Vec<(usize, f32)>) {
        self.resolve_word(term, out);
        for verb in api_verbs(term) {
            if let Some(i) = self.find(verb) {
                out.push((i, SYNONYM_WEIGHT));
            }
        }
    }

    /// The indexed words that stand for a query word itself (or its forms, or as a prefix).
    pub(super) fn resolve_word(&self, term: &str, out: &mut Vec<(usize, f32)>) {
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
    pub(super) fn ranked(&self, query: &str, limit: usize) -> Vec<(usize, f32)> {
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

    pub(super) fn hit(&self, tools: &[MergedTool], i: usize, score: f32) -> ToolMatch {
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
