//! Account deletion: the `DeleteAccount` action and `kith user delete`.
//!
//! Deleting is one job in the account domain (record, tokens and devices
//! go; the id is recorded as deleted, so from then on it exists for no
//! check on any write path) — that is what the reply acknowledges. What
//! the account left elsewhere is then erased domain by domain, each in
//! jobs of bounded size, in an order where no step writes what an earlier
//! one erased: the social graph (former friends hear of it), the groups
//! (a group passes to an heir or ends; members see the account leave), its
//! card in the notices others hold, the conversations, the update log,
//! unfinished uploads and the quota's counters, the idempotency index;
//! last, the account is marked erased. Every step is idempotent, so a
//! crash anywhere leaves a state the next start finishes ([`resume`]).
//!
//! Kept: the messages the account sent, in the conversations others still
//! read (under its id, which no longer names a user), and the files those
//! messages carry (the sweep deletes them once no message does); the
//! notices already in others' update logs stay, showing the id alone —
//! see PROTOCOL's `DeleteAccount`.
//!
//! Uses: account, social, group, conversation, update, media, message.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::{
    account, conversation, group, media, message, moment, social, update, Call, Outcome, Router, ServiceResult,
    Services, Tx,
};
use crate::protocol::{DeleteAccountRequest, DisconnectReason};

/// Registers the `DeleteAccount` handler.
pub(super) fn routes(router: &mut Router) {
    router.add(delete_account);
}

async fn delete_account(call: Call, req: DeleteAccountRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.clone();
    let checked = account::verify_password(&call.services, &me, call.peer.ip(), &req.password).await?;
    account::delete(&call.services, me.user_id, Some(checked), Some(call.session_id)).await?;
    let services = call.services.clone();
    tokio::spawn(async move { finish(&services, me.user_id).await });
    Ok(Outcome::Close((), DisconnectReason::AccountDeleted))
}

/// Deletes an account for the operator and erases what it left before
/// returning.
pub(crate) async fn delete_now(services: &Arc<Services>, user_id: u64) -> ServiceResult<()> {
    account::delete(services, user_id, None, None).await?;
    erase(services, user_id).await
}

/// Finishes the erasure of every account deleted before a crash or stop,
/// until `shutdown`.
pub(crate) async fn resume(services: Arc<Services>, shutdown: CancellationToken) {
    let users = match account::unerased(&services).await {
        Ok(users) => users,
        Err(e) => return tracing::error!(error = %e, "cannot list the accounts left to erase"),
    };
    for user in users {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = finish(&services, user) => {}
        }
    }
}

/// Erases, logging the outcome: a failure is finished at the next start.
async fn finish(services: &Arc<Services>, user: u64) {
    match erase(services, user).await {
        Ok(()) => tracing::info!(user, "deleted account erased"),
        Err(e) => tracing::warn!(user, error = %e, "erasure of a deleted account stopped; the next start resumes it"),
    }
}

/// Erases what a deleted account left, domain by domain. A large account
/// is erased in many jobs of at most `storage.erase_batch` rows, which take
/// turns with everyone's writes.
async fn erase(services: &Arc<Services>, user: u64) -> ServiceResult<()> {
    let most = services.config.storage.erase_batch;
    until_done(services, move |tx, _| moment::erase(tx, user, most)).await?;
    until_done(services, move |tx, _| social::erase(tx, user, most)).await?;
    until_done(services, move |tx, s| group::erase(tx, &s.config.group, user)).await?;
    let next = Arc::new(AtomicU64::new(0));
    until_done(services, move |tx, _| Ok(group::forget(tx, user, &next, most)?)).await?;
    let walked = Arc::new(Mutex::new((0, 0)));
    until_done(services, move |tx, _| Ok(update::forget_cards(tx, user, &walked, most)?)).await?;
    until_done(services, move |tx, s| conversation::erase(tx, user, most, |peer| !s.accounts.user_exists(peer)))
        .await?;
    until_done(services, move |tx, _| Ok(update::erase(tx, user, most)?)).await?;
    until_done(services, move |tx, _| Ok(media::erase(tx, user, most)?)).await?;
    until_done(services, move |tx, _| Ok(message::erase_sent(tx, user, most)?)).await?;
    services.committer.run(move |tx| account::erased(tx, user)).await
}

/// Runs `step` in one job after another until it says nothing is left.
async fn until_done(
    services: &Arc<Services>,
    step: impl Fn(&mut Tx<'_>, &Services) -> ServiceResult<bool> + Clone + Send + 'static,
) -> ServiceResult<()> {
    loop {
        let (step, shared) = (step.clone(), services.clone());
        if services.committer.run(move |tx| step(tx, &shared)).await? {
            return Ok(());
        }
    }
}
