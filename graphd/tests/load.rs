//! The load generator against graphd and against its floor, briefly: every RPC of every
//! session is counted with its latency, nothing fails, graphd is left with no session, and the
//! floor answers the same frames without the kernel (its ids are a counter, and nothing it
//! "holds" can be listed: SHOW SESSIONS is an empty success).
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use graphsession_graphd::load::{
    self, Connection, Flavour, Options, Report, Rpc, Tally, median_ratio_table,
};
use graphsession_graphd::server::start_floor;

use support::{Graphd, config, fresh_dir, within};

const RUN: Duration = Duration::from_millis(600);
const CONNECTIONS: u64 = 4;
#[expect(clippy::cast_possible_truncation, reason = "4")]
const CONNECTIONS_USIZE: usize = CONNECTIONS as usize;

fn check(report: &load::Report) {
    let rows = report.rows();
    assert_eq!(rows.iter().map(|row| row.rpc).collect::<Vec<_>>(), Rpc::ALL);
    let sessions = report.tally.sessions;
    assert!(sessions > 0, "{}", report.table());
    // Three executes per session, but a worker's last session stops executing at the deadline
    // (after its first execute) and signs out.
    let calls: Vec<u64> = rows.iter().map(|row| row.calls).collect();
    assert_eq!((calls[0], calls[2]), (sessions, sessions), "{}", report.table());
    let executes = (3 * sessions).saturating_sub(2 * CONNECTIONS)..=3 * sessions;
    assert!(executes.contains(&calls[1]), "{}", report.table());
    for row in &rows {
        assert!(0 < row.p50_us && row.p50_us <= row.p99_us && row.p99_us <= row.max_us);
    }
    assert_eq!((report.tally.errors, report.tally.failovers), (0, 0), "{}", report.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphd_under_load_counts_every_call_and_keeps_no_session() {
    within(30, async {
        let graphd = Graphd::fresh("load").await;
        let options = Options {
            executes_per_session: 3,
            ..Options::new(graphd.addrs.clone(), CONNECTIONS_USIZE, RUN)
        };
        let report = load::run(options, "graphd".to_owned()).await;
        check(&report);
        let census = graphd.server().census().await.unwrap();
        assert_eq!((census.meta, census.nodes), (0, vec![0]));
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_answers_the_same_frames_without_the_kernel() {
    within(30, async {
        let test_dir = fresh_dir("floor");
        let floor = start_floor(config(&test_dir)).await.unwrap();
        let addrs = floor.addrs().to_vec();
        let options = Options {
            executes_per_session: 3,
            flavour: Flavour::Node,
            ..Options::new(addrs.clone(), CONNECTIONS_USIZE, RUN)
        };
        let report = load::run(options, "floor".to_owned()).await;
        check(&report);
        let mut client =
            Connection::connect(addrs[0], Flavour::Python, support::REPLY_WAIT).await.unwrap();
        let first = client.authenticate("anyone", "anything").await.unwrap();
        let second = client.authenticate("anyone", "anything").await.unwrap();
        assert_eq!(second, first + 1, "a counter");
        assert_eq!(client.execute(first, "SHOW SESSIONS").await.unwrap(), 0, "no kernel");
        assert!(floor.census().await.is_err(), "the floor has no meta store to count");
        floor.shutdown().await.unwrap();
    })
    .await;
}

#[test]
fn the_median_ratio_is_the_middle_pairs() {
    let report = |calls: u64, micros: u64| {
        let mut tally = Tally::default();
        for _ in 0..calls {
            for rpc in Rpc::ALL {
                tally.record(rpc, Duration::from_micros(micros));
            }
        }
        Report { title: String::new(), elapsed: Duration::from_secs(1), tally }
    };
    let pairs = vec![
        (report(50, 20), report(100, 10)),
        (report(90, 10), report(100, 10)),
        (report(70, 30), report(100, 10)),
    ];
    let table = median_ratio_table(&pairs);
    // calls/s ratios 0.5, 0.9, 0.7: median 0.7; p50 ratios 2, 1, 3: median 2.
    let execute = table.lines().find(|line| line.starts_with("execute")).unwrap();
    let cells: Vec<&str> = execute.split_whitespace().collect();
    assert_eq!(cells, ["execute", "0.70x", "(0.50-0.90)", "2.00x", "2.00x"], "{table}");
}
