//! graphd's log: one line per event on standard error, prefixed `graphd:`. Nothing is logged
//! per request unless `--verbose`; passwords never reach it (every type that holds one redacts
//! it in `Debug`).
#![expect(clippy::print_stderr, reason = "graphd logs to standard error")]

/// Writes one log line.
pub(crate) fn line(message: std::fmt::Arguments<'_>) {
    eprintln!("graphd: {message}");
}

/// Logs a formatted line.
macro_rules! log {
    ($($arg:tt)*) => { $crate::logging::line(format_args!($($arg)*)) };
}
pub(crate) use log;
