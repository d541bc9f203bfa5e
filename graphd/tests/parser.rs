//! graphd's parser on its own: the grammar's edges (names, strings, comments, scripts, KILL
//! QUERY's two forms) and NebulaGraph's syntax-error shapes.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use graphsession_core::node::{SessionStatement, Value};
use graphsession_graphd::parser::{Exec, Expression, Parsed, parse_script};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::KillTarget;

fn one(text: &str) -> Parsed {
    let mut pieces = parse_script(text).unwrap();
    assert_eq!(pieces.len(), 1, "{text}");
    pieces.remove(0).parsed
}

fn syntax(text: &str) -> String {
    let refusal = parse_script(text).unwrap_err();
    assert_eq!(refusal.code, -1004, "{text}");
    refusal.message
}

#[test]
fn keywords_in_any_case_names_plain_or_back_quoted() {
    assert_eq!(
        one("use `my space`"),
        Parsed::Session(SessionStatement::Use { space: "my space".into() })
    );
    assert_eq!(
        one("Show Local Sessions"),
        Parsed::Session(SessionStatement::ShowSessions { local: true })
    );
    let grant = one("GRANT DBA ON nba TO bob");
    let expected = SessionStatement::Grant {
        role: graphsession_permission::Role::Dba,
        space: "nba".into(),
        user: "bob".into(),
    };
    assert_eq!(grant, Parsed::Session(expected));
}

#[test]
fn kill_query_names_the_current_session_or_another() {
    let current = one("KILL QUERY (plan=7)");
    let plan = PlanId::from_u64(7);
    assert_eq!(
        current,
        Parsed::Session(SessionStatement::KillQuery {
            target: KillTarget::CurrentSession { plan }
        })
    );
    let other = one("KILL QUERY (session=42, plan=7)");
    let session = SessionId::new(42).unwrap();
    assert_eq!(
        other,
        Parsed::Session(SessionStatement::KillQuery {
            target: KillTarget::Session { session, plan }
        })
    );
    // NebulaGraph's grammar takes the plan first too, and its executor takes session 0 for the
    // current session (`query_unique_identifier` in parser.yy, `KillQueryExecutor.cpp`).
    assert_eq!(one("KILL QUERY (plan=7, session=42)"), other);
    assert_eq!(one("KILL QUERY (session=0, plan=7)"), current);
    assert_eq!(one("KILL QUERY (plan=7, session=0)"), current);
    assert_eq!(
        one("KILL QUERY (session=-3, plan=7)"),
        Parsed::Exec(Exec::Fail { code: -1005, message: "SessionId[-3] does not exist".into() })
    );
    assert_eq!(syntax("KILL QUERY (plan=7, plan=8)"), "SyntaxError: syntax error near `plan'");
}

#[test]
fn strings_escape_and_comments_are_skipped() {
    let parsed = one("YIELD 'it\\'s', \"a;b\" // the rest is a comment");
    let Parsed::Exec(Exec::Yield { columns, .. }) = parsed else { panic!("{parsed:?}") };
    let values: Vec<_> = columns.iter().map(|column| column.expression.clone()).collect();
    assert_eq!(
        values,
        [
            Expression::Literal(Value::Str("it's".into())),
            Expression::Literal(Value::Str("a;b".into()))
        ]
    );
    assert_eq!(parse_script("/* c */ YIELD 1; # c\n YIELD 2;").unwrap().len(), 2);
}

#[test]
fn create_user_keeps_its_password_out_of_debug_output() {
    let parsed = one("CREATE USER IF NOT EXISTS bob WITH PASSWORD 'hunter2'");
    assert!(!format!("{parsed:?}").contains("hunter2"));
    let change = one("CHANGE PASSWORD bob FROM 'hunter2' TO 'hunter3'");
    assert!(!format!("{change:?}").contains("hunter"));
}

#[test]
fn syntax_errors_quote_the_text_as_nebulagraph_does() {
    assert_eq!(syntax("FOO"), "SyntaxError: syntax error near `FOO'");
    // A one-character token: eight characters from it.
    assert_eq!(syntax("YIELD 1 + 2 + 3"), "SyntaxError: syntax error near `+ 2 + 3'");
    assert_eq!(syntax("SHOW SESSION"), "SyntaxError: syntax error at 1.13");
    assert_eq!(syntax("YIELD 1;\nSHOW NOTHING"), "SyntaxError: syntax error near `NOTHING'");
    assert_eq!(syntax("YIELD 'open"), "SyntaxError: syntax error near `'open'");
    // NebulaGraph locates a string literal at its closing quote (KillSlowQueryBaseTest.feature).
    let string_session = syntax(r#"KILL QUERY (session="100", plan=101)"#);
    assert_eq!(string_session, r#"SyntaxError: syntax error near `", plan='"#);
    let string_plan = syntax(r#"KILL QUERY (session=100, plan="101")"#);
    assert_eq!(string_plan, r#"SyntaxError: syntax error near `")'"#);
    assert_eq!(syntax("SHOW SESSIONS 'x' y"), "SyntaxError: syntax error near `' y'");
    assert_eq!(syntax("YIELD graphd_sleep(3600001)"), "SyntaxError: syntax error near `3600001'");
}

#[test]
fn set_session_takes_a_name_and_an_integer_or_a_string() {
    let set = |name: &str, value: &str| {
        Parsed::Session(SessionStatement::SetVariable { name: name.into(), value: value.into() })
    };
    assert_eq!(one("SET SESSION query_timeout_ms = 1500"), set("query_timeout_ms", "1500"));
    assert_eq!(one("set session `query_timeout_ms`=-1"), set("query_timeout_ms", "-1"));
    assert_eq!(one("SET SESSION greeting = 'hello'"), set("greeting", "hello"));
    assert_eq!(
        syntax("SET query_timeout_ms = 1"),
        "SyntaxError: syntax error near `query_timeout_ms'"
    );
    assert!(syntax("SET SESSION query_timeout_ms 1").contains("near `1'"));
    assert!(syntax("SET SESSION query_timeout_ms = 1.5").contains("near `1.5'"));
}
