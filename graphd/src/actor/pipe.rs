//! A pipe's stages, run by the actor on the rows its source statement returned
//! (`parser/pipe.rs` has the grammar and the checks made before anything runs).
//!
//! YIELD, ORDER BY and LIMIT transform the rows here. KILL QUERY turns each row into a kill
//! target; the actor sends the kills to the node one at a time, as KILL QUERY statements of the
//! same session, so each is checked and carried out (locally or through meta) exactly as a
//! KILL QUERY typed by hand, and the first refusal ends the pipe with its error. Stages after a
//! KILL QUERY have no input (its result has no columns) and are not run.

use std::cmp::Ordering;
use std::collections::VecDeque;

use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::{DataSet, Value};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::KillTarget;

use crate::parser::pipe::{Comparison, Condition, Operand, Stage};

/// Where a running pipe stands.
#[derive(Debug)]
pub(crate) enum PipeRun {
    /// Waiting for the source statement's rows.
    AwaitingSource {
        /// The stages to run on them.
        stages: Vec<Stage>,
    },
    /// Waiting for the reply to one kill; these are the kills still to send.
    AwaitingKill {
        /// Still to send, in row order.
        rest: VecDeque<KillTarget>,
    },
}

/// What the stages made of the rows.
#[derive(Debug)]
pub(crate) enum Applied {
    /// The pipe's result.
    Rows(DataSet),
    /// Kills to send, in row order (possibly none).
    Kill(VecDeque<KillTarget>),
}

/// Runs `stages` over `data`; an error is NebulaGraph's code and message.
pub(crate) fn apply(stages: &[Stage], mut data: DataSet) -> Result<Applied, (i32, String)> {
    for stage in stages {
        match stage {
            Stage::Yield { items, filter } => {
                let mut rows = Vec::with_capacity(data.rows.len());
                for row in &data.rows {
                    if let Some(filter) = filter
                        && !holds(&data.column_names, row, filter)?
                    {
                        continue;
                    }
                    let values =
                        items.iter().map(|item| read(&data.column_names, row, &item.operand));
                    rows.push(values.collect::<Result<Vec<_>, _>>()?);
                }
                let names: Vec<&str> = items.iter().map(|item| item.name.as_str()).collect();
                data = DataSet::with_columns(&names);
                data.rows = rows;
            }
            Stage::OrderBy { keys } => {
                let mut columns = Vec::with_capacity(keys.len());
                for (name, descending) in keys {
                    columns.push((column(&data.column_names, name)?, *descending));
                }
                data.rows.sort_by(|a, b| {
                    columns.iter().fold(Ordering::Equal, |order, (index, descending)| {
                        order.then_with(|| {
                            let order = compare(&a[*index], &b[*index]);
                            if *descending { order.reverse() } else { order }
                        })
                    })
                });
            }
            Stage::Limit { count } => {
                data.rows.truncate(usize::try_from(*count).unwrap_or(usize::MAX));
            }
            Stage::KillQuery { session, plan } => return kills(&data, session.as_ref(), plan),
        }
    }
    Ok(Applied::Rows(data))
}

fn kills(
    data: &DataSet,
    session: Option<&Operand>,
    plan: &Operand,
) -> Result<Applied, (i32, String)> {
    let mut targets = VecDeque::with_capacity(data.rows.len());
    for row in &data.rows {
        let plan_id = match read(&data.column_names, row, plan)? {
            Value::Int(plan) => u64::try_from(plan).ok().map(PlanId::from_u64),
            _ => None,
        };
        let Some(plan) = plan_id else {
            return Err(not_an_id("ExecutionPlanId", row, data, plan));
        };
        let target = match session {
            None => KillTarget::CurrentSession { plan },
            Some(operand) => match read(&data.column_names, row, operand)? {
                Value::Int(session) => match SessionId::new(session) {
                    Some(session) => KillTarget::Session { session, plan },
                    None => return Err(not_an_id("SessionId", row, data, operand)),
                },
                _ => return Err(not_an_id("SessionId", row, data, operand)),
            },
        };
        targets.push_back(target);
    }
    Ok(Applied::Kill(targets))
}

/// A row whose id column holds no valid id (NULL, or not above zero): the checks before the
/// run know only the column's type, so this is found here.
fn not_an_id(what: &str, row: &[Value], data: &DataSet, operand: &Operand) -> (i32, String) {
    let value = read(&data.column_names, row, operand).unwrap_or(Value::Null);
    let operand = crate::parser::pipe::print(operand);
    (E_EXECUTION_ERROR, format!("{operand}: {value:?} is not a valid {what}"))
}

fn column(names: &[String], name: &str) -> Result<usize, (i32, String)> {
    names.iter().position(|column| column == name).ok_or_else(|| {
        // The checks before the run make this unreachable; kept as an error, never a panic.
        (E_EXECUTION_ERROR, format!("`$-.{name}', not exist prop `{name}'"))
    })
}

fn read(names: &[String], row: &[Value], operand: &Operand) -> Result<Value, (i32, String)> {
    match operand {
        Operand::Literal(value) => Ok(value.clone()),
        Operand::Input(name) => {
            let index = column(names, name)?;
            Ok(row.get(index).cloned().unwrap_or(Value::Null))
        }
    }
}

fn holds(names: &[String], row: &[Value], condition: &Condition) -> Result<bool, (i32, String)> {
    Ok(match condition {
        Condition::Operand(operand) => read(names, row, operand)? == Value::Bool(true),
        Condition::Compare { left, operator, right } => {
            let (left, right) = (read(names, row, left)?, read(names, row, right)?);
            compares(&left, *operator, &right)
        }
        Condition::And(left, right) => holds(names, row, left)? && holds(names, row, right)?,
        Condition::Or(left, right) => holds(names, row, left)? || holds(names, row, right)?,
        Condition::Not(inner) => !holds(names, row, inner)?,
    })
}

/// A comparison's truth; NULL or values of different kinds compare false (NebulaGraph's NULL
/// and BAD_TYPE are not true, so WHERE drops the row).
fn compares(left: &Value, operator: Comparison, right: &Value) -> bool {
    if operator == Comparison::Contains {
        return matches!((left, right), (Value::Str(text), Value::Str(part)) if text.contains(part.as_str()));
    }
    let Some(order) = comparable(left, right) else { return false };
    match operator {
        Comparison::Equal => order == Ordering::Equal,
        Comparison::NotEqual => order != Ordering::Equal,
        Comparison::Less => order == Ordering::Less,
        Comparison::LessOrEqual => order != Ordering::Greater,
        Comparison::Greater => order == Ordering::Greater,
        Comparison::GreaterOrEqual => order != Ordering::Less,
        Comparison::Contains => false,
    }
}

/// The order of two values of comparable kinds (numbers with numbers).
fn comparable(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Int(a), Value::Float(b)) => int_as_float(*a).partial_cmp(b),
        (Value::Float(a), Value::Int(b)) => a.partial_cmp(&int_as_float(*b)),
        (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::DateTime { unix_us: a }, Value::DateTime { unix_us: b }) => Some(a.cmp(b)),
        _ => None,
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "NebulaGraph compares an INT with a FLOAT as floats"
)]
fn int_as_float(value: i64) -> f64 {
    value as f64
}

/// ORDER BY's total order: NULL first, then values of one kind in their order; kinds that do
/// not compare keep their input order (the sort is stable).
fn compare(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => comparable(left, right).unwrap_or(Ordering::Equal),
    }
}
