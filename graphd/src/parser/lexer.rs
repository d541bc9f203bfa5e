//! nGQL's tokens, as far as graphd's statements need them, with their byte spans in the whole
//! request text (so a syntax error quotes the text the way NebulaGraph's parser does).

/// A token's place in the text: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A word: a keyword or a name (`[A-Za-z_][A-Za-z0-9_]*`).
    Word(String),
    /// A back-quoted name.
    Quoted(String),
    /// A string literal, quotes removed and escapes applied.
    Str(String),
    /// An integer literal (without sign), as written.
    Int(String),
    /// A float literal (without sign), as written.
    Float(String),
    /// `$name`.
    Parameter(String),
    /// `$-`, the input of a pipe stage (`$-.column`).
    Input,
    /// A comparison: `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare(&'static str),
    /// One character of punctuation: `( ) , = ; - . |`
    Punct(char),
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Where it is.
    pub span: Span,
}

impl Token {
    /// Whether the token is the keyword `keyword` (ASCII case-insensitive, as nGQL's).
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, Kind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

/// Why the text could not be cut into tokens: the span of the offending text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexError {
    /// Where.
    pub span: Span,
}

/// The tokens of `text`; comments (`#`, `//`, `/* */`) and white space are skipped.
pub fn tokens(text: &str) -> Result<Vec<Token>, LexError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let start = at;
        if let Some((operator, width)) = comparison(bytes, at) {
            at += width;
            tokens.push(Token { kind: Kind::Compare(operator), span: span(start, at) });
            continue;
        }
        let kind = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                at += 1;
                continue;
            }
            b'#' => {
                at = line_end(bytes, at);
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = line_end(bytes, at);
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at =
                    block_comment_end(bytes, at).ok_or(LexError { span: span(at, bytes.len()) })?;
                continue;
            }
            b'(' | b')' | b',' | b'=' | b';' | b'-' | b'.' | b'|' => {
                at += 1;
                Kind::Punct(char::from(byte))
            }
            b'\'' | b'"' => {
                let (value, end) = string(text, at)?;
                at = end;
                Kind::Str(value)
            }
            b'`' => {
                let end = (bytes[at + 1..].iter().position(|b| *b == b'`'))
                    .ok_or(LexError { span: span(at, bytes.len()) })?;
                at += end + 2;
                Kind::Quoted(text[start + 1..at - 1].to_owned())
            }
            b'$' if bytes.get(at + 1) == Some(&b'-') => {
                at += 2;
                Kind::Input
            }
            b'$' => {
                at = word_end(bytes, at + 1);
                if at == start + 1 {
                    return Err(LexError { span: span(start, start + 1) });
                }
                Kind::Parameter(text[start + 1..at].to_owned())
            }
            b'0'..=b'9' => {
                let (kind, end) = number(text, at);
                at = end;
                kind
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                at = word_end(bytes, at);
                Kind::Word(text[start..at].to_owned())
            }
            _ => {
                let width = text[at..].chars().next().map_or(1, char::len_utf8);
                return Err(LexError { span: span(at, at + width) });
            }
        };
        tokens.push(Token { kind, span: span(start, at) });
    }
    Ok(tokens)
}

/// The comparison operator at `at` and its width; a lone `=` is punctuation (`plan=1`).
fn comparison(bytes: &[u8], at: usize) -> Option<(&'static str, usize)> {
    let next = bytes.get(at + 1).copied();
    match (bytes[at], next) {
        (b'=', Some(b'=')) => Some(("==", 2)),
        (b'!', Some(b'=')) => Some(("!=", 2)),
        (b'<', Some(b'=')) => Some(("<=", 2)),
        (b'>', Some(b'=')) => Some((">=", 2)),
        (b'<', _) => Some(("<", 1)),
        (b'>', _) => Some((">", 1)),
        _ => None,
    }
}

fn span(start: usize, end: usize) -> Span {
    Span { start, end }
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |offset| from + offset)
}

fn block_comment_end(bytes: &[u8], from: usize) -> Option<usize> {
    let body = from + 2;
    (bytes.get(body..)?.windows(2).position(|pair| pair == b"*/")).map(|offset| body + offset + 2)
}

fn word_end(bytes: &[u8], from: usize) -> usize {
    let is_word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    bytes[from..].iter().position(|b| !is_word(b)).map_or(bytes.len(), |offset| from + offset)
}

fn number(text: &str, from: usize) -> (Kind, usize) {
    let bytes = text.as_bytes();
    let digits_end = |at: usize| {
        bytes[at..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| at + n)
    };
    let mut at = digits_end(from);
    let is_float =
        bytes.get(at) == Some(&b'.') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
    if is_float {
        at = digits_end(at + 1);
        return (Kind::Float(text[from..at].to_owned()), at);
    }
    (Kind::Int(text[from..at].to_owned()), at)
}

/// A quoted string from `from` (its opening quote): its value and the byte after it.
fn string(text: &str, from: usize) -> Result<(String, usize), LexError> {
    let bytes = text.as_bytes();
    let quote = bytes[from];
    let mut value = String::new();
    let mut chars = text[from + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        match ch {
            '\\' => {
                let Some((_, escaped)) = chars.next() else { break };
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            ch if ch == char::from(quote) => return Ok((value, from + 1 + offset + 1)),
            ch => value.push(ch),
        }
    }
    Err(LexError { span: span(from, text.len()) })
}

/// The stages of one statement: the runs between `|` (a pipe). Empty runs are kept, so that
/// `SHOW QUERIES |` is a syntax error at its end.
pub fn stages(tokens: &[Token]) -> Vec<&[Token]> {
    tokens.split(|token| token.kind == Kind::Punct('|')).collect()
}

/// The statements of a token list: the runs between `;` (empty runs dropped).
pub fn statements(tokens: &[Token]) -> Vec<&[Token]> {
    tokens
        .split(|token| token.kind == Kind::Punct(';'))
        .filter(|statement| !statement.is_empty())
        .collect()
}
