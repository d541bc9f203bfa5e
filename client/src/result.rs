//! A statement's result: NebulaGraph's `ExecutionResponse` (the generated type) with readers
//! for its columns, rows, latency and space.

use graphsession_wire::nebula_common::types::{Row, Value};
use graphsession_wire::nebula_graph::types::ExecutionResponse;

/// The result of a statement that succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    response: ExecutionResponse,
}

impl ResultSet {
    pub(crate) fn new(response: ExecutionResponse) -> ResultSet {
        ResultSet { response }
    }

    /// The column names (empty for a statement that returns no data).
    #[must_use]
    pub fn columns(&self) -> Vec<String> {
        let names = self.response.data.as_ref().map(|data| data.column_names.as_slice());
        names
            .unwrap_or_default()
            .iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    /// The rows, one value per column.
    #[must_use]
    pub fn rows(&self) -> &[Row] {
        self.response.data.as_ref().map(|data| data.rows.as_slice()).unwrap_or_default()
    }

    /// The value at `row`, `column`.
    #[must_use]
    pub fn get(&self, row: usize, column: usize) -> Option<&Value> {
        self.rows().get(row)?.values.get(column)
    }

    /// How many rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows().len()
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    /// The server's latency for the statement, microseconds (NebulaGraph's `i64`).
    #[must_use]
    pub fn latency_us(&self) -> i64 {
        self.response.latency_in_us
    }

    /// The session's space after the statement.
    #[must_use]
    pub fn space_name(&self) -> Option<String> {
        let name = self.response.space_name.as_deref()?;
        Some(String::from_utf8_lossy(name).into_owned())
    }

    /// The whole response, as the generated type has it.
    #[must_use]
    pub fn response(&self) -> &ExecutionResponse {
        &self.response
    }

    /// Takes the response out.
    #[must_use]
    pub fn into_response(self) -> ExecutionResponse {
        self.response
    }
}
