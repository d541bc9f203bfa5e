//! The actor's duties between a node and the rest: a request fed to its node (a script one
//! statement at a time), and every output of every node carried out in order until none is left.

use std::collections::VecDeque;

use graphsession_core::client::ConnectionId;
use graphsession_core::node::{DataSet, Output, Reply, Request, SessionStatement, Statement};
use graphsession_permission::{PermissionError, Statement as PermissionStatement, check_statement};
use graphsession_query_plan::QueryKey;
use tokio::sync::oneshot;

use crate::actor::pipe::{self, Applied, PipeRun};
use crate::actor::{Actor, Incoming, NodeIndex, Waiting, changes_catalog};
use crate::executor::{self, Outcome};
use crate::logging::log;
use crate::parser::{Parsed, Piece, parse_script};

impl Actor {
    /// A request arrives: an execute's text is parsed here, and its first statement fed to the
    /// node; the rest of a script waits for the first one's success (see [`Self::replied`]).
    pub(crate) fn request(
        &mut self,
        now: u64,
        node: NodeIndex,
        connection: ConnectionId,
        incoming: Incoming,
        reply: Option<oneshot::Sender<Reply>>,
    ) {
        if node >= self.nodes.len() {
            return;
        }
        let request = match incoming {
            Incoming::Node(request) => {
                if let Some(reply) = reply {
                    let waiting = Waiting {
                        reply,
                        session_id: 0,
                        rest: VecDeque::new(),
                        parameters: Default::default(),
                        pipe: None,
                    };
                    self.waiting.insert((node, connection), waiting);
                }
                request
            }
            Incoming::Execute { session_id, text, parameters } => {
                // A script that cannot run at all still goes to the node as one query: the
                // session is checked first (-1002), and the executor answers the refusal.
                let mut rest = match parse_script(&text) {
                    Ok(pieces) => VecDeque::from(pieces),
                    Err(_) => VecDeque::new(),
                };
                let first = rest.pop_front();
                let changes = first.as_ref().is_some_and(|piece| changes_catalog(&piece.parsed));
                let (statement, pipe) = match first {
                    Some(first) => self.statement_for(first),
                    None => (Statement::Query { text }, None),
                };
                if let Some(reply) = reply {
                    let waiting = Waiting { reply, session_id, rest, parameters, pipe };
                    self.waiting.insert((node, connection), waiting);
                }
                return self.feed(now, (node, connection), (session_id, statement), changes);
            }
        };
        self.nodes[node].node.handle_request(now, connection, request, &mut self.roles);
    }

    /// The node's statement for one piece of a script: a session statement goes to the node as
    /// such, unless it names a space that does not exist (the executor answers that, before the
    /// permission check, as NebulaGraph does); everything else runs on the executor. A pipe's
    /// source goes the same way, and its stages wait for the source's rows (`pipe.rs`).
    fn statement_for(&self, piece: Piece) -> (Statement, Option<PipeRun>) {
        let space = match &piece.parsed {
            Parsed::Session(
                SessionStatement::Use { space }
                | SessionStatement::Grant { space, .. }
                | SessionStatement::Revoke { space, .. },
            ) => Some(space.as_str()),
            Parsed::Session(_) | Parsed::Exec(_) | Parsed::Pipe(_) => None,
        };
        let statement = match piece.parsed {
            Parsed::Pipe(pipeline) => {
                let source = Piece { text: pipeline.source_text, parsed: *pipeline.source };
                let (statement, _) = self.statement_for(source);
                return (statement, Some(PipeRun::AwaitingSource { stages: pipeline.stages }));
            }
            Parsed::Session(statement)
                if space.is_none_or(|space| self.catalog.contains(space)) =>
            {
                Statement::Session(statement)
            }
            Parsed::Session(_) | Parsed::Exec(_) => Statement::Query { text: piece.text },
        };
        (statement, None)
    }

    /// Carries out every node's outputs, oldest first, until none is left (carrying one out may
    /// give a node more: meta's answer, the next statement of a script, a finished query).
    pub(crate) fn drain(&mut self, now: u64) {
        loop {
            let mut carried = false;
            for index in 0..self.nodes.len() {
                while let Some(output) = self.nodes[index].node.poll_output() {
                    carried = true;
                    self.carry_out(now, index, output);
                }
            }
            if !carried {
                return;
            }
        }
    }

    fn carry_out(&mut self, now: u64, index: NodeIndex, output: Output) {
        if let Some(recorder) = &self.recorder {
            recorder.output(now, self.nodes[index].node.node_id().0, &output);
        }
        match output {
            Output::Reply { connection, reply } => self.replied(now, index, connection, reply),
            Output::ToMeta(request) => {
                let node_id = self.nodes[index].node.node_id();
                if let Some(answer) = self.meta.request(now, node_id, request) {
                    self.nodes[index].node.handle_answer(now, answer, &mut self.roles);
                }
            }
            Output::Run { connection, query, statement } => {
                let key = QueryKey { session: query.session, plan: query.plan };
                let parameters = self.waiting.get(&(index, connection)).map(|w| &w.parameters);
                let parameters = parameters.cloned().unwrap_or_default();
                match executor::run(self, index, query, &statement, &parameters) {
                    Outcome::Later => self.turn_executing(index, connection, key),
                    Outcome::Done(Ok(data)) => {
                        self.nodes[index].node.finish_query(now, key, data, &mut self.roles);
                    }
                    Outcome::Done(Err((code, message))) => {
                        let node = &mut self.nodes[index].node;
                        node.fail_query(now, key, code, &message, &mut self.roles);
                    }
                }
            }
            Output::SetPassword { user, password } => {
                if let Err(error) = self.passwords.set(&user, &password.0) {
                    log!("the password of {user:?} was not stored: {error:#}");
                }
            }
            Output::ForgetPassword { user } => {
                if let Err(error) = self.passwords.forget(&user) {
                    log!("the password of {user:?} was not forgotten: {error:#}");
                }
            }
            Output::Event(event) => {
                if self.verbose {
                    log!("node {}: {event:?}", index + 1);
                }
            }
        }
    }

    /// The node answered a request on `connection`: a pipe's stages run on it first; then the
    /// next statement of its script goes to the node after a success; otherwise the reply goes
    /// to the connection. A reply nobody waits for (the connection closed) is dropped, never
    /// redirected.
    fn replied(&mut self, now: u64, index: NodeIndex, connection: ConnectionId, reply: Reply) {
        if let Some(reply) = self.hold_turn_reply(index, connection, reply) {
            self.deliver(now, index, connection, reply);
        }
    }

    /// A reply goes on: through a pipe's stages, to the script's next statement, or to the
    /// connection (on etcd, a catalog change's reply comes here once the change is written).
    pub(crate) fn deliver(
        &mut self,
        now: u64,
        index: NodeIndex,
        connection: ConnectionId,
        reply: Reply,
    ) {
        let Some(reply) = self.piped(now, index, connection, reply) else { return };
        let key = (index, connection);
        let next = match (self.waiting.get_mut(&key), &reply) {
            (Some(waiting), Reply::Executed { .. }) => waiting.rest.pop_front(),
            _ => None,
        };
        if let Some(piece) = next {
            let changes = changes_catalog(&piece.parsed);
            let (statement, pipe) = self.statement_for(piece);
            if let Some(waiting) = self.waiting.get_mut(&key) {
                waiting.pipe = pipe;
                let session_id = waiting.session_id;
                self.feed(now, key, (session_id, statement), changes);
            }
            return;
        }
        if let Some(waiting) = self.waiting.remove(&key) {
            let _delivered = waiting.reply.send(reply);
        }
    }

    /// The pipe's own check for session `session_id` on node `index` (NebulaGraph's `kPipe`);
    /// a session gone meanwhile is left to the stages, which reach the node and hear it there.
    fn pipe_permitted(&self, index: NodeIndex, session_id: i64) -> Result<(), PermissionError> {
        let registry = self.nodes[index].node.registry();
        match registry.session_caller(session_id, &self.roles) {
            Some(caller) => check_statement(&caller, self.policy, &PermissionStatement::Pipe),
            None => Ok(()),
        }
    }

    /// A reply to a pipe's source or to one of its kills: the stages run on the source's rows,
    /// the kills go to the node one at a time. `None` while the pipe waits for a kill's reply;
    /// else the reply the statement ends with (any failure ends the pipe with it).
    fn piped(
        &mut self,
        now: u64,
        index: NodeIndex,
        connection: ConnectionId,
        reply: Reply,
    ) -> Option<Reply> {
        let waiting = self.waiting.get_mut(&(index, connection))?;
        let Some(run) = waiting.pipe.take() else { return Some(reply) };
        let Reply::Executed { space_name, data, plan_id } = reply else { return Some(reply) };
        let session_id = waiting.session_id;
        let mut rest = match run {
            PipeRun::AwaitingSource { stages } => {
                // NebulaGraph checks the pipe itself (`kPipe`: read schema or data) after its
                // source's own check and before anything of it runs. The source here (SHOW
                // QUERIES or SESSIONS) only reads, so checking once its rows are back is the same
                // to the client, and no stage or kill runs before it.
                if let Err(error) = self.pipe_permitted(index, session_id) {
                    let (code, message) = (error.code(), error.to_string());
                    return Some(Reply::ExecuteFailed { code, message, space_name });
                }
                let data = data.unwrap_or_else(|| DataSet::with_columns(&[]));
                match pipe::apply(&stages, data) {
                    Ok(Applied::Rows(rows)) => {
                        return Some(Reply::Executed { space_name, data: Some(rows), plan_id });
                    }
                    Ok(Applied::Kill(targets)) => targets,
                    Err((code, message)) => {
                        return Some(Reply::ExecuteFailed { code, message, space_name });
                    }
                }
            }
            PipeRun::AwaitingKill { rest } => rest,
        };
        let Some(target) = rest.pop_front() else {
            return Some(Reply::Executed { space_name, data: None, plan_id });
        };
        let waiting = self.waiting.get_mut(&(index, connection))?;
        waiting.pipe = Some(PipeRun::AwaitingKill { rest });
        let statement = Statement::Session(SessionStatement::KillQuery { target });
        let request = Request::Execute { session_id, statement };
        self.nodes[index].node.handle_request(now, connection, request, &mut self.roles);
        None
    }
}
