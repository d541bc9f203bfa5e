//! graphd's nGQL parser: the session statements `GraphNode` runs itself, the few statements
//! graphd's executor runs, and nothing else. Anything outside this grammar is answered with
//! NebulaGraph's syntax error (-1004, `SyntaxError: syntax error near `TEXT'`), quoted the way
//! NebulaGraph's parser quotes it.
//!
//! # Grammar (keywords in any case; names are words or `back-quoted`)
//!
//! ```text
//! script     := statement (';' statement)* [';']
//! statement  := SHOW [LOCAL] SESSIONS | SHOW SESSION int
//!             | KILL (SESSION | SESSIONS) literal
//!             | SHOW [LOCAL] QUERIES
//!             | KILL QUERY '(' [SESSION '=' int ','] PLAN '=' int ')'
//!             | KILL QUERY '(' PLAN '=' int ',' SESSION '=' int ')'   (session 0: the current one)
//!             | USE name
//!             | CREATE USER [IF NOT EXISTS] name [WITH PASSWORD string]
//!             | DROP USER [IF EXISTS] name
//!             | ALTER USER name WITH PASSWORD string
//!             | CHANGE PASSWORD name FROM string TO string
//!             | GRANT [ROLE] role ON name TO name
//!             | REVOKE [ROLE] role ON name FROM name
//!             | SHOW USERS | SHOW ROLES IN name
//!             | CREATE SPACE [IF NOT EXISTS] name ['(' option (',' option)* ')'] [COMMENT ['='] string]
//!             | DROP SPACE [IF EXISTS] name
//!             | SHOW SPACES | SHOW HOSTS [GRAPH | META | STORAGE [LISTENER] | AGENT]
//!             | SET SESSION name '=' (int | string)
//!             | (YIELD | RETURN) column (',' column)*
//!             | (DESC | DESCRIBE) USER name
//!             | statement ('|' stage)+          (pipes: see `pipe.rs`)
//! column     := expression [AS name]
//! expression := literal | $parameter | graphd_sleep '(' int ')'
//! literal    := ['-'] int | ['-'] float | string | TRUE | FALSE | NULL
//! option     := name '=' (int | string | name ['(' int ')'])
//! ```
//!
//! `graphd_sleep(ms)` is graphd's own function (NebulaGraph has none like it): the statement
//! runs for `ms` milliseconds, checking its kill flag every 10 ms, and yields `ms`. It exists so
//! that KILL QUERY, SHOW QUERIES and a query that outlives the idle timeout can be tried against
//! graphd. `SET SESSION name = value` is graphd's too (NebulaGraph 3.x has no session
//! variables): it sets a variable of the current session; `SET SESSION query_timeout_ms = ms`
//! is the session's query timeout (0: none), overriding `--query_timeout_ms`. CREATE USER,
//! ALTER USER and CHANGE PASSWORD refuse a user name over 16 bytes or a password over 24 with
//! NebulaGraph's semantic errors (-1009, before any permission check, as its validators do). A script (several statements split on `;`) runs statement by statement and answers
//! with the last one's result, or the first error; a syntax error anywhere runs nothing.

mod cursor;
mod grammar;
pub mod lexer;
pub mod pipe;

use graphsession_core::node::Secret;
use graphsession_core::node::{SessionStatement, Value};

use crate::parser::lexer::{Span, statements, tokens};

/// NebulaGraph's `E_SYNTAX_ERROR`.
pub const E_SYNTAX_ERROR: i32 = -1004;
/// NebulaGraph's `E_STATEMENT_EMPTY`.
pub const E_STATEMENT_EMPTY: i32 = -1006;
/// NebulaGraph's `E_SEMANTIC_ERROR`.
pub const E_SEMANTIC_ERROR: i32 = -1009;

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A statement `GraphNode` runs itself (USE, GRANT and REVOKE only when their space exists:
    /// see [`crate::executor`]).
    Session(SessionStatement),
    /// A statement graphd's executor runs.
    Exec(Exec),
    /// A statement whose rows flow through stages (`SHOW QUERIES | YIELD ... | KILL QUERY ...`):
    /// the source runs as a statement of its own, the actor runs the stages on its rows.
    Pipe(pipe::Pipeline),
}

/// The statements graphd's executor runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Exec {
    /// `YIELD` or `RETURN` of literals, parameters and `graphd_sleep`.
    Yield {
        /// `RETURN` (else `YIELD`): only the permission kind differs.
        is_return: bool,
        /// The columns.
        columns: Vec<Column>,
    },
    /// `SHOW SPACES`.
    ShowSpaces,
    /// `SHOW HOSTS [role]`.
    ShowHosts {
        /// `GRAPH`, `META`, `STORAGE`, `AGENT`, `STORAGE LISTENER`, or none (graph).
        role: HostRole,
    },
    /// `SHOW USERS`.
    ShowUsers,
    /// `DESC USER name`: the user's roles, one row per space (`GOD` with an empty space).
    DescribeUser {
        /// The user.
        user: String,
    },
    /// `SHOW ROLES IN space`.
    ShowRoles {
        /// The space.
        space: String,
    },
    /// `CREATE SPACE`.
    CreateSpace {
        /// The space.
        space: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP SPACE`.
    DropSpace {
        /// The space.
        space: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `CHANGE PASSWORD user FROM old TO new`.
    ChangePassword {
        /// The user.
        user: String,
        /// The old password.
        old: Secret,
        /// The new password.
        new: Secret,
    },
    /// A statement that parsed but can never run: NebulaGraph's semantic errors found while
    /// parsing (KILL SESSION of a non-integer).
    Fail {
        /// NebulaGraph's code.
        code: i32,
        /// NebulaGraph's message.
        message: String,
    },
}

/// The hosts SHOW HOSTS lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRole {
    /// graphd's nodes (also plain `SHOW HOSTS`: graphd has no storage service).
    Graph,
    /// The embedded meta store.
    Meta,
    /// Storage hosts: none.
    Storage,
    /// Agent hosts: none.
    Agent,
    /// Storage listener hosts: none.
    StorageListener,
}

/// One column of YIELD or RETURN.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name: the alias, or the expression as NebulaGraph prints it.
    pub name: String,
    /// Its value.
    pub expression: Expression,
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// A constant.
    Literal(Value),
    /// `$name`, from `executeWithParameter`.
    Parameter(String),
    /// `graphd_sleep(ms)`.
    Sleep {
        /// How long.
        ms: u64,
    },
}

/// One statement of a script, with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The statement's text, as written.
    pub text: String,
    /// What it is.
    pub parsed: Parsed,
}

/// Why a script cannot run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// -1004 or -1006.
    pub code: i32,
    /// NebulaGraph's message.
    pub message: String,
}

/// Parses a whole request text.
pub fn parse_script(text: &str) -> Result<Vec<Piece>, Refusal> {
    let all = tokens(text).map_err(|error| syntax_error(text, Some(error.span)))?;
    let mut pieces = Vec::new();
    for statement in statements(&all) {
        // At a stage's end the parser sees the `|`, `;` (or the text's end) that follows.
        let refuse = |stage: &[lexer::Token], stop: cursor::Stop| {
            let stop =
                stop.or_else(|| next_after(&all, stage).or_else(|| next_after(&all, statement)));
            syntax_error(text, stop.map(|span| nebula_location(&all, span)))
        };
        let mut stages = lexer::stages(statement).into_iter();
        let Some(source) = stages.next() else { continue };
        let parsed = grammar::statement(source).map_err(|stop| refuse(source, stop))?;
        let mut piped = Vec::new();
        for stage in stages {
            piped.push(pipe::stage(stage).map_err(|stop| refuse(stage, stop))?);
        }
        let parsed = if piped.is_empty() {
            parsed
        } else {
            match pipe::validate(pipe::schema_of(&parsed), &piped) {
                Err(message) => Parsed::Exec(Exec::Fail { code: E_SEMANTIC_ERROR, message }),
                Ok(()) => Parsed::Pipe(pipe::Pipeline {
                    source_text: text_of(text, source),
                    source: Box::new(parsed),
                    stages: piped,
                }),
            }
        };
        pieces.push(Piece { text: text_of(text, statement), parsed });
    }
    if pieces.is_empty() {
        return Err(Refusal { code: E_STATEMENT_EMPTY, message: "StatementEmpty: ".to_owned() });
    }
    Ok(pieces)
}

/// Where NebulaGraph's lexer locates the token at `span`: it lexes a string literal in pieces
/// and the token gets the location of the last piece, the closing quote, so an error at
/// `"100"` in `KILL QUERY (session="100", plan=101)` is near `", plan=' (its acceptance test
/// KillSlowQueryBaseTest.feature, slowquery_test_005 to 007). Every other token is its own span.
fn nebula_location(all: &[lexer::Token], span: Span) -> Span {
    match all.iter().find(|token| token.span == span) {
        Some(lexer::Token { kind: lexer::Kind::Str(_), .. }) if span.end > span.start => {
            Span { start: span.end - 1, end: span.end }
        }
        _ => span,
    }
}

/// The text of a run of tokens, as written.
fn text_of(text: &str, tokens: &[lexer::Token]) -> String {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => text[first.span.start..last.span.end].to_owned(),
        _ => String::new(),
    }
}

/// The token after `statement` in `all` (its `;`), if any.
fn next_after(all: &[lexer::Token], statement: &[lexer::Token]) -> Option<Span> {
    let last = statement.last()?;
    all.iter().find(|token| token.span.start >= last.span.end).map(|token| token.span)
}

/// NebulaGraph's syntax error at `stop` (its `GraphParser::error`): the text near the
/// offending token (the token itself when it is longer than one byte, else eight bytes from
/// it), or the position when the text ended first. Columns count bytes from the text's start,
/// across lines, so the quote is always the offending token's own text.
pub fn syntax_error(text: &str, stop: Option<Span>) -> Refusal {
    let end = text.len();
    let span = stop.unwrap_or(Span { start: end, end });
    let (column, end_column) = (span.start + 1, span.end + 1);
    let begin = span.start;
    let message = if begin >= text.len() {
        format!("syntax error at 1.{column}")
    } else if column + 1 < end_column {
        let length = (end_column - column).min(80);
        format!("syntax error near `{}'", slice(text, begin, length))
    } else {
        format!("syntax error near `{}'", slice(text, begin, 8))
    };
    Refusal { code: E_SYNTAX_ERROR, message: format!("SyntaxError: {message}") }
}

/// Up to `length` bytes of `text` from `begin`, cut to character boundaries.
fn slice(text: &str, begin: usize, length: usize) -> &str {
    let mut start = begin.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = start.saturating_add(length).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}
