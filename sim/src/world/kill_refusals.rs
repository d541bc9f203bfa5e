//! The oracle on meta's refusals of a KILL QUERY (`QueryKillResult::QueryNotFound`, NebulaGraph
//! -2073 "ExecutionPlanId[p] does not exist in Session[s]."): meta refuses the kill of a plan no
//! holder of its session reported, and a wrongly refused kill is a query that outlives an
//! admin's kill.
//!
//! Judged from the world's ground truth, not from meta's own check: each node's request that
//! carries a query report travels with the long queries its executor ran as the node built it
//! (`Send::ToMeta`). When meta answers such a request (an `Answer::Reply`: meta admitted it, and
//! an admitted report replaces the node's list at meta), that set becomes the node's report at
//! meta; a request that starts a reload drops it first (meta forgets a restarted node's list),
//! and a refused request changes nothing. A duplicated or reordered request is judged by the
//! answer meta gives it (a stale one is refused), and a lost one never reaches meta, so the
//! record follows exactly the report meta holds. When meta answers `QueryNotFound` for query
//! `K`, it is wrong if `K` runs now (not stopped by a kill) on a node meta lists as a holder of
//! its session, and ran when that node built the report meta holds, unless that report was cut
//! at `reported_queries_max` (it may leave `K` out). `K` ran throughout: plan ids are never
//! reused, and a restarted node's executor starts empty.
//!
//! A silent holder (past `holder_silence_ms`) is judged like any other: meta's check reads every
//! holder's list, and a silent node's list stays at meta until its next report or reload. A meta
//! crash changes nothing here: the new leader restores the old one's state, lists included.
//!
//! Not judged: a plan started after the held report was built (meta's view is legitimately
//! that stale, by up to a sync interval; a report lost or never re-sent is not caught here), a
//! node meta does not list as a holder after the request (meta asks only holders), and a cut
//! report.

use graphsession_core::cluster::{Answer, QueryKillResult, Request, RequestId};
use graphsession_query_plan::QueryKey;

use crate::world::{Checked, ClusterConfig, ClusterWorld};

/// The report meta holds for one node, as the world saw the node build it.
#[derive(Debug, Clone)]
pub(super) struct HeldReport {
    /// The request that carried it.
    id: RequestId,
    /// The long queries the node's executor ran then, by key.
    running: Vec<QueryKey>,
    /// Whether the list was at `reported_queries_max` (cut, or may have been).
    cut: bool,
}

/// What one request to meta tells this oracle, read before meta takes it.
pub(super) struct SentReport {
    /// Whether it starts a reload (meta drops the node's list before anything else).
    reload_start: bool,
    /// The report it carries, if any.
    report: Option<HeldReport>,
}

/// The oracle's memory: the report meta holds for each node, by node index.
#[derive(Debug, Clone)]
pub(super) struct KillRefusals {
    held: Vec<Option<HeldReport>>,
    reported_queries_max: usize,
}

impl KillRefusals {
    /// No report held for any node of a world of `config`.
    pub(super) fn new(config: &ClusterConfig) -> KillRefusals {
        let reported_queries_max = super::node::sync_config(config).reported_queries_max;
        KillRefusals {
            held: vec![None; usize::from(config.nodes)],
            reported_queries_max: usize::try_from(reported_queries_max).unwrap_or(usize::MAX),
        }
    }

    /// What `request` would change in meta's lists if admitted; `running` is what the node's
    /// executor ran as it built the request (`Some` exactly when it carries a report).
    pub(super) fn sent(&self, request: &Request, running: Option<Vec<QueryKey>>) -> SentReport {
        let reload_start = request.reload.is_some_and(|from| from.after.is_none());
        let report = match (&request.queries, running) {
            (Some(list), Some(running)) => Some(HeldReport {
                id: request.id,
                running,
                cut: list.len() >= self.reported_queries_max,
            }),
            // A report whose executor state was not seen (none today): nothing to judge by.
            (Some(_), None) => Some(HeldReport { id: request.id, running: Vec::new(), cut: true }),
            (None, _) => None,
        };
        SentReport { reload_start, report }
    }
}

impl ClusterWorld {
    /// Meta answered `answer` to node `index`'s request described by `sent`: records the report
    /// meta now holds, then judges each `QueryNotFound` in the answer.
    pub(super) fn judge_kill_refusals(
        &mut self,
        index: usize,
        sent: SentReport,
        answer: &Answer,
    ) -> Checked {
        let Answer::Reply(reply) = answer else { return Ok(()) };
        if let Some(held) = self.kill_refusals.held.get_mut(index) {
            if sent.reload_start {
                *held = None;
            }
            if let Some(report) = sent.report {
                *held = Some(report);
            }
        }
        for &(key, result) in &reply.query_kills {
            if result != QueryKillResult::QueryNotFound {
                continue;
            }
            self.marks.hit(crate::world::Mark::KillQueryNotFound);
            self.judge_refusal(index, key)?;
        }
        Ok(())
    }

    /// Meta refused to kill `key` for node `from`: no holder may run it since before the report
    /// meta holds for it.
    fn judge_refusal(&mut self, from: usize, key: QueryKey) -> Checked {
        let holders = self.meta.holders(key.session);
        for (index, node) in self.nodes.iter().enumerate() {
            let runs =
                (node.running.iter()).any(|query| query.key == key && query.handle.check().is_ok());
            if !runs || !holders.iter().any(|holder| holder.node == node.id) {
                continue;
            }
            let Some(Some(report)) = self.kill_refusals.held.get(index) else { continue };
            if !report.cut && report.running.binary_search(&key).is_ok() {
                return Err(format!(
                    "[query_kill_refused] meta refused KILL QUERY {key:?} from node {from} as \
                     -2073 (QueryNotFound); expected it recorded: node {index}, a holder of its \
                     session, runs it, and ran it already when it built the query report meta \
                     holds (request {:?}, {} long queries running, not cut)",
                    report.id,
                    report.running.len()
                ));
            }
        }
        Ok(())
    }
}
