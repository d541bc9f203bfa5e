//! The `executeJson` variants' reply: NebulaGraph's JSON document (`ExecutionResponse::toJson`
//! in its `Response.h`), which nebula3-python's session pool parses:
//!
//! ```text
//! {"errors":[{"code":0}],
//!  "results":[{"spaceName":"s","latencyInUs":5,"errors":{"code":0},
//!              "columns":["a"],"data":[{"row":[1],"meta":[null]}]}]}
//! ```
//!
//! On failure the errors carry `"message"` and `columns`/`data` are absent; `results` is still
//! there with its `spaceName`, because the pool reads `results[0].spaceName` after every
//! failure other than -1002/-1003 (without it python raises `KeyError`). A `DateTime` is
//! `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` in UTC with its meta `{"type":"datetime"}`; NebulaGraph
//! prints the microseconds unpadded (5 µs as `.5`, which reads as half a second), here they
//! always have six digits.

use graphsession_core::node::{Reply, Value};
use serde_json::{Map, Value as Json, json};

use crate::request::Method;
use crate::response::{Outcome, outcome, space_name};
use crate::value::wire_date_time;

/// The JSON reply's bytes.
#[must_use]
pub fn execution_json(reply: &Reply, latency_us: u64) -> Vec<u8> {
    let mut errors = Map::new();
    let mut result = Map::new();
    result.insert("spaceName".to_owned(), json!(space_name(reply)));
    result.insert("latencyInUs".to_owned(), json!(latency_us));
    match outcome(Method::ExecuteJson, reply) {
        Outcome::Succeeded(Reply::Executed { data: Some(data), .. }) => {
            errors.insert("code".to_owned(), json!(0));
            result.insert("columns".to_owned(), json!(data.column_names));
            let rows = data.rows.iter().map(|row| {
                let values: Vec<Json> = row.iter().map(json_value).collect();
                let meta: Vec<Json> = row.iter().map(json_meta).collect();
                json!({ "row": values, "meta": meta })
            });
            result.insert("data".to_owned(), Json::Array(rows.collect()));
        }
        Outcome::Succeeded(_) => {
            errors.insert("code".to_owned(), json!(0));
        }
        Outcome::Failed { code, message } => {
            errors.insert("code".to_owned(), json!(code));
            errors.insert("message".to_owned(), json!(message));
        }
    }
    result.insert("errors".to_owned(), Json::Object(errors.clone()));
    let document = json!({ "errors": [Json::Object(errors)], "results": [Json::Object(result)] });
    serde_json::to_vec(&document).unwrap_or_default()
}

/// A value as NebulaGraph's `Value::toJson` writes it.
fn json_value(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(flag) => json!(flag),
        Value::Int(int) => json!(int),
        // Not finite: JSON has no such number; null, as serde_json writes it.
        Value::Float(float) => json!(float),
        Value::Str(text) => json!(text),
        Value::DateTime { unix_us } => {
            let at = wire_date_time(*unix_us);
            json!(format!(
                "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                at.year, at.month, at.day, at.hour, at.minute, at.sec, at.microsec
            ))
        }
    }
}

/// A value's meta as NebulaGraph's `Value::getMetaData` writes it: only dates, times,
/// vertices, edges and paths have one.
fn json_meta(value: &Value) -> Json {
    match value {
        Value::DateTime { .. } => json!({ "type": "datetime" }),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {
            Json::Null
        }
    }
}
