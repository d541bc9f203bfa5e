//! What one client process does on the wire, watched from outside and judged against the
//! client's specification (the world never asks the client why):
//!
//! - Re-runs: a statement is sent again only after an attempt of it was lost: its socket failed
//!   or was closed (a reply deadline closes it), or the server answered -1002 (the session check
//!   comes first, so it did not run). The client's `reruns` metric can never exceed the attempts
//!   the process lost so counted; it is read only after the process sent a statement.
//! - Reconnect backoff: a single machine that lost its socket dials again no sooner than
//!   `reconnect_backoff_initial_ms` after the loss, whatever its application asks meanwhile
//!   (statements queue), unless the application opens or closes it (close flushes sign-outs on a
//!   fresh socket at once).
//!
//! The watch only reads what passes; it changes no choice and no trace.

use graphsession_core::client::{Action, E_SESSION_INVALID, Request, Response, TransportEvent};

/// The watch over one client process.
#[derive(Debug, Default)]
pub(super) struct ClientWatch {
    /// The time of the process's latest input.
    now_ms: u64,
    /// Attempts the process may have lost: sockets failed or closed, -1002 replies.
    attempts_lost: u64,
    /// A statement was sent since the metrics were last judged.
    sent_unjudged: bool,
    /// When the single machine last lost a socket, if it has not dialed since (and its
    /// application neither opened nor closed it since).
    lost_at_ms: Option<u64>,
    /// The application closed the client: its closing dials (to deliver sign-outs) follow
    /// the close's own pace, not the reconnect backoff.
    closing: bool,
    /// The first violation seen, reported at the next check.
    violation: Option<String>,
}

impl ClientWatch {
    /// An input at `now_ms`.
    pub(super) fn input(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// The application opened the client: it may dial at once.
    pub(super) fn opened(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.lost_at_ms = None;
    }

    /// The application closed the client: its dials are no longer judged.
    pub(super) fn closed(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.closing = true;
    }

    /// A transport event delivered to the process.
    pub(super) fn transport(&mut self, now_ms: u64, event: &TransportEvent) {
        self.now_ms = now_ms;
        match event {
            TransportEvent::ConnectFailed | TransportEvent::Closed | TransportEvent::TimedOut => {
                self.lost(now_ms);
            }
            TransportEvent::Response(Response::ExecuteErr { code, .. })
                if *code == E_SESSION_INVALID =>
            {
                self.attempts_lost += 1;
            }
            TransportEvent::Connected | TransportEvent::Response(_) => {}
        }
    }

    fn lost(&mut self, now_ms: u64) {
        self.attempts_lost += 1;
        self.lost_at_ms = Some(now_ms);
    }

    /// An action the process asked for; `backoff_ms` is the single machine's
    /// `reconnect_backoff_initial_ms` (`None` for a pool, whose members dial on their own).
    pub(super) fn action(&mut self, action: &Action, backoff_ms: Option<u64>) {
        match action {
            Action::Send { request: Request::Execute { .. }, .. } => self.sent_unjudged = true,
            Action::Send { .. } => {}
            Action::CloseSocket { .. } => self.lost(self.now_ms),
            Action::Dial { .. } => {
                let lost_at_ms = self.lost_at_ms.take().filter(|_| !self.closing);
                if let (Some(lost_at_ms), Some(backoff_ms)) = (lost_at_ms, backoff_ms) {
                    let waited_ms = self.now_ms.saturating_sub(lost_at_ms);
                    if waited_ms < backoff_ms && self.violation.is_none() {
                        self.violation = Some(format!(
                            "[reconnect_backoff] the client dialed {waited_ms} ms after losing its \
                             socket (at {lost_at_ms} ms); expected at least its \
                             reconnect_backoff_initial_ms, {backoff_ms} ms"
                        ));
                    }
                }
            }
        }
    }

    /// Judges what was seen; `reruns` gives the client's `reruns` metric (read only after a
    /// statement went out).
    pub(super) fn check(&mut self, reruns: impl FnOnce() -> u64) -> Result<(), String> {
        if let Some(violation) = self.violation.take() {
            return Err(violation);
        }
        if std::mem::take(&mut self.sent_unjudged) {
            let reruns = reruns();
            if reruns > self.attempts_lost {
                return Err(format!(
                    "[reruns] the client reports {reruns} statements re-run; expected at most the \
                     {} attempts it lost (sockets failed or closed, -1002 replies)",
                    self.attempts_lost
                ));
            }
        }
        Ok(())
    }
}
