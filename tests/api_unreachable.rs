//! An endpoint that never answered (a typo, a host that does not exist) is
//! reported after a short retry budget, not after minutes; one that answered
//! earlier in the run keeps the whole budget, since its failures are more
//! likely an outage worth riding out.

mod support;

use htapsync::api::{Client, ClientConfig, Credentials};
use secrecy::SecretString;
use std::time::Duration;
use support::{EmulatorProcess, HTAP, PROJECT, TOKEN};

const NEVER_ANSWERED: &str = "the endpoint has not answered since htapsync started";

fn client(url: &str, budget: Duration) -> Client {
    let token = Credentials::Token(SecretString::from(TOKEN));
    let mut config = ClientConfig::new(url, PROJECT, token);
    config.retry_max_elapsed = budget;
    Client::new(config).expect("client")
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_endpoint_that_never_answered_is_reported_after_the_short_budget() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let client = client(&url, Duration::from_secs(120));
    let error = client.list_tasks(HTAP).await.expect_err("nothing listens");
    let shown = error.to_string();
    assert!(shown.contains(NEVER_ANSWERED), "{shown}");
    assert!(error.attempts > 1, "retried first: {shown}");
}

#[tokio::test]
async fn an_endpoint_that_answered_before_keeps_the_whole_budget() {
    let emulator = EmulatorProcess::start();
    let client = client(&emulator.url, Duration::from_secs(14));
    client.list_tasks(HTAP).await.expect("the emulator answers");
    drop(emulator);
    let error = client
        .list_tasks(HTAP)
        .await
        .expect_err("the emulator is gone");
    let shown = error.to_string();
    assert!(!shown.contains(NEVER_ANSWERED), "{shown}");
}
