//! A data directory filled in process with many stored 1:1 messages, as
//! `Send` stores them, so what a large database costs (memory after a
//! restart, disk, start-up time, reads) can be measured without sending
//! each message over the wire first:
//!
//! ```text
//! kith bench dm --seed-data-dir DIR --pairs 10000 --messages 10000000 --size 200 [--days 730]
//! ```
//!
//! With `--days`, the messages are dated evenly over that many days up to
//! now, as on a server that has run so long; the server then forgets what
//! it keeps only for a while (client message ids) at its first sweep.
//!
//! The pairs are the `dm` scenario's users (`{prefix}-s-i`, `{prefix}-r-i`,
//! the bench password), so `kith bench dm` can then drive light traffic
//! against the seeded server. The directory must be new: no server may run
//! on it.

use std::path::Path;
use std::sync::Arc;

use super::report::Report;
use super::BenchArgs;
use crate::service::{account, conversation, Services};

/// Messages per write job: large enough that a group commit carries many,
/// small enough that one job stays a bounded batch.
const JOB_MESSAGES: usize = 100;

/// Seeds `args.pairs` conversations with `args.messages` messages of
/// `args.size` bytes in all, then closes the database.
pub(super) async fn seed(data_dir: &Path, args: &BenchArgs) -> Result<Report, String> {
    let (messages, seconds, disk) =
        super::seed_directory(data_dir, |services| async move { seed_into(&services, args).await }).await?;
    let mut report = Report::new("dm-seed", "");
    report.seconds = seconds;
    report
        .count("conversations", args.pairs as u64)
        .count("messages stored", messages)
        .rate("messages seeded", messages as f64 / seconds.max(1e-9))
        .count("bytes on disk", disk)
        .count("bytes on disk per message", disk / messages.max(1));
    Ok(report)
}

async fn seed_into(services: &Arc<Services>, args: &BenchArgs) -> Result<u64, String> {
    let prefix = &args.prefix;
    let names = (0..args.pairs).flat_map(|i| [format!("{prefix}-s-{i}"), format!("{prefix}-r-{i}")]).collect();
    let users = account::seed_users(services, names, super::accounts::PASSWORD).await.map_err(|e| e.to_string())?;
    if users.len() != 2 * args.pairs {
        return Err(format!(
            "{} of the {} users exist already: seed a new directory",
            2 * args.pairs - users.len(),
            2 * args.pairs
        ));
    }
    let pairs: Vec<(u64, u64)> = users.chunks(2).map(|pair| (pair[0].1, pair[1].1)).collect();
    // Jobs go round the conversations, so each conversation's log grows
    // through the whole run, as it would over years of chat.
    let per_pair = args.messages / args.pairs.max(1);
    let jobs: Vec<((u64, u64), usize)> = (0..per_pair.div_ceil(JOB_MESSAGES))
        .flat_map(|round| {
            let count = JOB_MESSAGES.min(per_pair - round * JOB_MESSAGES);
            pairs.iter().map(move |pair| (*pair, count))
        })
        .collect();
    // One job at a time: the group commit then carries one job's messages,
    // and the process stays near 300 MiB. With 16 jobs in flight it seeded
    // more slowly and grew by about 4 KB per message stored.
    let bar = super::progress(jobs.len() as u64, "seeding");
    let now = crate::id::now_ms();
    let span_ms = args.days.saturating_mul(86_400_000).min(now);
    let total = jobs.len().max(1) as u64;
    let mut stored = 0;
    for (done, (pair, count)) in jobs.into_iter().enumerate() {
        // Job `done` of `total` is sent at that fraction of the span.
        let at = now - span_ms + (u128::from(span_ms) * done as u128 / u128::from(total)) as u64;
        let size = args.size;
        conversation::seed_direct(services, pair, count, move |id| chat_text(id, size), at)
            .await
            .map_err(|e| e.to_string())?;
        stored += count as u64;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(stored)
}

/// Words the seeded messages are made of: everyday chat, so that what
/// compresses (sealed blocks) compresses about as real text does, not as
/// one byte repeated would.
static WORDS: std::sync::LazyLock<Vec<&str>> = std::sync::LazyLock::new(|| {
    "hi hey ok okay yes no maybe sure thanks sorry lol haha I you we they it that this what when \
     where who how why is are was will can could would should do did have had get got go going come \
     see saw know think want need like love let me my your our the a an and but or so if then at in \
     on to for with from about just now later today tonight tomorrow yesterday morning evening week \
     weekend time home work school train bus car station shop dinner lunch coffee beer movie game \
     photo call message meeting party birthday mum dad Anna Tom Lena Sam great good bad late early \
     soon again still already really very too not all some one two three five ten minutes hours"
        .split_whitespace()
        .collect()
});

/// `size` bytes of chat-like text for message `id`: words drawn at random
/// (seeded by the id, so a run is repeatable), sentences of 3 to 12 words.
fn chat_text(id: u64, size: usize) -> Vec<u8> {
    let mut state = id;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut text = String::with_capacity(size + 16);
    while text.len() < size {
        let words = 3 + next() % 10;
        for w in 0..words {
            let word = WORDS[(next() % WORDS.len() as u64) as usize];
            if w == 0 {
                let mut chars = word.chars();
                text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                text.push_str(chars.as_str());
            } else {
                text.push(' ');
                text.push_str(word);
            }
        }
        text.push_str([". ", "? ", "! ", ", "][(next() % 4) as usize]);
    }
    text.truncate(size);
    text.into_bytes()
}
