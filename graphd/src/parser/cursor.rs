//! A cursor over one statement's tokens: the small steps the grammar is written in. Each step
//! that fails names where: the offending token's span, or `None` for the end of the statement.

use crate::parser::lexer::{Kind, Span, Token};

/// Where parsing stopped: a token's span, or the end of the statement.
pub(super) type Stop = Option<Span>;

/// Tokens of one statement and the next one to read.
pub(super) struct Cursor<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the first token.
    pub(super) fn new(tokens: &'a [Token]) -> Cursor<'a> {
        Cursor { tokens, at: 0 }
    }

    /// The next token, not consumed.
    pub(super) fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    /// Where the next token is (`None` at the end).
    pub(super) fn here(&self) -> Stop {
        self.peek().map(|token| token.span)
    }

    /// The next token, consumed.
    pub(super) fn next_token(&mut self) -> Option<&'a Token> {
        let token = self.tokens.get(self.at)?;
        self.at += 1;
        Some(token)
    }

    /// Consumes the keyword if it is next.
    pub(super) fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|token| token.is_keyword(keyword));
        if found {
            self.at += 1;
        }
        found
    }

    /// The keyword, or a stop here.
    pub(super) fn expect_keyword(&mut self, keyword: &str) -> Result<(), Stop> {
        if self.keyword(keyword) { Ok(()) } else { Err(self.here()) }
    }

    /// Consumes the punctuation if it is next.
    pub(super) fn punct(&mut self, punct: char) -> bool {
        let found = self.peek().is_some_and(|token| token.kind == Kind::Punct(punct));
        if found {
            self.at += 1;
        }
        found
    }

    /// The punctuation, or a stop here.
    pub(super) fn expect_punct(&mut self, punct: char) -> Result<(), Stop> {
        if self.punct(punct) { Ok(()) } else { Err(self.here()) }
    }

    /// A name: a word or a back-quoted name.
    pub(super) fn name(&mut self) -> Result<String, Stop> {
        match self.peek().map(|token| &token.kind) {
            Some(Kind::Word(word) | Kind::Quoted(word)) => {
                self.at += 1;
                Ok(word.clone())
            }
            _ => Err(self.here()),
        }
    }

    /// A string literal.
    pub(super) fn string(&mut self) -> Result<String, Stop> {
        match self.peek().map(|token| &token.kind) {
            Some(Kind::Str(text)) => {
                self.at += 1;
                Ok(text.clone())
            }
            _ => Err(self.here()),
        }
    }

    /// An integer literal with an optional minus sign.
    pub(super) fn int(&mut self) -> Result<i64, Stop> {
        let negative = self.punct('-');
        match self.peek() {
            Some(Token { kind: Kind::Int(digits), span }) => {
                let text = if negative { format!("-{digits}") } else { digits.clone() };
                let value = text.parse().map_err(|_| Some(*span))?;
                self.at += 1;
                Ok(value)
            }
            _ => Err(self.here()),
        }
    }

    /// The end of the statement, or a stop at what follows.
    pub(super) fn end(&self) -> Result<(), Stop> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err(Some(token.span)),
        }
    }
}
