//! The one rule for what a user may see of another's profile.
//!
//! Someone **related** to a user — themselves, a friend, someone the user
//! sent a friend request that still stands, a 1:1 conversation peer the
//! user has written to or read, a member of a group with them — may read
//! their profile. Each of these is the user's own doing or an admission
//! (a group), so a stranger cannot make themselves related by asking
//! first or by writing first. Anyone else may read it only if the
//! user is listed in search (`Discoverable::Everyone`); a hidden user is
//! "no such user" to strangers, so user ids, which count up from 1, list
//! nobody hidden. Strangers' lookups count against a per-user quota, found
//! or not; reading the avatar of a profile one may read counts none
//! ([`readable`]). Each personal field (birth date, city, province) is then shown
//! to everyone who may read the profile, to friends, or to nobody but the
//! owner, as the owner chose (`ProfileVisibility`).
//!
//! Groups sit above the social graph, so whether two users share one is
//! asked by the caller (`GetProfile`, in `service/profile.rs`) and handed in.

use super::check_visible;
use super::store::{self, Pair};
use crate::id::{id_time_ms, now_ms};
use crate::protocol::{Audience, Discoverable, FieldVisibility, Profile, Target};
use crate::service::message::records;
use crate::service::message::Conversation;
use crate::service::{ServiceError, ServiceResult, Services};
use crate::storage::{Get, StorageError};

/// What `viewer` may read of `user`'s profile, or why nothing (`NotFound`,
/// or `RateLimited` once a viewer's lookups of strangers run out);
/// `share_a_group` is asked only when nothing closer relates them.
pub(crate) fn shown(
    services: &Services,
    r: &impl Get,
    (viewer, user): (u64, u64),
    share_a_group: impl FnOnce() -> Result<bool, StorageError>,
) -> ServiceResult<Profile> {
    let relation = store::relation(r, Pair::of(viewer, user))?;
    let related = related(services, r, &relation, (viewer, user), share_a_group)?;
    if !related {
        services.profile_lookups.allow(viewer, 1, std::time::Instant::now())?;
    }
    admitted(services, r, (viewer, user), related)?;
    let mut profile = store::profile(r, user)?;
    let fields = store::field_visibility(r, user)?;
    let sees = |audience: Audience| match audience {
        Audience::Everyone => true,
        Audience::Friends => viewer == user || relation.friends_since.is_some(),
        Audience::Nobody => viewer == user,
    };
    redact(&mut profile, fields, sees);
    Ok(profile)
}

/// Whether `viewer` may read `user`'s profile, without counting a lookup:
/// for the avatar of a card the viewer already holds, fetched again each
/// time an image loader asks.
pub(crate) fn readable(
    services: &Services,
    r: &impl Get,
    (viewer, user): (u64, u64),
    share_a_group: impl FnOnce() -> Result<bool, StorageError>,
) -> Result<bool, StorageError> {
    let relation = store::relation(r, Pair::of(viewer, user))?;
    let related = related(services, r, &relation, (viewer, user), share_a_group)?;
    match admitted(services, r, (viewer, user), related) {
        Ok(()) => Ok(true),
        Err(ServiceError::Storage(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// Whether the two are related (the module's first rule).
fn related(
    services: &Services,
    r: &impl Get,
    relation: &store::Relation,
    (viewer, user): (u64, u64),
    share_a_group: impl FnOnce() -> Result<bool, StorageError>,
) -> Result<bool, StorageError> {
    let ttl = services.config().social.request_ttl_ms();
    let asked_by_them =
        relation.pending.is_some_and(|p| p.to == viewer && id_time_ms(p.id).saturating_add(ttl) > now_ms());
    Ok(viewer == user || relation.friends_since.is_some() || asked_by_them || {
        let direct = Conversation::of(viewer, Target::User(user));
        let engaged = records::head(r, direct)?.read_of(direct, user).is_some_and(|r| r.read > 0);
        engaged || share_a_group()?
    })
}

/// Refuses, as "no such user", a disabled or blocked user, and a hidden
/// one to a viewer not related to them.
fn admitted(services: &Services, r: &impl Get, (viewer, user): (u64, u64), related: bool) -> ServiceResult<()> {
    check_visible(services, r, viewer, user)?;
    if !related && store::privacy(r, user)?.discoverable != Discoverable::Everyone {
        return Err(ServiceError::not_found("no such user"));
    }
    Ok(())
}

/// Empties the personal fields `sees` refuses.
fn redact(profile: &mut Profile, fields: FieldVisibility, sees: impl Fn(Audience) -> bool) {
    if !sees(fields.birth_date) {
        profile.birth_date = None;
    }
    if !sees(fields.city) {
        profile.city.clear();
    }
    if !sees(fields.province) {
        profile.province.clear();
    }
}
