//! `cargo xtask tidy`: the checks of STYLE.md that a reviewer should not have to make by eye, over
//! every `.rs` file of the workspace members (and the cargo-fuzz binaries in `fuzz/libfuzzer/`),
//! skipping `target/` directories and generated files:
//!
//! 1. every file opens with a `//!` comment saying what it is for;
//! 2. no `#[ignore]` and no `#[should_panic]`: a test that is not run does not exist, and a test
//!    must assert on what the code returns, not on a panic;
//! 3. no file over 800 lines and no function over 80 lines, except those in `tidy/allowlist.rs`,
//!    each with its reason; an entry that is no longer needed is itself an offence, so the list
//!    stays short and true;
//! 4. `session-core/src/cluster/` reaches the server only through its public API: every path into
//!    `crate::server` names an item that `session-core/src/server/mod.rs` re-exports with
//!    `pub use`, or a `pub mod`.
//!
//! Every offence prints as `path:line: what is wrong`, and tidy fails if there is any.
//!
//! The scan is lexical, not a parser (`tidy/lexer.rs`): comments, strings and character literals
//! are blanked first, so what they say never counts, then the rest is cut into words and
//! punctuation. A function starts at a line whose first tokens are `fn name` after any of `pub`,
//! `pub(..)`, `const`, `async`, `unsafe`, `extern "C"`; it ends at the brace that closes its body.
//! That fits rustfmt's layout; an `fn` sharing its line with an attribute (`#[test] fn f() {`)
//! would not be seen.

use std::collections::BTreeSet;
use std::fmt;
use std::panic::Location;
use std::path::Path;

use anyhow::{Context, Result, bail};

use self::allowlist::ALLOWLIST;
use self::lexer::{Kind, Token, blank_comments_and_literals, tokens};

mod allowlist;
mod lexer;

/// The most lines a file may have without an allowlist entry.
const FILE_LINES_MAX: usize = 800;
/// The most lines a function may have, from its `fn` line to its closing brace, without an
/// allowlist entry. Test functions count too.
const FN_LINES_MAX: usize = 80;

/// A file or function allowed over its limit, and where the permission is written (its line in
/// `allowlist.rs`), which is where tidy points when the entry is no longer needed.
#[derive(Debug)]
struct Allowed {
    path: &'static str,
    /// The function's name, or `None` for the whole file. Every function of that name in the
    /// file is covered.
    function: Option<&'static str>,
    lines_max: usize,
    reason: &'static str,
    at: &'static Location<'static>,
}

impl Allowed {
    #[track_caller]
    #[allow(dead_code, reason = "no file is allowlisted today; the next long file uses it")]
    const fn file(path: &'static str, lines_max: usize, reason: &'static str) -> Self {
        Self { path, function: None, lines_max, reason, at: Location::caller() }
    }

    #[track_caller]
    const fn function(
        path: &'static str,
        name: &'static str,
        lines_max: usize,
        reason: &'static str,
    ) -> Self {
        Self { path, function: Some(name), lines_max, reason, at: Location::caller() }
    }

    fn describe(&self) -> String {
        match self.function {
            Some(name) => format!("fn {name} in {}", self.path),
            None => self.path.to_owned(),
        }
    }
}

/// One thing wrong, printed as `path:line: what`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Offence {
    path: String,
    line: usize,
    what: String,
}

impl fmt::Display for Offence {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}: {}", self.path, self.line, self.what)
    }
}

fn offence(path: &str, line: usize, what: impl Into<String>) -> Offence {
    Offence { path: path.to_owned(), line, what: what.into() }
}

/// A file to check: its path relative to the workspace root, with `/` separators, and its text.
#[derive(Debug)]
struct SourceFile {
    path: String,
    text: String,
}

/// Runs every check over the workspace and prints each offence; fails if there is any.
pub(crate) fn tidy(root: &Path) -> Result<()> {
    let files = workspace_files(root)?;
    let offences = check(&files, ALLOWLIST);
    for offence in &offences {
        eprintln!("{offence}");
    }
    if !offences.is_empty() {
        bail!("tidy: {} offences in {} files checked", offences.len(), files.len());
    }
    eprintln!("tidy: {} files checked, nothing to report", files.len());
    Ok(())
}

/// Every rule over `files`, sorted by path and line.
fn check(files: &[SourceFile], allowlist: &[Allowed]) -> Vec<Offence> {
    let scanned: Vec<(&SourceFile, Vec<Token>)> =
        files.iter().map(|file| (file, tokens(&blank_comments_and_literals(&file.text)))).collect();
    let mut offences = Vec::new();
    for (file, tokens) in &scanned {
        offences.extend(check_doc_header(&file.path, &file.text));
        offences.extend(check_test_attributes(&file.path, tokens));
    }
    offences.extend(check_lengths(&scanned, allowlist));
    offences.extend(check_cluster_paths(&scanned));
    offences.sort();
    offences
}

// ---------------------------------------------------------------------------------------------
// Finding the files.

/// The `.rs` files under every member of the root `Cargo.toml`, sorted, without generated ones.
fn workspace_files(root: &Path) -> Result<Vec<SourceFile>> {
    let mut paths = Vec::new();
    for member in workspace_members(root)? {
        collect_rust_files(&root.join(member), &mut paths)?;
    }
    paths.sort();
    paths.dedup();
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if is_generated(&text) {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let parts: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.push(SourceFile { path: parts.join("/"), text });
    }
    Ok(files)
}

/// The `members = [...]` of the root manifest (one quoted path per entry, as cargo writes it).
fn workspace_members(root: &Path) -> Result<Vec<String>> {
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let start = manifest.find("members = [").context("no `members = [` in the root Cargo.toml")?;
    let list = &manifest[start + "members = [".len()..];
    let list = &list[..list.find(']').context("no `]` after `members = [`")?];
    let members: Vec<String> = list.split('"').skip(1).step_by(2).map(str::to_owned).collect();
    if members.is_empty() {
        bail!("no workspace members in the root Cargo.toml");
    }
    Ok(members)
}

/// Adds the `.rs` files under `dir`, skipping build output (`target/`, at any depth, so also
/// `fuzz/libfuzzer/target/`) and hidden directories.
fn collect_rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Generated files say so near their top (the `@generated` convention of rustfmt and others).
fn is_generated(text: &str) -> bool {
    text.lines().take(5).any(|line| line.contains("@generated"))
}

// ---------------------------------------------------------------------------------------------
// Rule 1: a `//!` first.

fn check_doc_header(path: &str, text: &str) -> Option<Offence> {
    let first = text.lines().enumerate().find(|(_, line)| !line.trim().is_empty());
    match first {
        Some((_, line)) if line.trim_start().starts_with("//!") => None,
        Some((index, _)) => Some(offence(
            path,
            index + 1,
            "the file must open with a `//!` comment saying what it is for",
        )),
        None => Some(offence(path, 1, "the file is empty; it must open with a `//!` comment")),
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 2: no `#[ignore]`, no `#[should_panic]`.

/// Finds `#[ignore]`, `#[ignore = ".."]`, `#[should_panic(..)]`, and either in a `#[cfg_attr(..)]`.
fn check_test_attributes(path: &str, tokens: &[Token]) -> Vec<Offence> {
    let mut offences = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if !token.is_punct('#') {
            continue;
        }
        let open =
            if tokens.get(at + 1).is_some_and(|t| t.is_punct('!')) { at + 2 } else { at + 1 };
        if !tokens.get(open).is_some_and(|t| t.is_punct('[')) {
            continue;
        }
        let inside = bracketed(tokens, open);
        let banned = match inside.first().and_then(Token::word) {
            Some(name @ ("ignore" | "should_panic")) => Some(name),
            Some("cfg_attr") => inside
                .iter()
                .filter_map(Token::word)
                .find(|w| matches!(*w, "ignore" | "should_panic")),
            _ => None,
        };
        let what = match banned {
            Some("ignore") => {
                "`#[ignore]`: a test that is not run does not exist; make it run or delete it"
            }
            Some(_) => {
                "`#[should_panic]`: a test must not rely on a panic; assert on what is returned"
            }
            None => continue,
        };
        offences.push(offence(path, token.line, what));
    }
    offences
}

/// The tokens between the bracket at `open` and its match (all of the rest if unmatched).
fn bracketed(tokens: &[Token], open: usize) -> &[Token] {
    let mut depth = 0_usize;
    for (at, token) in tokens.iter().enumerate().skip(open) {
        if token.is_punct('[') {
            depth += 1;
        } else if token.is_punct(']') {
            depth -= 1;
            if depth == 0 {
                return &tokens[open + 1..at];
            }
        }
    }
    &tokens[open + 1..]
}

// ---------------------------------------------------------------------------------------------
// Rule 3: short files and functions, or an allowlist entry with a reason.

/// A function with a body.
#[derive(Debug, PartialEq, Eq)]
struct Function {
    name: String,
    line: usize,
    /// From the `fn` line to the line of the closing brace, both included.
    lines: usize,
}

/// Every function with a body, nested ones and test functions included.
fn functions(tokens: &[Token]) -> Vec<Function> {
    let mut found = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if !token.is_word("fn") || !starts_line(tokens, at) {
            continue;
        }
        let Some(name) = tokens.get(at + 1).and_then(Token::word) else {
            continue; // `fn(u8) -> u8`, a type
        };
        if let Some(end_line) = body_end_line(tokens, at + 2) {
            found.push(Function {
                name: name.to_owned(),
                line: token.line,
                lines: end_line - token.line + 1,
            });
        }
    }
    found
}

/// The words that may precede `fn` on an item's first line: visibility and qualifiers
/// (`pub(in crate::x) const async unsafe extern "C"`; the ABI string is blanked).
const FN_QUALIFIERS: &[&str] = &[
    "pub", "crate", "super", "self", "in", "const", "async", "unsafe", "extern", "default", "safe",
];

/// Whether only an item's visibility and qualifiers precede the token at `at` on its line.
fn starts_line(tokens: &[Token], at: usize) -> bool {
    let line = tokens[at].line;
    tokens[..at].iter().rev().take_while(|token| token.line == line).all(|token| {
        match &token.kind {
            Kind::Word(word) => FN_QUALIFIERS.contains(&word.as_str()),
            Kind::PathSeparator => true,
            Kind::Punct(c) => matches!(c, '(' | ')'),
        }
    })
}

/// The line of the brace that closes the body of the function whose signature starts at `from`;
/// `None` for a declaration without a body (`fn f(&self);`).
fn body_end_line(tokens: &[Token], from: usize) -> Option<usize> {
    let mut nesting = 0_usize; // `(` and `[` in the signature
    let mut open = None;
    for (at, token) in tokens.iter().enumerate().skip(from) {
        match token.kind {
            Kind::Punct('(' | '[') => nesting += 1,
            Kind::Punct(')' | ']') => nesting = nesting.saturating_sub(1),
            Kind::Punct(';') if nesting == 0 => return None,
            Kind::Punct('{') if nesting == 0 => {
                open = Some(at);
                break;
            }
            _ => {}
        }
    }
    let mut depth = 0_usize;
    for token in &tokens[open?..] {
        if token.is_punct('{') {
            depth += 1;
        } else if token.is_punct('}') {
            depth -= 1;
            if depth == 0 {
                return Some(token.line);
            }
        }
    }
    None
}

/// A file or a function, measured.
struct Unit<'a> {
    function: Option<&'a str>,
    line: usize,
    lines: usize,
}

fn check_lengths(scanned: &[(&SourceFile, Vec<Token>)], allowlist: &[Allowed]) -> Vec<Offence> {
    let mut offences = Vec::new();
    // The longest unit each entry covers, to find entries no longer needed.
    let mut measured = vec![0_usize; allowlist.len()];
    for (file, tokens) in scanned {
        let whole = Unit { function: None, line: 1, lines: file.text.lines().count() };
        let functions = functions(tokens);
        let parts = functions.iter().map(|f| Unit {
            function: Some(&f.name),
            line: f.line,
            lines: f.lines,
        });
        for unit in std::iter::once(whole).chain(parts) {
            let (kind, limit) = match unit.function {
                Some(name) => (format!("fn {name}"), FN_LINES_MAX),
                None => ("the file".to_owned(), FILE_LINES_MAX),
            };
            let entry = allowlist
                .iter()
                .position(|entry| entry.path == file.path && entry.function == unit.function);
            match entry {
                Some(index) => {
                    measured[index] = measured[index].max(unit.lines);
                    let entry = &allowlist[index];
                    if unit.lines > entry.lines_max {
                        let what = format!(
                            "{kind} is {} lines, over its allowlisted {} ({}); shorten it",
                            unit.lines, entry.lines_max, entry.reason
                        );
                        offences.push(offence(&file.path, unit.line, what));
                    }
                }
                None if unit.lines > limit => {
                    let what = format!(
                        "{kind} is {} lines, over the limit of {limit}; split it, or add it to \
                         xtask/src/tidy/allowlist.rs with a reason",
                        unit.lines
                    );
                    offences.push(offence(&file.path, unit.line, what));
                }
                None => {}
            }
        }
    }
    offences.extend(unneeded_entries(allowlist, &measured));
    offences
}

/// An offence at each allowlist entry whose longest unit (`measured`, 0 when there is none) is
/// within the limit.
fn unneeded_entries(allowlist: &[Allowed], measured: &[usize]) -> Vec<Offence> {
    let mut offences = Vec::new();
    for (entry, &lines) in allowlist.iter().zip(measured) {
        let limit = if entry.function.is_some() { FN_LINES_MAX } else { FILE_LINES_MAX };
        let now = match lines {
            0 => "is gone".to_owned(),
            lines if lines <= limit => format!("is now {lines} lines, within the limit of {limit}"),
            _ => continue,
        };
        let what =
            format!("allowlist entry no longer needed: {} {now}; remove it", entry.describe());
        offences.push(offence(entry.at.file(), entry.at.line() as usize, what));
    }
    offences
}

// ---------------------------------------------------------------------------------------------
// Rule 4: the cluster reaches the server only through its public API.

const SERVER_MOD: &str = "session-core/src/server/mod.rs";
const CLUSTER_DIR: &str = "session-core/src/cluster/";

fn check_cluster_paths(scanned: &[(&SourceFile, Vec<Token>)]) -> Vec<Offence> {
    let mut cluster =
        scanned.iter().filter(|(file, _)| file.path.starts_with(CLUSTER_DIR)).peekable();
    if cluster.peek().is_none() {
        return Vec::new();
    }
    let Some((_, server_tokens)) = scanned.iter().find(|(file, _)| file.path == SERVER_MOD) else {
        return vec![offence(
            SERVER_MOD,
            1,
            "not found, so the cluster's paths into the server cannot be checked",
        )];
    };
    let api = server_api(server_tokens);
    let mut offences = Vec::new();
    for (file, tokens) in cluster {
        for (name, line) in server_paths(tokens) {
            let what = match name.as_deref() {
                Some(name) if api.contains(name) => continue,
                Some("*") => "a glob import of `crate::server`: name the items".to_owned(),
                None | Some("self") => {
                    "names the `server` module itself: import its items by name, so each is checked"
                        .to_owned()
                }
                Some(name) => format!(
                    "`server::{name}` is not re-exported by {SERVER_MOD} (`pub use` or `pub mod`): \
                     the cluster reaches the server only through its public API"
                ),
            };
            offences.push(offence(&file.path, line, what));
        }
    }
    offences
}

/// The names a module makes public: the last segment (or the `as` name) of each leaf of its
/// `pub use` trees, and its `pub mod`s. `pub(crate)` and other restricted items are not public.
fn server_api(tokens: &[Token]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, token) in tokens.iter().enumerate() {
        if !token.is_word("pub") {
            continue;
        }
        match tokens.get(at + 1).and_then(Token::word) {
            Some("use") => {
                let mut cursor = at + 2;
                use_tree_leaves(tokens, &mut cursor, None, &mut names);
            }
            Some("mod") => {
                if let Some(name) = tokens.get(at + 2).and_then(Token::word) {
                    names.insert(name.to_owned());
                }
            }
            _ => {}
        }
    }
    names
}

/// Adds the name a use tree starting at `cursor` brings in (each leaf's, for a `{..}` group) and
/// leaves `cursor` at the token after the tree. `parent` is the segment before the group, which
/// `self` inside it names. A glob brings in nothing tidy can name.
fn use_tree_leaves(
    tokens: &[Token],
    cursor: &mut usize,
    parent: Option<&str>,
    names: &mut BTreeSet<String>,
) {
    let mut leaf = None;
    while let Some(token) = tokens.get(*cursor) {
        match &token.kind {
            Kind::PathSeparator => *cursor += 1,
            Kind::Word(word) if word == "as" => {
                leaf = tokens.get(*cursor + 1).and_then(Token::word).map(str::to_owned);
                *cursor += 2;
            }
            Kind::Word(word) if word == "self" => {
                leaf = parent.map(str::to_owned);
                *cursor += 1;
            }
            Kind::Word(word) => {
                leaf = Some(word.clone());
                *cursor += 1;
            }
            Kind::Punct('{') => {
                *cursor += 1;
                loop {
                    use_tree_leaves(tokens, cursor, leaf.as_deref(), names);
                    match tokens.get(*cursor) {
                        Some(token) if token.is_punct(',') => *cursor += 1,
                        Some(token) if token.is_punct('}') => {
                            *cursor += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            Kind::Punct('*') => {
                *cursor += 1;
                return;
            }
            Kind::Punct(_) => break, // `,`, `}` or `;`: the end of this leaf
        }
    }
    names.extend(leaf);
}

/// Every first segment after `crate::server::` (or `super::server::`, `super::super::server::`),
/// one per element of a `{..}` group, with its line; `None` for a path that stops at `server`.
fn server_paths(tokens: &[Token]) -> Vec<(Option<String>, usize)> {
    let mut found = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if !token.is_word("server") || at < 2 || tokens[at - 1].kind != Kind::PathSeparator {
            continue;
        }
        let root = &tokens[at - 2];
        if !(root.is_word("crate") || root.is_word("super")) {
            continue;
        }
        if tokens.get(at + 1).is_none_or(|t| t.kind != Kind::PathSeparator) {
            found.push((None, token.line));
            continue;
        }
        match tokens.get(at + 2) {
            Some(next) if next.is_punct('{') => found.extend(group_heads(tokens, at + 2)),
            Some(next) if next.is_punct('*') => found.push((Some("*".to_owned()), next.line)),
            Some(next) => found.push((next.word().map(str::to_owned), next.line)),
            None => found.push((None, token.line)),
        }
    }
    found
}

/// The first segment of each element of the `{..}` group opening at `open`.
fn group_heads(tokens: &[Token], open: usize) -> Vec<(Option<String>, usize)> {
    let mut heads = Vec::new();
    let mut depth = 0_usize;
    let mut element_start = true;
    for token in &tokens[open..] {
        match token.kind {
            Kind::Punct('{') => depth += 1,
            Kind::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Kind::Punct(',') if depth == 1 => {
                element_start = true;
                continue;
            }
            _ => {}
        }
        if element_start && depth == 1 && !token.is_punct('{') {
            heads.push((token.word().map(str::to_owned), token.line));
            element_start = false;
        }
    }
    heads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile { path: path.to_owned(), text: text.to_owned() }
    }

    fn check_one(path: &str, text: &str) -> Vec<String> {
        check(&[file(path, text)], &[]).iter().map(ToString::to_string).collect()
    }

    fn tokens_of(text: &str) -> Vec<Token> {
        tokens(&blank_comments_and_literals(text))
    }

    /// A function of `body_lines` lines of body, so `body_lines + 2` lines in all.
    fn long_fn(name: &str, body_lines: usize) -> String {
        format!("fn {name}() {{\n{}}}\n", "    step();\n".repeat(body_lines))
    }

    #[test]
    fn doc_header_rule_wants_a_module_doc_first() {
        assert_eq!(check_one("a.rs", "\n//! What a.rs is for.\nfn f() {}\n"), Vec::<String>::new());
        assert_eq!(
            check_one("a.rs", "\n#![no_main]\n//! Too late.\n"),
            ["a.rs:2: the file must open with a `//!` comment saying what it is for"]
        );
        assert_eq!(
            check_doc_header("a.rs", "/// An item doc.\nfn f() {}").map(|o| o.line),
            Some(1)
        );
        assert!(check_doc_header("a.rs", " \n").is_some());
    }

    #[test]
    fn test_attribute_rule_catches_ignore_and_should_panic_in_every_spelling() {
        let bad = "//! t\n#[ignore]\nfn a() {}\n#[ignore = \"slow\"]\nfn b() {}\n\
                   #[should_panic(expected = \"x\")]\nfn c() {}\n\
                   #[cfg_attr(miri, ignore)]\nfn d() {}\n";
        let lines: Vec<usize> = check(&[file("t.rs", bad)], &[]).iter().map(|o| o.line).collect();
        assert_eq!(lines, [2, 4, 6, 8]);
    }

    #[test]
    fn test_attribute_rule_ignores_comments_strings_and_other_uses_of_the_words() {
        let good = "//! t\n// no #[ignore] here\n#[test]\nfn a() { let s = \"#[should_panic]\"; }\n\
                    fn ignore() {}\n#[cfg_attr(loom, allow(dead_code))]\nfn b() {}\n";
        assert_eq!(check_one("t.rs", good), Vec::<String>::new());
    }

    #[test]
    fn functions_are_measured_from_fn_line_to_closing_brace() {
        let text = "pub(crate) async fn outer(x: [u8; 4]) -> u8 {\n    let s = \"}\";\n    \
                    fn inner() { '}'; }\n    x[0]\n}\ntrait T {\n    fn declared(&self);\n}\n\
                    const F: fn(u8) = drop;\n";
        let found = functions(&tokens_of(text));
        let summary: Vec<(&str, usize, usize)> =
            found.iter().map(|f| (f.name.as_str(), f.line, f.lines)).collect();
        assert_eq!(summary, [("outer", 1, 5), ("inner", 3, 1)]);
    }

    #[test]
    fn length_rule_catches_a_long_function_and_passes_a_short_one() {
        let text = format!("//! t\n{}{}", long_fn("long", FN_LINES_MAX - 1), long_fn("short", 10));
        assert_eq!(
            check_one("t.rs", &text),
            ["t.rs:2: fn long is 81 lines, over the limit of 80; split it, or add it to \
              xtask/src/tidy/allowlist.rs with a reason"]
        );
        let text = format!("//! t\n{}", long_fn("exact", FN_LINES_MAX - 2));
        assert_eq!(check_one("t.rs", &text), Vec::<String>::new());
    }

    #[test]
    fn length_rule_catches_a_long_file() {
        let text = format!("//! t\n{}", "const A: u8 = 0;\n".repeat(FILE_LINES_MAX));
        let offences = check_one("t.rs", &text);
        assert_eq!(offences.len(), 1);
        assert!(offences[0].starts_with("t.rs:1: the file is 801 lines"), "{offences:?}");
    }

    #[test]
    fn allowlist_admits_up_to_its_ceiling_and_reports_growth() {
        let files = [file("t.rs", &format!("//! t\n{}", long_fn("long", 98)))]; // 100 lines
        let fits = [Allowed::function("t.rs", "long", 100, "one match arm per event")];
        assert_eq!(check(&files, &fits), []);
        let tight = [Allowed::function("t.rs", "long", 99, "one match arm per event")];
        let offences = check(&files, &tight);
        assert_eq!(offences.len(), 1);
        assert_eq!((offences[0].path.as_str(), offences[0].line), ("t.rs", 2));
        assert!(
            offences[0].what.contains("over its allowlisted 99 (one match arm"),
            "{offences:?}"
        );
    }

    #[test]
    fn allowlist_entries_no_longer_needed_are_offences_at_the_entry() {
        let files = [file("t.rs", &format!("//! t\n{}", long_fn("shrunk", 3)))];
        let stale = [
            Allowed::function("t.rs", "shrunk", 100, "was long"),
            Allowed::function("t.rs", "removed", 100, "was long"),
            Allowed::file("gone.rs", 900, "was long"),
        ];
        let whats: Vec<String> = check(&files, &stale).into_iter().map(|o| o.what).collect();
        assert_eq!(
            whats,
            [
                "allowlist entry no longer needed: fn shrunk in t.rs is now 5 lines, within the \
                 limit of 80; remove it",
                "allowlist entry no longer needed: fn removed in t.rs is gone; remove it",
                "allowlist entry no longer needed: gone.rs is gone; remove it",
            ]
        );
        let offence = check(&files, &stale[..1]).remove(0);
        assert_eq!(offence.path, file!());
        assert_eq!(offence.line, stale[0].at.line() as usize);
    }

    const SERVER: &str = "//! s\nmod manager;\nmod shard;\npub mod hooks;\n\
        pub(crate) use shard::Shard;\n\
        pub use manager::{Login, SessionManager as Manager, self};\n\
        pub use self::config::{\n    Config,\n    limits::{LIMIT_MAX},\n};\n";

    fn check_cluster(text: &str) -> Vec<String> {
        let files = [file(SERVER_MOD, SERVER), file("session-core/src/cluster/x.rs", text)];
        check(&files, &[]).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn server_api_is_the_pub_use_leaves_and_pub_mods() {
        let names: Vec<String> = server_api(&tokens_of(SERVER)).into_iter().collect();
        assert_eq!(names, ["Config", "LIMIT_MAX", "Login", "Manager", "hooks", "manager"]);
    }

    #[test]
    fn cluster_rule_passes_paths_through_the_public_api() {
        let good = "//! x\nuse crate::server::{Login, Manager, hooks::Hook};\n\
                    use crate::server::Config;\nfn f() { crate::server::LIMIT_MAX; }\n\
                    // crate::server::shard::Shard in a comment\n";
        assert_eq!(check_cluster(good), Vec::<String>::new());
    }

    #[test]
    fn cluster_rule_catches_paths_around_the_public_api() {
        let bad = "//! x\nuse crate::server::{Login,\n    shard::Shard};\n\
                   use super::super::server::SessionManager;\nuse crate::server;\n\
                   use crate::server::*;\n";
        let offences = check_cluster(bad);
        let lines: Vec<&str> =
            offences.iter().map(|o| o.split(": ").next().unwrap_or_default()).collect();
        let x = "session-core/src/cluster/x.rs";
        assert_eq!(lines, [3, 4, 5, 6].map(|line| format!("{x}:{line}")));
        assert!(offences[0].contains("`server::shard` is not re-exported"), "{offences:?}");
        assert!(offences[2].contains("the `server` module itself"), "{offences:?}");
        assert!(offences[3].contains("glob"), "{offences:?}");
    }

    #[test]
    fn every_allowlist_entry_has_a_reason_and_a_ceiling_over_its_limit() {
        for entry in ALLOWLIST {
            let limit = if entry.function.is_some() { FN_LINES_MAX } else { FILE_LINES_MAX };
            assert!(!entry.reason.trim().is_empty(), "{}", entry.describe());
            assert!(entry.lines_max > limit, "{}", entry.describe());
        }
    }
}
