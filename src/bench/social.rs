//! `social`: nickname-prefix search over a large directory, then friend
//! request → accept round trips per second.
//!
//! A directory of 100,000 users cannot be registered over the protocol in
//! reasonable time: argon2 makes every registration cost tens of
//! milliseconds of CPU, on purpose. So, like `pgbench -i`, the directory is
//! seeded first, in-process, into the data directory of a server that is not
//! running (`--seed-data-dir`): every account gets the bench password hashed
//! once, and a profile with a Chinese or Latin nickname, through the same
//! write path as the protocol's. Then the server is started on it and the
//! scenario runs against it over the network.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::{histogram, Report};
use super::{concurrently, Bench};
use crate::client::{Client, ClientError};
use crate::protocol::{
    AddFriendRequest, AnswerFriendRequest, Profile, RemoveFriendRequest, SearchUsersRequest, UserProfile,
};
use crate::service::{account, social, Outcome, Services};

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀", "霞", "平",
    "刚",
];
const FIRST: [&str; 20] = [
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack", "Karl", "Lena", "Max", "Nora",
    "Oscar", "Paul", "Quinn", "Rosa", "Sam", "Tina",
];

/// Tokens created per batch of the seeding.
const SEED_BATCH: usize = 2_000;

/// The nickname of seeded user `i`: one in three Chinese (surname and two
/// given characters), the others a Latin first name and a number.
fn nickname(i: usize) -> String {
    if i.is_multiple_of(3) {
        let j = i / 3;
        format!("{}{}{}", SURNAMES[j % 10], GIVEN[(j / 10) % 20], GIVEN[(j / 200) % 20])
    } else {
        format!("{} {}", FIRST[i % 20], i / 20)
    }
}

/// The search queries, cycled: one to three leading characters of nicknames.
fn query(i: usize) -> String {
    let name = nickname(i.wrapping_mul(7919) % 100_000);
    name.chars().take(1 + i % 3).collect()
}

fn username(prefix: &str, i: usize) -> String {
    format!("{prefix}-u-{i}")
}

/// Seeds `users` accounts with profiles into `data_dir` (no server may be
/// running on it).
pub(super) async fn seed(data_dir: &Path, prefix: &str, users: usize) -> Result<Report, String> {
    let (created, seconds, _) =
        super::seed_directory(data_dir, |services| async move { seed_into(&services, prefix, users).await }).await?;
    let mut report = Report::new("social-seed", "");
    report.seconds = seconds;
    report
        .count("users requested", users as u64)
        .count("users created", created as u64)
        .rate("users seeded", created as f64 / seconds.max(1e-9));
    Ok(report)
}

async fn seed_into(services: &Arc<Services>, prefix: &str, users: usize) -> Result<usize, String> {
    let bar = super::progress(users as u64, "seeding");
    let mut created = 0;
    for start in (0..users).step_by(SEED_BATCH) {
        let names: Vec<String> = (start..(start + SEED_BATCH).min(users)).map(|i| username(prefix, i)).collect();
        let accounts =
            account::seed_users(services, names, super::accounts::PASSWORD).await.map_err(|e| e.to_string())?;
        let mut pending = Vec::with_capacity(accounts.len());
        for (name, user_id) in accounts {
            let index: usize = name.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or_default();
            let profile = Profile { nickname: nickname(index), ..Profile::default() };
            match social::save_profile(services, UserProfile { user_id, username: name, profile }, None).await {
                Ok(Outcome::Later(done)) => pending.push(done),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        for done in pending {
            done.await.map_err(|e| e.to_string())?;
            created += 1;
        }
        bar.set_position((start + SEED_BATCH).min(users) as u64);
    }
    bar.finish_and_clear();
    Ok(created)
}

/// Runs the scenario against a server on a seeded directory.
pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let prefix = &args.prefix;
    let (searcher, _) = accounts.connect(server, &username(prefix, 0), 0).await?;
    let pairs = concurrently((0..args.pairs).collect(), args.concurrency, "connecting", |k| async move {
        let (a, _) = accounts.connect(server, &username(prefix, 1 + 2 * k), 0).await?;
        let (b, b_account) = accounts.connect(server, &username(prefix, 2 + 2 * k), 0).await?;
        Ok::<_, ClientError>((a, b, b_account.user_id))
    })
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;

    b.probe.start();
    // One searcher, one search at a time: the latency of a search on a
    // server under no other load.
    let mut search_latency = histogram();
    let (mut found, mut search_errors) = (0u64, 0u64);
    let searches_started = Instant::now();
    for i in 0..args.searches {
        let request = SearchUsersRequest { query: query(i), cursor: Vec::new(), limit: 20 };
        let t = Instant::now();
        match searcher.call(&request).await {
            Ok(page) => {
                let _ = search_latency.record((t.elapsed().as_micros() as u64).max(1));
                found += page.users.len() as u64;
            }
            Err(_) => search_errors += 1,
        }
    }
    let search_time = searches_started.elapsed();

    // Pairs befriending each other over and over: request, accept, remove.
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let friends_started = Instant::now();
    let runs = pairs.iter().map(|(a, b, b_id)| befriend_until(a, b, *b_id, deadline));
    let results = futures_util::future::join_all(runs).await;
    let friend_time = friends_started.elapsed();
    let mut round_trip = histogram();
    let mut friend_errors = 0u64;
    for (latencies, errors) in results {
        for l in latencies {
            let _ = round_trip.record(l.max(1));
        }
        friend_errors += errors;
    }

    let mut report = Report::new("social", "");
    report.seconds = (search_time + friend_time).as_secs_f64();
    report
        .count("searches", search_latency.len())
        .count("users found", found)
        .count("search errors", search_errors)
        .count("pairs", pairs.len() as u64)
        .count("request -> accept round trips", round_trip.len())
        .count("friend errors", friend_errors)
        .rate("searches (one at a time)", search_latency.len() as f64 / search_time.as_secs_f64())
        .rate("request -> accept round trips", round_trip.len() as f64 / friend_time.as_secs_f64())
        .latency("search", &search_latency)
        .latency("request -> accept", &round_trip);
    Ok(report)
}

/// Until `deadline`: `a` asks `b`, `b` accepts (timed, in microseconds), `a`
/// removes `b` again. Returns the round trips and the errors.
async fn befriend_until(a: &Client, b: &Client, b_id: u64, deadline: Instant) -> (Vec<u64>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while Instant::now() < deadline {
        let t = Instant::now();
        let asked = match a.call(&AddFriendRequest { user_id: b_id, message: String::new() }).await {
            Ok(asked) => asked,
            Err(_) => {
                errors += 1;
                // Friends from an interrupted earlier run: start over.
                let _ = a.call(&RemoveFriendRequest { user_id: b_id }).await;
                continue;
            }
        };
        if b.call(&AnswerFriendRequest { request_id: asked.id, accept: true }).await.is_err() {
            errors += 1;
            continue;
        }
        latencies.push(t.elapsed().as_micros() as u64);
        if a.call(&RemoveFriendRequest { user_id: b_id }).await.is_err() {
            errors += 1;
        }
    }
    (latencies, errors)
}
