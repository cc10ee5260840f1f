//! `FindUser`: one user by exact username. `SearchUsers`: exact username, then nickname prefix, paged by a cursor
//! into the nickname index, within a per-user quota (`Services::searches`)
//! that keeps the directory from being listed by brute force.
//!
//! A page may end on an index entry it did not show (a hidden, blocked or
//! disabled user), so the position where the next page starts names
//! someone the search leaves out. The cursor carries it sealed
//! ([`Cursors`]): encrypted and authenticated under a key made at start,
//! bound to the query and the searcher, it reveals nothing and cannot be
//! forged or moved to another query.

use std::ops::Bound;
use std::time::Instant;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::rules::check_query;
use super::store::{self, fold, NickKey, NICKS};
use super::{card, check_visible};
use crate::protocol::{Discoverable, FindUserRequest, SearchUsersRequest, UserCard, UserInfo, UserPage};
use crate::service::account::{self, canonical_username};
use crate::service::{Call, Outcome, PageLimit, ServiceError, ServiceResult, Services};
use crate::storage::{KeyPart, StorageError, Store};

/// Index entries one page may read beyond its size, so hidden users (blocked,
/// not discoverable, disabled) cannot make one call scan the whole index; a
/// page that stops early says `more`.
const SCAN_SLACK: usize = 64;

/// `FindUser`: a user by exact username, unless disabled or a block stands
/// between the two.
pub(super) async fn find_user(call: Call, req: FindUserRequest) -> ServiceResult<Outcome<UserInfo>> {
    let me = call.me()?.user_id;
    let (user_id, user) = account::find(&call.services, &req.username).await?;
    // A disabled account cannot be reached, and a block hides either side
    // from the other: neither is found.
    let services = call.services.clone();
    let visible = call.services.read(move |s| Ok(check_visible(&services, s, me, user_id))).await?;
    if user.disabled || visible.is_err() {
        return Err(ServiceError::not_found(format!("no user named {:?}", req.username)));
    }
    Ok(Outcome::Reply(UserInfo { user_id, username: user.username }))
}

pub(super) async fn search_users(call: Call, req: SearchUsersRequest) -> ServiceResult<Outcome<UserPage>> {
    let me = call.me()?.user_id;
    let limit = PageLimit::requested(req.limit)?.count;
    check_query(&req.query)?;
    let prefix = fold(&req.query);
    let start = if req.cursor.is_empty() {
        Bound::Included(NickKey { name: prefix.clone(), user: 0 })
    } else {
        match call.services.cursors.open(&req.cursor, &prefix, me) {
            Some(key) if key.name.starts_with(&prefix) => Bound::Excluded(key),
            _ => return Err(ServiceError::invalid("cursor: not one this query returned")),
        }
    };
    call.services.searches.allow(me, 1, Instant::now())?;
    let services = call.services.clone();
    let page = call
        .services
        .read(move |s| {
            let exact = match (&start, canonical_username(&req.query)) {
                (Bound::Included(_), Ok(name)) => crate::service::account::user_by_name(s, &name)?
                    .map(|(id, _)| id)
                    .filter(|id| *id != me && check_visible(&services, s, me, *id).is_ok()),
                _ => None,
            };
            let mut users: Vec<UserCard> = exact.map(|id| card(s, id)).transpose()?.into_iter().collect();
            let (last, more) = by_nickname(&services, s, me, &prefix, start, exact, limit, &mut users)?;
            let cursor = match last {
                Some(key) => services.cursors.seal(&key, &prefix, me)?,
                None => req.cursor,
            };
            Ok(UserPage { users, cursor, more })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

/// Adds nickname matches after `start` to `users` until it holds `limit`;
/// returns the last index entry read and whether more may follow.
#[allow(clippy::too_many_arguments)]
fn by_nickname(
    services: &Services,
    s: &Store,
    me: u64,
    prefix: &str,
    start: Bound<NickKey>,
    exact: Option<u64>,
    limit: usize,
    users: &mut Vec<UserCard>,
) -> Result<(Option<NickKey>, bool), StorageError> {
    let mut last = None;
    for (read, entry) in s.range(&NICKS, (start, Bound::Unbounded)).enumerate() {
        let (key, ()) = entry?;
        if !key.name.starts_with(prefix) {
            return Ok((last, false));
        }
        if users.len() >= limit || read >= limit + SCAN_SLACK {
            return Ok((last, true));
        }
        let user = key.user;
        last = Some(key);
        let shown = Some(user) != exact
            && user != me
            && store::privacy(s, user)?.discoverable == Discoverable::Everyone
            && check_visible(services, s, me, user).is_ok();
        if shown {
            users.push(card(s, user)?);
        }
    }
    Ok((last, false))
}

/// Seals search cursors: ChaCha20-Poly1305 under a key made at start, with
/// a random nonce, the query's fold and the searcher as associated data.
/// Cursors do not outlive a restart (the client searches again).
pub(crate) struct Cursors {
    key: LessSafeKey,
    random: SystemRandom,
}

impl Cursors {
    /// A fresh key.
    pub(crate) fn new() -> std::io::Result<Cursors> {
        let random = SystemRandom::new();
        let mut key = [0u8; 32];
        random.fill(&mut key).map_err(|_| std::io::Error::other("no random numbers for the search cursor key"))?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &key).map_err(|_| std::io::Error::other("cursor key"))?;
        Ok(Cursors { key: LessSafeKey::new(key), random })
    }

    /// The cursor that resumes `prefix`'s search by `user` after `position`.
    fn seal(&self, position: &NickKey, prefix: &str, user: u64) -> std::io::Result<Vec<u8>> {
        let failed = |what: &str| std::io::Error::other(format!("sealing a search cursor: {what}"));
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| failed("no random numbers"))?;
        let mut sealed = Vec::with_capacity(position.name.len() + 9 + self.key.algorithm().tag_len());
        position.put(&mut sealed);
        let aad = associated(prefix, user);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut sealed)
            .map_err(|_| failed("the cipher refused"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The position a cursor sealed for this query and searcher holds.
    fn open(&self, cursor: &[u8], prefix: &str, user: u64) -> Option<NickKey> {
        let (nonce, sealed) = cursor.split_first_chunk::<NONCE_LEN>()?;
        let mut sealed = sealed.to_vec();
        let aad = associated(prefix, user);
        let plain = self.key.open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(&aad), &mut sealed).ok()?;
        match NickKey::take(plain)? {
            (key, []) => Some(key),
            _ => None,
        }
    }
}

fn associated(prefix: &str, user: u64) -> Vec<u8> {
    let mut aad = user.to_be_bytes().to_vec();
    aad.extend_from_slice(prefix.as_bytes());
    aad
}
