//! What a finished query leaves for the next one: its statement's buffer and, when its executor
//! has dropped its clone, its handle. Registering then allocates nothing in the steady state;
//! both pools are bounded, in count and (for the buffers) in bytes.

use crate::signal::QueryHandle;

/// Buffers and handles kept for reuse, each.
pub(crate) const RECYCLED_MAX: usize = 64;

/// The largest statement buffer kept for reuse, in bytes of capacity: at most
/// `RECYCLED_MAX * RECYCLED_STATEMENT_BYTES_MAX` (64 KiB) held idle.
pub(crate) const RECYCLED_STATEMENT_BYTES_MAX: usize = 1024;

/// The pools.
#[derive(Debug, Default)]
pub(crate) struct Recycled {
    statements: Vec<String>,
    handles: Vec<QueryHandle>,
}

impl Recycled {
    /// A copy of `statement`, in a kept buffer if one is left.
    #[inline]
    pub(crate) fn statement(&mut self, statement: &str) -> String {
        match self.statements.pop() {
            Some(mut buffer) => {
                buffer.push_str(statement);
                buffer
            }
            None => statement.to_owned(),
        }
    }

    /// A new query's handle, `Running`: a kept one if one is left.
    #[inline]
    pub(crate) fn handle(&mut self) -> QueryHandle {
        self.handles.pop().unwrap_or_else(QueryHandle::new)
    }

    /// Keeps what a removed query leaves, within the bounds; drops the rest. Always inlined into
    /// the registry's one removal path.
    #[inline(always)]
    pub(crate) fn keep(&mut self, mut statement: String, handle: QueryHandle) {
        if self.statements.len() < RECYCLED_MAX
            && statement.capacity() <= RECYCLED_STATEMENT_BYTES_MAX
        {
            statement.clear();
            self.statements.push(statement);
        }
        if self.handles.len() < RECYCLED_MAX {
            if let Some(fresh) = handle.into_fresh() {
                self.handles.push(fresh);
            }
        }
    }

    /// Kept buffers and handles, for the invariant checks.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.statements.len(), self.handles.len())
    }

    /// Whether every kept buffer is empty and within its byte bound, and every kept handle is
    /// `Running` with no clone anywhere.
    pub(crate) fn all_fresh(&self) -> bool {
        self.statements
            .iter()
            .all(|buffer| buffer.is_empty() && buffer.capacity() <= RECYCLED_STATEMENT_BYTES_MAX)
            && self.handles.iter().all(QueryHandle::is_fresh)
    }
}
