//! Pipes: `source | stage | stage ...`, where each stage reads the rows of the one before it
//! through input properties (`$-.column`). graphd runs the stages NebulaGraph users pipe the
//! output of its listings into, above all the slow-query idiom
//! `SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid WHERE ... | KILL QUERY
//! (session=$-.sid, plan=$-.eid)`:
//!
//! ```text
//! pipeline  := statement ('|' stage)*
//! stage     := YIELD item (',' item)* [WHERE condition]
//!            | ORDER BY $-.name [ASC | DESC] (',' $-.name [ASC | DESC])*
//!            | LIMIT int
//!            | KILL QUERY '(' [SESSION '=' operand ','] PLAN '=' operand ')'
//! item      := operand [AS name]
//! operand   := $-.name | literal
//! condition := conjunct (OR conjunct)*
//! conjunct  := negation (AND negation)*
//! negation  := NOT negation | '(' condition ')' | operand [comparison operand]
//! comparison:= == | != | < | <= | > | >= | CONTAINS
//! ```
//!
//! Parsing is syntax only; [`validate`] then checks every input property against the columns
//! the stage before produces (their names and types, known before anything runs, as
//! NebulaGraph's validator knows them) and gives NebulaGraph's semantic errors: "`$-.sid', not
//! exist prop `sid'" and "$-.eid, Session ID must be an integer but was STRING" (its
//! `KillQueryValidator` says "Session ID" for the plan too; the message is kept as it is).

use graphsession_core::node::{SessionStatement, Value};
use graphsession_core::server::SESSION_COLUMNS;
use graphsession_query_plan::QueryRow;

use crate::parser::cursor::{Cursor, Stop};
use crate::parser::lexer::{Kind, Token};
use crate::parser::{Exec, Expression, Parsed};

/// The most items one YIELD stage or keys one ORDER BY may have.
const ITEMS_MAX: usize = 1_024;
/// The deepest a WHERE condition may nest (a bound on the parser's recursion).
const CONDITION_DEPTH_MAX: u32 = 64;

/// A statement whose rows flow through stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The first statement's text, as written (what SHOW QUERIES shows while it runs).
    pub source_text: String,
    /// The first statement.
    pub source: Box<Parsed>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One stage of a pipe.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `YIELD items [WHERE condition]`: the rows the condition keeps, as the items.
    Yield {
        /// The output columns.
        items: Vec<Item>,
        /// The condition, over the input's columns.
        filter: Option<Condition>,
    },
    /// `ORDER BY $-.name [ASC|DESC], ...`: the rows sorted, stably.
    OrderBy {
        /// Column names, and whether descending.
        keys: Vec<(String, bool)>,
    },
    /// `LIMIT n`: the first `n` rows.
    Limit {
        /// How many.
        count: u64,
    },
    /// `KILL QUERY (session=..., plan=...)` once per input row.
    KillQuery {
        /// The session; `None` for the caller's own.
        session: Option<Operand>,
        /// The plan.
        plan: Operand,
    },
}

/// One output column of a YIELD stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its name: the alias, or the operand as NebulaGraph prints it.
    pub name: String,
    /// Its value.
    pub operand: Operand,
}

/// A value a stage reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `$-.name`: the input row's column.
    Input(String),
    /// A constant.
    Literal(Value),
}

/// A row filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// One operand, true when it is the boolean true.
    Operand(Operand),
    /// A comparison of two operands.
    Compare {
        /// Left side.
        left: Operand,
        /// The operator.
        operator: Comparison,
        /// Right side.
        right: Operand,
    },
    /// Both.
    And(Box<Condition>, Box<Condition>),
    /// Either.
    Or(Box<Condition>, Box<Condition>),
    /// Not.
    Not(Box<Condition>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `CONTAINS` (strings)
    Contains,
}

/// A column's type as NebulaGraph's validator deduces it (and names it in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `INT`
    Int,
    /// `FLOAT`
    Float,
    /// `STRING`
    Str,
    /// `BOOL`
    Bool,
    /// `DATETIME`
    DateTime,
    /// `__NULL__`
    Null,
    /// Known only when the statement runs (a parameter).
    Any,
}

impl ValueType {
    /// NebulaGraph's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Int => "INT",
            ValueType::Float => "FLOAT",
            ValueType::Str => "STRING",
            ValueType::Bool => "BOOL",
            ValueType::DateTime => "DATETIME",
            ValueType::Null => "__NULL__",
            ValueType::Any => "__ANY__",
        }
    }

    /// The type of a constant.
    pub fn of(value: &Value) -> ValueType {
        match value {
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Str(_) => ValueType::Str,
            Value::Bool(_) => ValueType::Bool,
            Value::DateTime { .. } => ValueType::DateTime,
            Value::Null => ValueType::Null,
        }
    }
}

/// The columns rows carry between stages: names and types, in order.
pub type Schema = Vec<(String, ValueType)>;

/// The columns a statement's result has, as far as a pipe can read them: the listings graphd
/// answers and YIELD; any other statement gives no columns (so every `$-.name` after it is
/// NebulaGraph's "not exist prop").
pub fn schema_of(parsed: &Parsed) -> Schema {
    use ValueType::{DateTime, Int, Str};
    let named = |names: &[&str], types: &[ValueType]| -> Schema {
        names.iter().zip(types).map(|(name, kind)| ((*name).to_owned(), *kind)).collect()
    };
    match parsed {
        Parsed::Session(SessionStatement::ShowQueries { .. }) => {
            named(&QueryRow::COLUMNS, &[Int, Int, Str, Str, DateTime, Int, Str, Str])
        }
        Parsed::Session(
            SessionStatement::ShowSessions { .. } | SessionStatement::ShowSession { .. },
        ) => named(&SESSION_COLUMNS, &[Int, Str, Str, DateTime, DateTime, Str, Int, Str]),
        Parsed::Exec(Exec::DescribeUser { .. }) => named(&["role", "space"], &[Str, Str]),
        Parsed::Exec(Exec::ShowUsers) => named(&["Account"], &[Str]),
        Parsed::Exec(Exec::ShowRoles { .. }) => named(&["Account", "Role Type"], &[Str, Str]),
        Parsed::Exec(Exec::ShowSpaces) => named(&["Name"], &[Str]),
        Parsed::Exec(Exec::Yield { columns, .. }) => columns
            .iter()
            .map(|column| {
                let kind = match &column.expression {
                    Expression::Literal(value) => ValueType::of(value),
                    Expression::Parameter(_) => ValueType::Any,
                    Expression::Sleep { .. } => Int,
                };
                (column.name.clone(), kind)
            })
            .collect(),
        Parsed::Session(_) | Parsed::Exec(_) | Parsed::Pipe(_) => Schema::new(),
    }
}

/// One stage's tokens (between two `|`), syntax only.
pub(super) fn stage(tokens: &[Token]) -> Result<Stage, Stop> {
    let mut cursor = Cursor::new(tokens);
    let stage = if cursor.keyword("YIELD") {
        yield_stage(&mut cursor)?
    } else if cursor.keyword("ORDER") {
        cursor.expect_keyword("BY")?;
        order_by(&mut cursor)?
    } else if cursor.keyword("LIMIT") {
        let at = cursor.here();
        let count = u64::try_from(cursor.int()?).map_err(|_| at)?;
        Stage::Limit { count }
    } else if cursor.keyword("KILL") {
        cursor.expect_keyword("QUERY")?;
        let (session, (plan, _)) = kill_operands(&mut cursor)?;
        Stage::KillQuery { session: session.map(|(session, _)| session), plan }
    } else {
        return Err(cursor.here());
    };
    cursor.end()?;
    Ok(stage)
}

/// KILL QUERY's operands, each with where it starts (for a syntax error at an id that cannot
/// be one).
pub(super) type KillOperands = (Option<(Operand, Stop)>, (Operand, Stop));

/// `'(' [SESSION '=' operand ','] PLAN '=' operand ')'` or `'(' PLAN '=' operand ',' SESSION
/// '=' operand ')'`, after KILL QUERY: NebulaGraph's `query_unique_identifier` takes both orders.
pub(super) fn kill_operands(cursor: &mut Cursor<'_>) -> Result<KillOperands, Stop> {
    cursor.expect_punct('(')?;
    let session_first = if cursor.keyword("SESSION") {
        cursor.expect_punct('=')?;
        let session = kill_operand(cursor)?;
        cursor.expect_punct(',')?;
        Some(session)
    } else {
        None
    };
    cursor.expect_keyword("PLAN")?;
    cursor.expect_punct('=')?;
    let plan = kill_operand(cursor)?;
    let session = match session_first {
        Some(session) => Some(session),
        None if cursor.punct(',') => {
            cursor.expect_keyword("SESSION")?;
            cursor.expect_punct('=')?;
            Some(kill_operand(cursor)?)
        }
        None => None,
    };
    cursor.expect_punct(')')?;
    Ok((session, plan))
}

/// KILL QUERY's operands are integers or input properties (a string is a syntax error there,
/// as in NebulaGraph's grammar).
fn kill_operand(cursor: &mut Cursor<'_>) -> Result<(Operand, Stop), Stop> {
    let at = cursor.here();
    if let Some(name) = input(cursor)? {
        return Ok((Operand::Input(name), at));
    }
    Ok((Operand::Literal(Value::Int(cursor.int()?)), at))
}

/// `$-.name`, if next.
fn input(cursor: &mut Cursor<'_>) -> Result<Option<String>, Stop> {
    if cursor.peek().is_some_and(|token| token.kind == Kind::Input) {
        let _input = cursor.next_token();
        cursor.expect_punct('.')?;
        return Ok(Some(cursor.name()?));
    }
    Ok(None)
}

fn operand(cursor: &mut Cursor<'_>) -> Result<Operand, Stop> {
    if let Some(name) = input(cursor)? {
        return Ok(Operand::Input(name));
    }
    Ok(Operand::Literal(super::grammar::literal(cursor)?))
}

fn yield_stage(cursor: &mut Cursor<'_>) -> Result<Stage, Stop> {
    let mut items = Vec::new();
    loop {
        let at = cursor.here();
        let operand = operand(cursor)?;
        let name = if cursor.keyword("AS") { cursor.name()? } else { print(&operand) };
        items.push(Item { name, operand });
        if items.len() > ITEMS_MAX {
            return Err(at);
        }
        if !cursor.punct(',') {
            break;
        }
    }
    let filter = if cursor.keyword("WHERE") { Some(condition(cursor, 0)?) } else { None };
    Ok(Stage::Yield { items, filter })
}

fn order_by(cursor: &mut Cursor<'_>) -> Result<Stage, Stop> {
    let mut keys = Vec::new();
    loop {
        let at = cursor.here();
        let name = input(cursor)?.ok_or(at)?;
        let descending = if cursor.keyword("DESC") {
            true
        } else {
            let _ascending = cursor.keyword("ASC");
            false
        };
        keys.push((name, descending));
        if keys.len() > ITEMS_MAX {
            return Err(at);
        }
        if !cursor.punct(',') {
            return Ok(Stage::OrderBy { keys });
        }
    }
}

fn condition(cursor: &mut Cursor<'_>, depth: u32) -> Result<Condition, Stop> {
    if depth > CONDITION_DEPTH_MAX {
        return Err(cursor.here());
    }
    let mut left = conjunct(cursor, depth)?;
    while cursor.keyword("OR") {
        left = Condition::Or(Box::new(left), Box::new(conjunct(cursor, depth)?));
    }
    Ok(left)
}

fn conjunct(cursor: &mut Cursor<'_>, depth: u32) -> Result<Condition, Stop> {
    let mut left = negation(cursor, depth)?;
    while cursor.keyword("AND") {
        left = Condition::And(Box::new(left), Box::new(negation(cursor, depth)?));
    }
    Ok(left)
}

fn negation(cursor: &mut Cursor<'_>, depth: u32) -> Result<Condition, Stop> {
    if depth > CONDITION_DEPTH_MAX {
        return Err(cursor.here());
    }
    if cursor.keyword("NOT") {
        return Ok(Condition::Not(Box::new(negation(cursor, depth + 1)?)));
    }
    if cursor.punct('(') {
        let inner = condition(cursor, depth + 1)?;
        cursor.expect_punct(')')?;
        return Ok(inner);
    }
    let left = operand(cursor)?;
    let operator = match cursor.peek().map(|token| &token.kind) {
        Some(Kind::Compare(operator)) => Some(comparison(operator)),
        Some(Kind::Word(word)) if word.eq_ignore_ascii_case("CONTAINS") => {
            Some(Comparison::Contains)
        }
        _ => None,
    };
    let Some(operator) = operator else { return Ok(Condition::Operand(left)) };
    let _operator = cursor.next_token();
    let right = operand(cursor)?;
    Ok(Condition::Compare { left, operator, right })
}

fn comparison(operator: &str) -> Comparison {
    match operator {
        "==" => Comparison::Equal,
        "!=" => Comparison::NotEqual,
        "<" => Comparison::Less,
        "<=" => Comparison::LessOrEqual,
        ">" => Comparison::Greater,
        _ => Comparison::GreaterOrEqual,
    }
}

/// An operand as NebulaGraph prints an expression (a column's default name, a message).
pub fn print(operand: &Operand) -> String {
    match operand {
        Operand::Input(name) => format!("$-.{name}"),
        Operand::Literal(value) => super::grammar::print(value),
    }
}

/// Checks every stage against the columns the one before produces, from the source's; the
/// first semantic error, NebulaGraph's words.
pub fn validate(source: Schema, stages: &[Stage]) -> Result<(), String> {
    let mut schema = source;
    for stage in stages {
        schema = validate_stage(&schema, stage)?;
    }
    Ok(())
}

/// One stage against its input; the columns it gives the next.
pub fn validate_stage(input: &Schema, stage: &Stage) -> Result<Schema, String> {
    match stage {
        Stage::Yield { items, filter } => {
            if let Some(filter) = filter {
                validate_condition(input, filter)?;
            }
            items
                .iter()
                .map(|item| Ok((item.name.clone(), type_of(input, &item.operand)?)))
                .collect()
        }
        Stage::OrderBy { keys } => {
            for (name, _) in keys {
                type_of(input, &Operand::Input(name.clone()))?;
            }
            Ok(input.clone())
        }
        Stage::Limit { .. } => Ok(input.clone()),
        Stage::KillQuery { session, plan } => {
            for operand in session.iter().chain(std::iter::once(plan)) {
                let kind = type_of(input, operand)?;
                if kind != ValueType::Int && kind != ValueType::Any {
                    return Err(format!(
                        "SemanticError: {}, Session ID must be an integer but was {}",
                        print(operand),
                        kind.name()
                    ));
                }
            }
            Ok(Schema::new())
        }
    }
}

fn validate_condition(input: &Schema, condition: &Condition) -> Result<(), String> {
    match condition {
        Condition::Operand(operand) => type_of(input, operand).map(|_| ()),
        Condition::Compare { left, right, .. } => {
            type_of(input, left)?;
            type_of(input, right).map(|_| ())
        }
        Condition::And(left, right) | Condition::Or(left, right) => {
            validate_condition(input, left)?;
            validate_condition(input, right)
        }
        Condition::Not(inner) => validate_condition(input, inner),
    }
}

fn type_of(input: &Schema, operand: &Operand) -> Result<ValueType, String> {
    match operand {
        Operand::Literal(value) => Ok(ValueType::of(value)),
        Operand::Input(name) => input
            .iter()
            .find(|(column, _)| column == name)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| format!("SemanticError: `$-.{name}', not exist prop `{name}'")),
    }
}
