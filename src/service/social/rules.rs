//! What a profile, a remark, a request message and a search may hold, the
//! one function that decides what a block forbids, and the one that decides
//! who sees whose presence.

use crate::protocol::{Audience, BirthDate, ErrorCode, Profile};
use crate::service::{names, ServiceError, ServiceResult};

use super::store::{fold, Relation};

/// Longest nickname and remark, in characters.
pub(super) const NAME_CHARS: usize = 32;
/// Longest signature, in characters.
pub(super) const SIGNATURE_CHARS: usize = 140;
/// Longest city or province, in characters.
pub(super) const PLACE_CHARS: usize = 64;
/// Longest profile `extra`, in bytes.
pub(super) const EXTRA_BYTES: usize = 1024;
/// Longest friend request message, in characters.
pub(super) const REQUEST_MESSAGE_CHARS: usize = 256;

/// Where a user meets another, for [`forbids`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Surface {
    /// A 1:1 message.
    Message,
    /// A friend request, or the answer to one.
    FriendRequest,
    /// Looking a user up: profile, exact username, search.
    Lookup,
    /// A read receipt or a delivery notice.
    Receipt,
}

/// What a block between two users forbids, whoever blocked whom: every
/// surface. Actions are refused with `NotPermitted`, as anything else not
/// allowed is, and lookups find nobody, so a block is never announced to the
/// blocked user.
pub(crate) fn forbids(relation: &Relation, surface: Surface) -> Option<ServiceError> {
    if !relation.blocked() {
        return None;
    }
    Some(match surface {
        Surface::Message | Surface::FriendRequest | Surface::Receipt => {
            ServiceError::new(ErrorCode::NotPermitted, "you cannot reach this user")
        }
        Surface::Lookup => ServiceError::not_found("no such user"),
    })
}

/// Whether two distinct users see each other's presence (online, last
/// seen), given each one's presence audience: never across a block, and
/// only when each audience admits the other — reciprocal, so hiding one's
/// presence from someone hides theirs too (PROTOCOL section 5, `Presence`,
/// holds the table).
pub(crate) fn presence_shared(relation: &Relation, a: Audience, b: Audience) -> bool {
    let admits = |audience| match audience {
        Audience::Everyone => true,
        Audience::Friends => relation.friends_since.is_some(),
        Audience::Nobody => false,
    };
    !relation.blocked() && admits(a) && admits(b)
}

/// Checks every field of a profile, naming the first that breaks its rule
/// (`nickname: ...`), and puts its names (nickname, city, province) in NFC;
/// returns the folded nickname to index, if any.
pub(super) fn check_profile(p: &mut Profile, today: (i32, u8, u8)) -> ServiceResult<Option<String>> {
    p.nickname = names::check("nickname", &p.nickname, NAME_CHARS)?;
    if let Some(date) = p.birth_date {
        check_birth_date(date, today)?;
    }
    text("signature", &p.signature, SIGNATURE_CHARS)?;
    p.city = names::check("city", &p.city, PLACE_CHARS)?;
    p.province = names::check("province", &p.province, PLACE_CHARS)?;
    if p.extra.len() > EXTRA_BYTES {
        return Err(field("extra", &format!("at most {EXTRA_BYTES} bytes")).with_limit(EXTRA_BYTES as u64));
    }
    Ok((!p.nickname.is_empty()).then(|| fold(&p.nickname)))
}

/// Checks a remark for a friend; returns it in NFC.
pub(super) fn check_remark(remark: &str) -> ServiceResult<String> {
    names::check("remark", remark, NAME_CHARS)
}

/// Checks a friend request's message.
pub(super) fn check_request_message(message: &str) -> ServiceResult<()> {
    text("message", message, REQUEST_MESSAGE_CHARS)
}

/// Checks a search query: 1–32 characters, no control characters.
pub(super) fn check_query(query: &str) -> ServiceResult<()> {
    if query.trim().is_empty() {
        return Err(field("query", "must not be empty"));
    }
    text("query", query, NAME_CHARS)
}

fn check_birth_date(date: BirthDate, today: (i32, u8, u8)) -> ServiceResult<()> {
    let month = time::Month::try_from(date.month).map_err(|_| field("birth_date", "month must be 1–12"))?;
    let valid = time::Date::from_calendar_date(i32::from(date.year), month, date.day)
        .map_err(|_| field("birth_date", "no such day"))?;
    let (year, month, day) = today;
    let today = time::Month::try_from(month)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(year, m, day).ok())
        .ok_or_else(|| ServiceError::new(ErrorCode::Internal, "the server's clock is out of range"))?;
    if date.year < 1900 || valid > today {
        return Err(field("birth_date", "must be between 1900-01-01 and today"));
    }
    Ok(())
}

fn text(name: &str, value: &str, max_chars: usize) -> ServiceResult<()> {
    if value.chars().count() > max_chars {
        return Err(field(name, &format!("at most {max_chars} characters")).with_limit(max_chars as u64));
    }
    if value.chars().any(char::is_control) {
        return Err(field(name, "must not contain control characters"));
    }
    Ok(())
}

/// An `InvalidArgument` whose message starts with the field's name.
fn field(name: &str, rule: &str) -> ServiceError {
    ServiceError::invalid(format!("{name}: {rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (i32, u8, u8) = (2026, 11, 30);

    /// PROTOCOL section 5, `Presence`: the table, row by row.
    #[test]
    fn presence_follows_both_audiences_and_stops_at_a_block() {
        use Audience::{Everyone, Friends, Nobody};
        let strangers = Relation::default();
        let friends = Relation { friends_since: Some(1), ..Relation::default() };
        let blocked = Relation { friends_since: Some(1), lo_blocks: true, ..Relation::default() };
        let table = [
            (Everyone, Everyone, true, true),
            (Everyone, Friends, false, true),
            (Friends, Friends, false, true),
            (Everyone, Nobody, false, false),
            (Friends, Nobody, false, false),
            (Nobody, Nobody, false, false),
        ];
        for (a, b, to_stranger, to_friend) in table {
            for (x, y) in [(a, b), (b, a)] {
                assert_eq!(presence_shared(&strangers, x, y), to_stranger, "{x:?} {y:?} strangers");
                assert_eq!(presence_shared(&friends, x, y), to_friend, "{x:?} {y:?} friends");
                assert!(!presence_shared(&blocked, x, y), "{x:?} {y:?} across a block");
            }
        }
    }

    #[test]
    fn each_field_is_named_in_its_error() {
        let cases: [(&str, Profile); 5] = [
            ("nickname", Profile { nickname: "x".repeat(33), ..Profile::default() }),
            ("nickname", Profile { nickname: "a\u{7}b".into(), ..Profile::default() }),
            (
                "birth_date",
                Profile { birth_date: Some(BirthDate { year: 2001, month: 2, day: 29 }), ..Profile::default() },
            ),
            ("signature", Profile { signature: "s".repeat(141), ..Profile::default() }),
            ("city", Profile { city: "c".repeat(65), ..Profile::default() }),
        ];
        for (name, mut profile) in cases {
            let e = check_profile(&mut profile, TODAY).unwrap_err();
            assert!(e.to_string().contains(&format!("{name}:")), "{name}: {e}");
        }
        let mut future =
            Profile { birth_date: Some(BirthDate { year: 2026, month: 12, day: 1 }), ..Profile::default() };
        assert!(check_profile(&mut future, TODAY).is_err());
    }

    #[test]
    fn nicknames_fold_by_unicode_and_chinese_stays() {
        let mut p = Profile { nickname: "小明 Ärger".into(), ..Profile::default() };
        assert_eq!(check_profile(&mut p, TODAY).unwrap().as_deref(), Some("小明 ärger"));
        assert_eq!(check_profile(&mut Profile::default(), TODAY).unwrap(), None);
        assert_eq!("小明同学".chars().count(), 4);
    }
}
