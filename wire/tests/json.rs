//! The `executeJson` reply is NebulaGraph's JSON document, in the shape nebula3-python's
//! session pool reads: `errors[0].code` always, `results[0].spaceName` always (also after a
//! failure), rows with their meta, datetimes in UTC.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use graphsession_core::node::{DataSet, Reply, Value};
use graphsession_wire::execution_json;
use serde_json::{Value as Json, json};

fn parse(reply: &Reply) -> Json {
    serde_json::from_slice(&execution_json(reply, 17)).unwrap()
}

#[test]
fn a_result_set_has_columns_rows_and_meta() {
    let mut data = DataSet::with_columns(&["id", "name", "at", "ratio", "ok", "none"]);
    data.rows.push(vec![
        Value::Int(1),
        Value::Str("a\"b".into()),
        Value::DateTime { unix_us: 1_700_000_000_000_005 },
        Value::Float(0.5),
        Value::Bool(false),
        Value::Null,
    ]);
    let reply = Reply::Executed { space_name: "nba".into(), data: Some(data), plan_id: Some(9) };
    let expected = json!({
        "errors": [{ "code": 0 }],
        "results": [{
            "spaceName": "nba",
            "latencyInUs": 17,
            "errors": { "code": 0 },
            "columns": ["id", "name", "at", "ratio", "ok", "none"],
            "data": [{
                "row": [1, "a\"b", "2023-11-14T22:13:20.000005Z", 0.5, false, null],
                "meta": [null, null, { "type": "datetime" }, null, null, null],
            }],
        }],
    });
    assert_eq!(parse(&reply), expected);
}

#[test]
fn a_success_without_data_has_no_columns() {
    let reply = Reply::Executed { space_name: "s".into(), data: None, plan_id: None };
    let expected = json!({
        "errors": [{ "code": 0 }],
        "results": [{ "spaceName": "s", "latencyInUs": 17, "errors": { "code": 0 } }],
    });
    assert_eq!(parse(&reply), expected);
}

#[test]
fn a_failure_has_its_code_message_and_still_the_space_name() {
    let reply = Reply::ExecuteFailed {
        code: -1004,
        message: "SyntaxError: syntax error near `YIELDD'".into(),
        space_name: "s".into(),
    };
    let document = parse(&reply);
    let error = json!({ "code": -1004, "message": "SyntaxError: syntax error near `YIELDD'" });
    assert_eq!(document["errors"], json!([error.clone()]));
    // The pool reads results[0].spaceName after any failure but -1002 and -1003.
    assert_eq!(document["results"][0]["spaceName"], "s");
    assert_eq!(document["results"][0]["errors"], error);
    assert!(document["results"][0].get("data").is_none());
}

#[test]
fn a_session_error_has_its_code_first() {
    let reply = Reply::ExecuteFailed {
        code: -1002,
        message: "Session not existed!".into(),
        space_name: String::new(),
    };
    let document = parse(&reply);
    assert_eq!(document["errors"][0]["code"], -1002);
    assert_eq!(document["errors"][0]["message"], "Session not existed!");
}

#[test]
fn a_float_that_is_not_finite_is_null() {
    let mut data = DataSet::with_columns(&["x"]);
    data.rows.push(vec![Value::Float(f64::NAN)]);
    let reply = Reply::Executed { space_name: String::new(), data: Some(data), plan_id: None };
    assert_eq!(parse(&reply)["results"][0]["data"][0]["row"], json!([null]));
}
