//! `login`: password logins per second, then token authentications per
//! second, each on a fresh connection (handshake included).

use std::time::Instant;

use super::report::{histogram, Report};
use super::{concurrently, past_throttle, Bench};
use crate::client::ClientError;
use crate::protocol::{ClientType, DeviceInfo, ErrorCode};

const USERS: usize = 16;

/// Runs the scenario.
pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server) = (b.args, &b.server);
    let prefix = &args.prefix;
    let name = |i: usize| format!("{prefix}-login-{}", i % USERS);
    for i in 0..USERS.min(args.logins) {
        let client = server.connect().await?;
        let username = name(i);
        match past_throttle(|| client.register(&username, super::accounts::PASSWORD)).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(ErrorCode::Conflict) => {}
            Err(e) => return Err(e),
        }
    }

    b.probe.start();
    let started = Instant::now();
    let logins = concurrently((0..args.logins).collect(), args.concurrency, "logins", |i| async move {
        let t = Instant::now();
        let client = server.connect().await?;
        let device = DeviceInfo {
            device_id: format!("bench-login-{i}"),
            device_type: super::accounts::device_type(i / USERS),
            client_type: ClientType::Other,
        };
        let username = name(i);
        let login = past_throttle(|| client.login(&username, super::accounts::PASSWORD, device.clone())).await?;
        Ok::<_, ClientError>((login.token, t.elapsed()))
    })
    .await;
    let login_time = started.elapsed();
    let mut login_latency = histogram();
    let mut tokens = Vec::new();
    let mut errors = 0;
    for result in logins {
        match result {
            Ok((token, took)) => {
                let _ = login_latency.record((took.as_micros() as u64).max(1));
                tokens.push(token);
            }
            Err(_) => errors += 1,
        }
    }

    let started = Instant::now();
    let auths = concurrently(tokens, args.concurrency, "auths", |token| async move {
        let t = Instant::now();
        let client = server.connect().await?;
        client.auth(&token).await?;
        Ok::<_, ClientError>(t.elapsed())
    })
    .await;
    let auth_time = started.elapsed();
    let mut auth_latency = histogram();
    let mut auth_errors = 0;
    for result in &auths {
        match result {
            Ok(took) => {
                let _ = auth_latency.record((took.as_micros() as u64).max(1));
            }
            Err(_) => auth_errors += 1,
        }
    }

    let mut report = Report::new("login", "");
    report.seconds = (login_time + auth_time).as_secs_f64();
    report
        .count("password logins", login_latency.len())
        .count("login errors", errors)
        .count("token auths", auth_latency.len())
        .count("auth errors", auth_errors)
        .rate("password logins", login_latency.len() as f64 / login_time.as_secs_f64())
        .rate("token auths", auth_latency.len() as f64 / auth_time.as_secs_f64())
        .latency("connect + login", &login_latency)
        .latency("connect + auth", &auth_latency);
    Ok(report)
}
