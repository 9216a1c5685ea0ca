//! The words of a tool's text and of a query, as they are indexed and searched: splitting,
//! stop words, verb forms and the everyday verbs API names stand for. Pure string work.

/// Words too common in requests and descriptions to tell tools apart. Domain verbs (`list`,
/// `get`, `create`) are not among them: they do.
pub(super) const STOP_WORDS: &[&str] = &[
    "a", "about", "also", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does",
    "done", "for", "from", "give", "have", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "many",
    "me", "much", "my", "need", "now", "of", "on", "or", "our", "please", "should", "so", "some", "that", "the",
    "their", "them", "then", "there", "these", "this", "those", "to", "us", "very", "want", "was", "we", "what",
    "when", "where", "which", "who", "will", "with", "would", "you", "your",
];
/// The length of the longest of [`STOP_WORDS`] (a longer word is not looked up).
pub(super) const LONGEST_STOP_WORD: usize = 6;

/// The verbs tool names are made of, and the everyday verbs a request says instead (sorted by
/// the everyday verb). Tool APIs name their operations with a handful of verbs — list, get,
/// create, update, delete, search — while people ask to "show", "remove", "find" or "add";
/// each everyday verb also looks for its API verbs, at [`SYNONYM_WEIGHT`]. Only verbs: nouns
/// are the catalogue's own vocabulary and are left to it.
pub(super) const API_VERBS: &[(&str, &[&str])] = &[
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
pub(super) fn api_verbs(word: &str) -> &'static [&'static str] {
    let find = |w: &str| API_VERBS.binary_search_by(|(k, _)| (*k).cmp(w)).ok().map(|i| API_VERBS[i].1);
    find(word).or_else(|| verb_forms(word).iter().find_map(|f| find(f))).unwrap_or_default()
}

/// The words of `text`, as they are indexed and searched: split on everything that is not a
/// letter or a digit (`_ - . /`, spaces, punctuation), at camelCase boundaries (`getHTTPServer`
/// → `get http server`) and between letters and digits (`ec2` → `ec 2`); lowercased; `'s`
/// dropped. Inside one run of letters and digits, each two neighbouring parts are also joined
/// (`GitHub` → `git hub github`, `PostgreSQL` → `postgre sql postgresql`, `s3` → `s 3 s3`), so
/// that a brand written in camel case in one place and in one word in another still matches.
/// Stop words are kept (see [`terms`]).
pub(super) fn words(text: &str, out: &mut Vec<String>) {
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
pub(super) fn terms(text: &str, out: &mut Vec<String>) {
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
pub(super) fn singular(word: &str) -> Option<String> {
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
pub(super) fn verb_forms(word: &str) -> Vec<String> {
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
