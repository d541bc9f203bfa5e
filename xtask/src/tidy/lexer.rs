//! tidy's lexer: Rust source with comments, strings and character literals blanked (so what they
//! say never counts, and line numbers stay true), cut into words and punctuation with their lines.
//! Enough to find attributes, `fn` items, their braces and `use` paths; not a parser.

/// `source` with every comment, string and character literal replaced by spaces, newlines kept,
/// so that the rest can be scanned for braces and names, and line numbers stay true.
pub(super) fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    while at < chars.len() {
        let end = match (chars[at], chars.get(at + 1)) {
            ('/', Some('/')) => line_end(&chars, at),
            ('/', Some('*')) => block_comment_end(&chars, at),
            ('"', _) => string_end(&chars, at),
            ('\'', _) => char_literal_end(&chars, at),
            ('r', _) => raw_string_end(&chars, at),
            _ => None,
        };
        let Some(end) = end else {
            out.push(chars[at]);
            at += 1;
            continue;
        };
        out.extend(chars[at..end].iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
        at = end;
    }
    out
}

fn line_end(chars: &[char], start: usize) -> Option<usize> {
    Some(chars[start..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| start + n))
}

/// Block comments nest in Rust.
fn block_comment_end(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0_u32;
    let mut at = start;
    while at + 1 < chars.len() {
        match (chars[at], chars[at + 1]) {
            ('/', '*') => {
                depth += 1;
                at += 2;
            }
            ('*', '/') => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => at += 1,
        }
    }
    Some(chars.len())
}

/// A `"..."` string (also the rest of `b"..."` and `c"..."`), escapes included.
fn string_end(chars: &[char], start: usize) -> Option<usize> {
    let mut at = start + 1;
    while at < chars.len() {
        match chars[at] {
            '\\' => at += 2,
            '"' => return Some(at + 1),
            _ => at += 1,
        }
    }
    Some(chars.len())
}

/// A character literal (`'x'`, `'\n'`, `'\u{7f}'`, the rest of `b'x'`); `None` for a lifetime
/// or a label, which stay code.
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    if chars.get(start + 1) == Some(&'\\') {
        let close = chars.get(start + 3..)?.iter().position(|&c| c == '\'')?;
        return Some(start + 3 + close + 1);
    }
    (chars.get(start + 2) == Some(&'\'')).then_some(start + 3)
}

/// A raw string `r"..."`, `r#"..."#`, ... (also after `b` or `c`); `None` when the `r` is part of
/// an identifier or starts a raw identifier (`r#type`).
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let is_ident = |at: usize| chars[at].is_alphanumeric() || chars[at] == '_';
    let starts_token = start == 0
        || !is_ident(start - 1)
        || (matches!(chars[start - 1], 'b' | 'c') && (start == 1 || !is_ident(start - 2)));
    if !starts_token {
        return None;
    }
    let hashes = chars[start + 1..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + 1 + hashes) != Some(&'"') {
        return None;
    }
    let mut at = start + 2 + hashes;
    while at < chars.len() {
        let closes = chars[at] == '"'
            && chars.len() >= at + 1 + hashes
            && chars[at + 1..at + 1 + hashes].iter().all(|&c| c == '#');
        if closes {
            return Some(at + 1 + hashes);
        }
        at += 1;
    }
    Some(chars.len())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// An identifier, keyword or number.
    Word(String),
    /// `::`
    PathSeparator,
    /// Any other character but whitespace.
    Punct(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: Kind,
    /// 1-based.
    pub(super) line: usize,
}

impl Token {
    pub(super) fn is_word(&self, word: &str) -> bool {
        matches!(&self.kind, Kind::Word(w) if w == word)
    }

    pub(super) fn word(&self) -> Option<&str> {
        match &self.kind {
            Kind::Word(word) => Some(word),
            _ => None,
        }
    }

    pub(super) fn is_punct(&self, punct: char) -> bool {
        self.kind == Kind::Punct(punct)
    }
}

/// The tokens of blanked code.
pub(super) fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '\n' {
            line += 1;
            at += 1;
        } else if c.is_whitespace() {
            at += 1;
        } else if is_word_char(c) {
            let length = chars[at..].iter().take_while(|&&c| is_word_char(c)).count();
            let word = chars[at..at + length].iter().collect();
            tokens.push(Token { kind: Kind::Word(word), line });
            at += length;
        } else if c == ':' && chars.get(at + 1) == Some(&':') {
            tokens.push(Token { kind: Kind::PathSeparator, line });
            at += 2;
        } else {
            tokens.push(Token { kind: Kind::Punct(c), line });
            at += 1;
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_hides_comments_strings_and_chars_but_keeps_lifetimes_and_lines() {
        let source = "a // { x\n/* { /* }\n */ } */ b \"{\\\"}\" r#\"}\"# '{' '\\'' c<'a>\nd";
        let code = blank_comments_and_literals(source);
        assert_eq!(code.lines().count(), source.lines().count());
        assert!(!code.contains(['{', '}', 'x']), "{code}");
        let words: Vec<(String, usize)> =
            tokens(&code).iter().filter_map(|t| Some((t.word()?.to_owned(), t.line))).collect();
        let expected = [("a", 1), ("b", 3), ("c", 3), ("a", 3), ("d", 4)];
        assert_eq!(words, expected.map(|(word, line)| (word.to_owned(), line)));
    }

    #[test]
    fn raw_identifiers_and_words_ending_in_r_are_not_raw_strings() {
        let code = blank_comments_and_literals("let r#type = for_r; var\"{\"; br#\"}\"#;");
        assert!(code.contains("r#type"), "{code}");
        assert!(!code.contains(['{', '}']), "{code}");
    }
}
