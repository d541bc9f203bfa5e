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
//! - Giving up: a single machine dials again after a failure only while its consecutive
//!   failures since its last ready session are within `failures_max`, and when it gives up
//!   (`OpenFailed`) it has failed exactly one time more than that.
//! - The sign-out outbox: a sign-out that does not fit (`SignOutOverflow`) reports the bound of
//!   the outbox it did not fit in, the client's `sign_out_outbox_max`. (Rare: a machine holds
//!   one session at a time and sends its due sign-outs first on every idle socket, so a second
//!   sign-out waits only behind one whose proof failed and whose retry is not due yet, as with
//!   production's sign-out backoff; client slot 1's outbox holds 1 in the seeds that run that
//!   backoff with a per-connection limit of 2, and overflowed in 4 of seeds 0-2,999.)
//! - A server's answer: when the server answered a statement with an error other than -1002, the
//!   failure the application is told may have run, so it is never "certainly not run" (a caller
//!   would re-run a statement that ran): of the failures that input told (if it told any, and
//!   the machine did not give up with it, which cancels what was queued), one at least may have
//!   run.
//!
//! - A login's answer: a login the server refused for now (-1002, or -1010 too many sessions)
//!   is retried after a backoff, so what that input tells the application is at most that it
//!   gave up on refusals (`OpenFailed` with `AuthenticateRefused`); any other login error is
//!   final: the application is told `OpenFailed` at once, `BadCredentials` exactly for -1001.
//! - Time passes: once a timer fired, the client is not due again at that same instant (a
//!   deadline it keeps without acting on it would hold the whole world at one instant).
//!
//! Client slot [`SMALL_BOUNDS_SLOT`] runs with a small `failures_max`
//! ([`SMALL_FAILURES_MAX`]) so that partitions and resets reach it, and in some seeds an
//! outbox of 1: its behaviour, and a seed's trace, differ from the default's only where a
//! bound is met.
//!
//! The watch only reads what passes; it changes no choice and no trace.

use graphsession_core::client::{
    Action, ClientConfig, E_BAD_USERNAME_PASSWORD, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS,
    Event, Request, Response, SessionError, TransportEvent,
};

use crate::world::config::ClusterConfig;

/// The client slot whose client runs with small bounds.
pub(super) const SMALL_BOUNDS_SLOT: u16 = 1;
/// Its `failures_max`: an outage of about 1.5 s (backoff 50, 100, 200, 400, 800 ms) gives up.
pub(super) const SMALL_FAILURES_MAX: u32 = 5;

/// The small bounds of slot [`SMALL_BOUNDS_SLOT`], on `config`: its `failures_max`, and its
/// `sign_out_outbox_max` as the seed's configuration says.
pub(super) fn small_bounds(config: &mut ClientConfig, cluster: &ClusterConfig) {
    config.failures_max = SMALL_FAILURES_MAX;
    config.sign_out_outbox_max = cluster.small_bounds_outbox_max;
}

/// What the events caused by a server's error answer told the application.
#[derive(Debug, Default, Clone, Copy)]
struct Answered {
    /// A failure that certainly did not run.
    not_run: bool,
    /// A failure that may have run.
    may_have_run: bool,
    /// The machine gave up (`OpenFailed`) or closed.
    gave_up: bool,
}

/// How the application was told that a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginTold {
    /// `OpenFailed` with `BadCredentials`.
    BadCredentials,
    /// `OpenFailed` with `AuthenticateRefused` or `RetriesExhausted` (it gave up on refusals).
    Refused,
    /// `OpenFailed` with another error.
    Other,
}

/// The watch over one client process.
#[derive(Debug)]
pub(super) struct ClientWatch {
    /// The client's `failures_max`.
    failures_max: u32,
    /// The client's `sign_out_outbox_max`.
    outbox_max: u32,
    /// Dials after a failure since the single machine's last ready session.
    redials: u32,
    /// The machine dialed since its application opened it (the first dial is no retry).
    dialed: bool,
    /// A dial past `failures_max` or before the backoff, judged after the input's events: a
    /// machine that gives up dials at once to deliver its sign-outs (`OpenFailed` comes after
    /// that dial).
    over_dial: Option<String>,
    /// Dials to come that follow no failure: the machine closed its socket to wait for
    /// session budget (`BudgetExhausted`), which is not a failure.
    budget_waits: u32,
    /// The latest input was a server's error answer (not -1002) to a statement: what the
    /// events it caused told.
    answered_error: Option<Answered>,
    /// The latest input was the server's error answer to a login: its code, and what the
    /// events it caused told (`OpenFailed`, and whether with `BadCredentials`, or with
    /// `AuthenticateRefused`).
    login_refused: Option<(i32, Option<LoginTold>)>,
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
    /// The watch over a client configured with `config`.
    pub(super) fn new(config: &ClientConfig) -> ClientWatch {
        ClientWatch {
            failures_max: config.failures_max,
            outbox_max: config.sign_out_outbox_max,
            redials: 0,
            dialed: false,
            budget_waits: 0,
            over_dial: None,
            answered_error: None,
            login_refused: None,
            now_ms: 0,
            attempts_lost: 0,
            sent_unjudged: false,
            lost_at_ms: None,
            closing: false,
            violation: None,
        }
    }

    /// An input at `now_ms`.
    pub(super) fn input(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.judge_answered();
    }

    /// The events of an input that brought a server's error answer.
    fn judge_answered(&mut self) {
        if let Some(violation) = self.over_dial.take() {
            self.note(violation);
        }
        self.judge_login();
        let Some(told) = self.answered_error.take() else { return };
        if told.not_run && !told.may_have_run && !told.gave_up {
            self.note(
                "[not_run_claim] the server answered a statement with an error, and every \
                 failure the client told its application then says the statement certainly did \
                 not run; expected the answered one to say it may have run"
                    .to_owned(),
            );
        }
    }

    /// The events of an input that brought the server's error answer to a login.
    fn judge_login(&mut self) {
        let Some((code, told)) = self.login_refused.take() else { return };
        let refused = code == E_SESSION_INVALID || code == E_TOO_MANY_CONNECTIONS;
        let expected = match (refused, told) {
            (true, None | Some(LoginTold::Refused)) => return,
            (true, Some(_)) => "a retry after the refusal backoff (a refusal is not final)",
            (false, Some(LoginTold::BadCredentials)) if code == E_BAD_USERNAME_PASSWORD => return,
            (false, Some(LoginTold::Other)) if code != E_BAD_USERNAME_PASSWORD => return,
            (false, _) if code == E_BAD_USERNAME_PASSWORD => {
                "OpenFailed with BadCredentials at once (never retried)"
            }
            (false, _) => "OpenFailed with AuthenticateFailed at once (never retried)",
        };
        self.note(format!(
            "[login_answer] the server answered a login with {code}, and the client told its \
             application {told:?}; expected {expected}"
        ));
    }

    /// A timer fired at `now_ms` and the client's earliest timer is then `next_ms`.
    pub(super) fn fired(&mut self, now_ms: u64, next_ms: Option<u64>) {
        if let Some(next_ms) = next_ms.filter(|&next_ms| next_ms <= now_ms) {
            self.note(format!(
                "[timer_spin] the client's timers fired at {now_ms} ms and it is still due at \
                 {next_ms} ms: a deadline it keeps without acting on it; expected its next \
                 timer after {now_ms} ms"
            ));
        }
    }

    /// The application opened the client: it may dial at once.
    pub(super) fn opened(&mut self, now_ms: u64) {
        self.input(now_ms);
        self.lost_at_ms = None;
    }

    /// The application closed the client: its dials are no longer judged.
    pub(super) fn closed(&mut self, now_ms: u64) {
        self.input(now_ms);
        self.closing = true;
    }

    /// A transport event delivered to the process.
    pub(super) fn transport(&mut self, now_ms: u64, event: &TransportEvent) {
        self.input(now_ms);
        match event {
            TransportEvent::ConnectFailed | TransportEvent::Closed | TransportEvent::TimedOut => {
                self.lost(now_ms);
            }
            TransportEvent::Response(Response::ExecuteErr { code, .. })
                if *code == E_SESSION_INVALID =>
            {
                self.attempts_lost += 1;
            }
            TransportEvent::Response(Response::ExecuteErr { .. }) => {
                self.answered_error = Some(Answered::default());
            }
            // A closing client only delivers its sign-outs: a login's answer is moot.
            TransportEvent::Response(Response::AuthenticateErr { code, .. }) if !self.closing => {
                self.login_refused = Some((*code, None));
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
                if backoff_ms.is_some() && !self.closing {
                    self.redial();
                }
                let lost_at_ms = self.lost_at_ms.take().filter(|_| !self.closing);
                if let (Some(lost_at_ms), Some(backoff_ms)) = (lost_at_ms, backoff_ms) {
                    let waited_ms = self.now_ms.saturating_sub(lost_at_ms);
                    if waited_ms < backoff_ms && self.over_dial.is_none() {
                        self.over_dial = Some(format!(
                            "[reconnect_backoff] the client dialed {waited_ms} ms after losing its \
                             socket (at {lost_at_ms} ms); expected at least its \
                             reconnect_backoff_initial_ms, {backoff_ms} ms"
                        ));
                    }
                }
            }
        }
    }

    /// A single machine dialed (not closing): a retry unless it is the first since open.
    fn redial(&mut self) {
        if !std::mem::replace(&mut self.dialed, true) {
            return;
        }
        if self.budget_waits > 0 {
            self.budget_waits -= 1;
            return;
        }
        self.redials += 1;
        if self.redials > self.failures_max {
            self.over_dial = Some(format!(
                "[gave_up] the client dialed again after {} consecutive failures since its last \
                 ready session; expected it to give up after failures_max, {}",
                self.redials, self.failures_max
            ));
        }
    }

    fn note(&mut self, violation: String) {
        if self.violation.is_none() {
            self.violation = Some(violation);
        }
    }

    /// An event the process told its application.
    pub(super) fn event(&mut self, event: &Event) {
        match event {
            Event::Ready { .. } => self.redials = 0,
            Event::OpenFailed { error } => {
                // It dials once more to deliver its sign-outs, at its close's pace.
                self.over_dial = None;
                self.closing = true;
                match error {
                    SessionError::RetriesExhausted { failures }
                        if *failures != self.failures_max.saturating_add(1) =>
                    {
                        self.note(format!(
                            "[gave_up] the client gave up after {failures} consecutive \
                             failures; expected exactly one more than failures_max, {}",
                            self.failures_max
                        ));
                    }
                    _ => {}
                }
            }
            Event::BudgetExhausted { .. } => self.budget_waits += 1,
            Event::SignOutOverflow { session_id, outbox_max } if *outbox_max != self.outbox_max => {
                self.note(format!(
                    "[outbox_bound] session {session_id}'s sign-out did not fit an outbox of \
                     {outbox_max}, it says; the client's sign_out_outbox_max is {}",
                    self.outbox_max
                ));
            }
            _ => {}
        }
        if let (Some((_, told)), Event::OpenFailed { error }) = (&mut self.login_refused, event) {
            *told = Some(match error {
                SessionError::BadCredentials { .. } => LoginTold::BadCredentials,
                SessionError::AuthenticateRefused { .. }
                | SessionError::RetriesExhausted { .. } => LoginTold::Refused,
                _ => LoginTold::Other,
            });
        }
        if let Some(told) = &mut self.answered_error {
            match event {
                Event::Failed { error, .. } if error.certainly_not_run() => told.not_run = true,
                Event::Failed { .. } => told.may_have_run = true,
                Event::OpenFailed { .. } | Event::Closed { .. } => told.gave_up = true,
                _ => {}
            }
        }
    }

    /// Judges what was seen; `reruns` gives the client's `reruns` metric (read only after a
    /// statement went out).
    pub(super) fn check(&mut self, reruns: impl FnOnce() -> u64) -> Result<(), String> {
        self.judge_answered();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn login_answered(code: i32, told: Option<SessionError>) -> Result<(), String> {
        let mut watch = ClientWatch::new(&ClientConfig::default());
        watch.opened(0);
        let answer = Response::AuthenticateErr { code, message: "no".to_owned() };
        watch.transport(5, &TransportEvent::Response(answer));
        if let Some(error) = told {
            watch.event(&Event::OpenFailed { error });
        }
        watch.check(|| 0)
    }

    #[test]
    fn a_login_answer_is_final_unless_a_refusal() {
        let bad = |code| SessionError::BadCredentials { code, message: "no".to_owned() };
        let refused = |code| SessionError::AuthenticateRefused { code, message: "no".to_owned() };
        let failed = |code| SessionError::AuthenticateFailed { code, message: "no".to_owned() };
        assert!(login_answered(E_BAD_USERNAME_PASSWORD, Some(bad(-1001))).is_ok());
        assert!(login_answered(-1009, Some(failed(-1009))).is_ok());
        assert!(login_answered(E_SESSION_INVALID, None).is_ok());
        assert!(login_answered(E_TOO_MANY_CONNECTIONS, Some(refused(-1010))).is_ok());
        // Retried, or told the wrong kind of failure: the watch fires.
        for (code, told) in [
            (E_BAD_USERNAME_PASSWORD, None),
            (E_BAD_USERNAME_PASSWORD, Some(failed(-1001))),
            (-1009, None),
            (-1009, Some(bad(-1009))),
            (E_SESSION_INVALID, Some(failed(-1002))),
            (E_TOO_MANY_CONNECTIONS, Some(bad(-1010))),
        ] {
            let verdict = login_answered(code, told.clone());
            assert!(
                verdict.as_ref().is_err_and(|message| message.starts_with("[login_answer]")),
                "{code} told {told:?}: {verdict:?}"
            );
        }
    }

    #[test]
    fn a_closing_client_is_not_judged_on_a_login_answer() {
        let mut watch = ClientWatch::new(&ClientConfig::default());
        watch.closed(1);
        let answer =
            Response::AuthenticateErr { code: E_BAD_USERNAME_PASSWORD, message: "no".into() };
        watch.transport(5, &TransportEvent::Response(answer));
        assert_eq!(watch.check(|| 0), Ok(()));
    }

    #[test]
    fn a_timer_that_fires_and_stays_due_is_a_spin() {
        let mut watch = ClientWatch::new(&ClientConfig::default());
        watch.fired(100, Some(101));
        watch.fired(101, None);
        assert_eq!(watch.check(|| 0), Ok(()));
        watch.fired(200, Some(200));
        assert!(watch.check(|| 0).is_err_and(|message| message.starts_with("[timer_spin]")));
        watch.fired(300, Some(250));
        assert!(watch.check(|| 0).is_err_and(|message| message.starts_with("[timer_spin]")));
    }
}
