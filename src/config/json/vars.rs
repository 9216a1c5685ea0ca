//! The variables of the JSON formats (`${VAR}`, `${VAR:-default}`, `${env:VAR}`, `${userHome}`,
//! `${workspaceFolder}`, …; `${input:ID}` refused), and `.env` files (`envFile`).

use std::path::{Path, PathBuf};

use super::{Context, Input};
use crate::config::validate::check_env_name;

/// The directory `${workspaceFolder}` stands for: the file's directory, or its parent when the
/// file is in `.vscode`, `.cursor` or `.claude`.
pub(super) fn workspace(dir: &Path) -> PathBuf {
    let hidden =
        dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| matches!(n, ".vscode" | ".cursor" | ".claude"));
    match dir.parent() {
        Some(parent) if hidden => parent.to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// The variables of a `.env` file: `KEY=VALUE` lines (`export ` allowed, `#` comments, values
/// optionally in single or double quotes).
pub(super) fn dotenv(content: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\'')))
        {
            &value[1..value.len() - 1]
        } else {
            // An unquoted value ends at a comment.
            value.split(" #").next().unwrap_or(value).trim_end()
        };
        if check_env_name(key).is_ok() {
            out.push((key.to_owned(), value.to_owned()));
        }
    }
    out
}

/// Expands the variables the JSON formats use: `${VAR}`, `${VAR:-default}`, `${env:VAR}`,
/// `${userHome}`, `${workspaceFolder}`, `${workspaceFolderBasename}`, `${pathSeparator}` and
/// `${/}`; `${input:ID}` is an error naming the input. Any other `$` is kept. The error never
/// repeats the text around the variable (it may be a secret).
pub(super) fn expand(text: &str, cx: &Context<'_>, inputs: &[Input]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let Some(end) = tail.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let inner = &tail[..end];
        rest = &tail[end + 1..];
        let env = |name: &str| (cx.lookup)(name);
        let workspace_dir = || {
            cx.dir.as_deref().map(workspace).ok_or_else(|| {
                "`${workspaceFolder}` needs the file's location: load it with `Config::from_path`".to_owned()
            })
        };
        let value = match inner {
            "userHome" => env("HOME").ok_or_else(|| "`${userHome}`: `HOME` is not set".to_owned())?,
            "workspaceFolder" => workspace_dir()?.display().to_string(),
            "workspaceFolderBasename" => {
                workspace_dir()?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
            "pathSeparator" | "/" => std::path::MAIN_SEPARATOR.to_string(),
            _ => {
                if let Some(id) = inner.strip_prefix("input:") {
                    let described = inputs
                        .iter()
                        .find(|i| i.id == id)
                        .and_then(|i| i.description.as_deref())
                        .map(|d| format!(" (\"{d}\")"))
                        .unwrap_or_default();
                    return Err(format!(
                        "uses the VS Code input `{id}`{described}, which mcp-orchestrator cannot prompt for: \
                         write `${{env:NAME}}` instead and set the environment variable NAME"
                    ));
                }
                let (name, default) = match inner.strip_prefix("env:") {
                    Some(name) => (name, None),
                    None => match inner.split_once(":-") {
                        Some((name, default)) => (name, Some(default)),
                        None => (inner, None),
                    },
                };
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("`${{{inner}}}` is not a variable mcp-orchestrator can expand"));
                }
                match (env(name), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_owned(),
                    (None, None) => return Err(format!("environment variable `{name}` is not set")),
                }
            }
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(lookup: &dyn Fn(&str) -> Option<String>) -> Context<'_> {
        Context { dir: Some(PathBuf::from("/proj/.vscode")), lookup }
    }

    #[test]
    fn expansion() {
        let lookup = |n: &str| match n {
            "A" => Some("1".to_owned()),
            "HOME" => Some("/home/me".to_owned()),
            _ => None,
        };
        let cx = cx(&lookup);
        let inputs = [Input { id: "key".into(), description: Some("API key".into()) }];
        let e = |t: &str| expand(t, &cx, &inputs);
        assert_eq!(e("x${A}${env:A}$A ${B:-d} $5"), Ok("x11$A d $5".into()));
        assert_eq!(
            e("${userHome}/x ${workspaceFolder} ${workspaceFolderBasename}"),
            Ok("/home/me/x /proj proj".into())
        );
        assert_eq!(e("${B}"), Err("environment variable `B` is not set".into()));
        let err = e("Bearer ${input:key}").unwrap_err();
        assert!(err.contains("`key` (\"API key\")") && !err.contains("Bearer"), "{err}");
        assert!(e("${command:x}").is_err());
        assert!(e("${A").is_err());
    }

    #[test]
    fn dotenv_lines() {
        let vars = dotenv("# c\nA=1\nexport B = \"two words\"\nC='x' \nD=v # note\nbad line\n");
        assert_eq!(
            vars,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "v")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
