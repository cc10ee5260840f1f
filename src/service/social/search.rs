//! `SearchUsers`: exact username, then nickname prefix, paged by a cursor
//! into the nickname index, within a per-user quota (`Services::searches`)
//! that keeps the directory from being listed by brute force.

use std::ops::Bound;
use std::time::Instant;

use super::rules::{check_query, fold};
use super::store::{self, NickKey, NICKS};
use super::{card, check_visible};
use crate::protocol::{Discoverable, SearchUsersRequest, UserCard, UserPage};
use crate::service::account::canonical_username;
use crate::service::{Call, Outcome, PageLimit, ServiceError, ServiceResult, Services};
use crate::storage::{KeyPart, StorageError, Store};

/// Index entries one page may read beyond its size, so hidden users (blocked,
/// not discoverable, disabled) cannot make one call scan the whole index; a
/// page that stops early says `more`.
const SCAN_SLACK: usize = 64;

pub(super) async fn search_users(call: Call, req: SearchUsersRequest) -> ServiceResult<Outcome<UserPage>> {
    let me = call.me()?.user_id;
    let limit = PageLimit::requested(req.limit)?.count;
    check_query(&req.query)?;
    let prefix = fold(&req.query);
    let start = if req.cursor.is_empty() {
        Bound::Included(NickKey { name: prefix.clone(), user: 0 })
    } else {
        match NickKey::take(&req.cursor) {
            Some((key, [])) if key.name.starts_with(&prefix) => Bound::Excluded(key),
            _ => return Err(ServiceError::invalid("cursor: not one this query returned")),
        }
    };
    call.services.searches.allow(me, 1, Instant::now())?;
    let services = call.services.clone();
    let page = call
        .services
        .read(move |s| {
            let exact = match (&start, canonical_username(&req.query)) {
                (Bound::Included(_), Ok(name)) => crate::service::account::store::user_by_name(s, &name)?
                    .map(|(id, _)| id)
                    .filter(|id| *id != me && check_visible(&services, s, me, *id).is_ok()),
                _ => None,
            };
            let mut users: Vec<UserCard> = exact.map(|id| card(s, id)).transpose()?.into_iter().collect();
            let (cursor, more) = by_nickname(&services, s, me, &prefix, start, exact, limit, &mut users)?;
            Ok(UserPage { users, cursor: cursor.unwrap_or(req.cursor), more })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

/// Adds nickname matches after `start` to `users` until it holds `limit`;
/// returns the cursor of the last index entry read and whether more may follow.
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
) -> Result<(Option<Vec<u8>>, bool), StorageError> {
    let mut cursor = None;
    for (read, entry) in s.range(&NICKS, (start, Bound::Unbounded)).enumerate() {
        let (key, ()) = entry?;
        if !key.name.starts_with(prefix) {
            return Ok((cursor, false));
        }
        if users.len() >= limit || read >= limit + SCAN_SLACK {
            return Ok((cursor, true));
        }
        let user = key.user;
        let mut bytes = Vec::with_capacity(key.name.len() + 9);
        key.put(&mut bytes);
        cursor = Some(bytes);
        let shown = Some(user) != exact
            && user != me
            && store::privacy(s, user)?.discoverable == Discoverable::Everyone
            && check_visible(services, s, me, user).is_ok();
        if shown {
            users.push(card(s, user)?);
        }
    }
    Ok((cursor, false))
}
