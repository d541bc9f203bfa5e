//! Logins and their limits as NebulaGraph words them on the wire: a bad password (-1001), the
//! lockout ("Invalid password, remaining attempts: N", then locked), the per-(user, ip) limit
//! (-1002), `--max_allowed_connections` for sessions (-1010) and for open connections.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use support::{Client, Graphd, config, fresh_dir, text, within};

async fn login_error(client: &mut Client, user: &str, password: &str) -> (i32, String) {
    let reply = client.authenticate(user, password).await;
    (reply.error_code.0, text(reply.error_msg.as_deref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_is_refused_and_repeated_ones_lock_the_user() {
    within(30, async {
        let test_dir = fresh_dir("lockout");
        let mut config = config(&test_dir);
        config.enable_authorize = true;
        config.failed_login_attempts = 2;
        config.password_lock_time_in_secs = 60;
        let graphd = Graphd::start(config).await;
        let mut client = Client::python(graphd.addr()).await;
        assert_eq!(login_error(&mut client, "nobody", "x").await, (-1001, "User not exist".into()));
        let first = login_error(&mut client, "root", "wrong").await;
        assert_eq!(first, (-1001, "Invalid password, remaining attempts: 1".to_owned()));
        let second = login_error(&mut client, "root", "wrong").await;
        assert_eq!(second.0, -1001);
        assert!(
            second.1.starts_with("2 times consecutive incorrect passwords has been input, user name: root has been locked"),
            "{}",
            second.1
        );
        // Locked: even the right password is refused, over another framing too.
        let mut other = Client::node_js(graphd.addr()).await;
        let locked = login_error(&mut other, "root", "nebula").await;
        assert_eq!(locked.0, -1001, "{}", locked.1);
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_enable_authorize_any_password_logs_in_as_in_nebulagraph() {
    within(30, async {
        let graphd = Graphd::fresh("no-auth").await;
        let mut client = Client::python(graphd.addr()).await;
        client.login("root", "not the password").await;
        let unknown = login_error(&mut client, "nobody", "x").await;
        assert_eq!(unknown, (-1002, "Create session failed: User not existed!".into()));
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_ip_limit_refuses_with_nebulagraphs_message() {
    within(30, async {
        let test_dir = fresh_dir("user-ip");
        let mut config = config(&test_dir);
        config.max_sessions_per_ip_per_user = 2;
        let graphd = Graphd::start(config).await;
        let mut client = Client::python(graphd.addr()).await;
        let first = client.login("root", "nebula").await;
        client.login("root", "nebula").await;
        let (code, message) = login_error(&mut client, "root", "nebula").await;
        assert_eq!(code, -1002);
        assert_eq!(
            message,
            "Create Session failed: Too many sessions created from 127.0.0.1 by user root. the \
             threshold is 2. You can change it by modifying 'max_sessions_per_ip_per_user' in \
             nebula-graphd.conf"
        );
        // A sign-out frees a place.
        client.send(&support::ClientCall::SignOut { session_id: first }).await;
        client.login("root", "nebula").await;
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_allowed_connections_caps_sessions_and_open_connections() {
    within(30, async {
        let test_dir = fresh_dir("max-conn");
        let mut config = config(&test_dir);
        config.max_allowed_connections = 2;
        let graphd = Graphd::start(config).await;
        let mut first = Client::python(graphd.addr()).await;
        first.login("root", "nebula").await;
        first.login("root", "nebula").await;
        assert_eq!(
            login_error(&mut first, "root", "nebula").await,
            (-1010, "Too many connections in the cluster".into())
        );
        let mut second = Client::node_js(graphd.addr()).await;
        assert_eq!(second.verify("3.0.0").await.0, 0);
        let mut third = Client::python(graphd.addr()).await;
        assert!(third.closed_within(Duration::from_secs(5)).await, "a third connection is closed");
        // The first two are untouched.
        assert_eq!(first.verify("3.0.0").await.0, 0);
        drop(second);
        // A closed connection frees its place (the server notices the close first).
        let mut fourth = None;
        for _ in 0..100 {
            let mut client = Client::python(graphd.addr()).await;
            if !client.closed_within(Duration::from_millis(50)).await {
                fourth = Some(client);
                break;
            }
        }
        assert_eq!(fourth.expect("a place came free").verify("3.0.0").await.0, 0);
        graphd.stop().await;
    })
    .await;
}
