//! What a graph node answers on a connection: NebulaGraph's responses as plain values, with
//! result sets in its column names and value types. The host encodes them on the wire.

use graphsession_query_plan::QueryRow;

use crate::server::{SESSION_COLUMNS, SessionRow};

/// A reply to one request of one connection. Sign-outs get none.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `verifyClientVersion`'s answer.
    ClientVersion {
        /// 0, or `E_CLIENT_SERVER_INCOMPATIBLE` (-3061) with the message.
        code: i32,
        /// Empty when accepted.
        message: String,
    },
    /// `authenticate` succeeded: the new session.
    Authenticated {
        /// The session id (always positive here).
        session_id: i64,
        /// NebulaGraph sends the server's zone offset; sessions have no time zone of their own.
        time_zone_offset_seconds: i32,
        /// The zone's name.
        time_zone_name: String,
    },
    /// `authenticate` failed.
    AuthenticateFailed {
        /// -1001, -1002 or -1010.
        code: i32,
        /// NebulaGraph's text.
        message: String,
    },
    /// The statement succeeded.
    Executed {
        /// The session's space after the statement (clients resend USE when it differs).
        space_name: String,
        /// The result set; `None` for statements without one (USE, KILL QUERY, GRANT, ...).
        data: Option<DataSet>,
        /// The query's plan id, when it ran as a query.
        plan_id: Option<u64>,
    },
    /// The statement failed or was refused. -1002 means nothing ran: the session is not there.
    ExecuteFailed {
        /// NebulaGraph's error code.
        code: i32,
        /// NebulaGraph's text.
        message: String,
        /// The session's space, when it is known.
        space_name: String,
    },
}

/// `E_CLIENT_SERVER_INCOMPATIBLE`: the client's version is not in the server's list.
pub const E_CLIENT_SERVER_INCOMPATIBLE: i32 = -3061;

/// A result set: NebulaGraph's `DataSet`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSet {
    /// The column names.
    pub column_names: Vec<String>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// One value of a result set: the subset of NebulaGraph's `Value` union that session
/// statements produce (hosts' executors may add their own in `Str`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nVal`: null.
    Null,
    /// `bVal`.
    Bool(bool),
    /// `iVal`.
    Int(i64),
    /// `fVal`.
    Float(f64),
    /// `sVal`.
    Str(String),
    /// `dtVal`, as microseconds since the Unix epoch in UTC (the wire encodes it as a calendar
    /// date and time).
    DateTime {
        /// Microseconds since the Unix epoch.
        unix_us: u64,
    },
}

impl DataSet {
    /// An empty result with these columns.
    #[must_use]
    pub fn with_columns(columns: &[&str]) -> DataSet {
        DataSet {
            column_names: columns.iter().map(|name| (*name).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// `SHOW [LOCAL] SESSIONS` and `SHOW SESSION` rows, with NebulaGraph's columns
    /// ([`SESSION_COLUMNS`]) and value types.
    #[must_use]
    pub fn sessions(rows: &[SessionRow]) -> DataSet {
        let mut data = DataSet::with_columns(&SESSION_COLUMNS);
        data.rows = rows
            .iter()
            .map(|row| {
                vec![
                    Value::Int(row.session_id.get()),
                    Value::Str(row.user_name.clone()),
                    Value::Str(row.space_name.clone()),
                    Value::DateTime { unix_us: row.create_time_unix_us },
                    Value::DateTime { unix_us: row.update_time_unix_us },
                    Value::Str(row.graph_addr.clone()),
                    Value::Int(i64::from(row.timezone)),
                    Value::Str(row.client_ip.clone()),
                ]
            })
            .collect();
        data
    }

    /// `SHOW [LOCAL] QUERIES` rows, with NebulaGraph's columns ([`QueryRow::COLUMNS`]).
    #[must_use]
    pub fn queries(rows: &[QueryRow]) -> DataSet {
        let mut data = DataSet::with_columns(&QueryRow::COLUMNS);
        data.rows = rows
            .iter()
            .map(|row| {
                vec![
                    Value::Int(row.session_id.get()),
                    Value::Int(i64::try_from(row.execution_plan_id.get()).unwrap_or(i64::MAX)),
                    Value::Str(row.user.clone()),
                    Value::Str(row.host.clone()),
                    Value::DateTime { unix_us: row.start_time_unix_us },
                    Value::Int(i64::try_from(row.duration_us).unwrap_or(i64::MAX)),
                    Value::Str(row.status.as_str().to_owned()),
                    Value::Str(row.query.clone()),
                ]
            })
            .collect();
        data
    }

    /// KILL SESSION's result: one column, "Number of session killed".
    #[must_use]
    pub fn killed_sessions(count: u32) -> DataSet {
        let mut data = DataSet::with_columns(&[KILLED_SESSIONS_COLUMN]);
        data.rows.push(vec![Value::Int(i64::from(count))]);
        data
    }
}

/// KILL SESSION's one column.
pub const KILLED_SESSIONS_COLUMN: &str = "Number of session killed";
