//! What a group's fields may hold, and who may do what to whom.

use crate::protocol::{ErrorCode, GroupFields, GroupRole};
use crate::service::{names, ServiceError, ServiceResult};

/// Longest group name, in characters.
pub(super) const NAME_CHARS: usize = 64;
/// Longest introduction, in characters.
pub(super) const INTRODUCTION_CHARS: usize = 512;
/// Longest announcement, in characters.
pub(super) const ANNOUNCEMENT_CHARS: usize = 2048;
/// Longest alias and join request message, in characters.
pub(super) const ALIAS_CHARS: usize = 32;
/// Most users one `CreateGroup` invites: each admitted member is a system
/// message to all before them, so the job's work grows with the square of
/// this number; larger groups grow by invitations and joins, one job each.
pub(super) const INITIAL_MEMBERS: usize = 200;
/// Longest join request message, in characters.
pub(super) const REQUEST_MESSAGE_CHARS: usize = 256;

/// Checks every field, naming the first that breaks its rule, and puts
/// the name in NFC.
pub(super) fn check_fields(f: &mut GroupFields) -> ServiceResult<()> {
    if f.name.trim().is_empty() {
        return Err(ServiceError::invalid("name: must not be empty"));
    }
    f.name = names::check("name", &f.name, NAME_CHARS)?;
    long_text("introduction", &f.introduction, INTRODUCTION_CHARS)?;
    long_text("announcement", &f.announcement, ANNOUNCEMENT_CHARS)
}

/// Checks an alias; returns it in NFC.
pub(super) fn check_alias(alias: &str) -> ServiceResult<String> {
    names::check("alias", alias, ALIAS_CHARS)
}

/// Checks a join request's message.
pub(super) fn check_request_message(message: &str) -> ServiceResult<()> {
    long_text("message", message, REQUEST_MESSAGE_CHARS)
}

/// A text that may span lines.
fn long_text(field: &str, value: &str, max: usize) -> ServiceResult<()> {
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ServiceError::invalid(format!(
            "{field}: at most {max} characters without control characters other than newlines"
        ))
        .with_limit(max as u64));
    }
    Ok(())
}

/// Refuses anyone below the owner and admins.
pub(super) fn need_admin(role: GroupRole) -> ServiceResult<()> {
    match role {
        GroupRole::Owner | GroupRole::Admin => Ok(()),
        GroupRole::Member => Err(ServiceError::new(ErrorCode::NotPermitted, "only the owner and admins may do this")),
    }
}

/// Refuses anyone but the owner.
pub(super) fn need_owner(role: GroupRole) -> ServiceResult<()> {
    match role {
        GroupRole::Owner => Ok(()),
        _ => Err(ServiceError::new(ErrorCode::NotPermitted, "only the owner may do this")),
    }
}

/// Whether `actor` may kick, ban or mute a member holding `target`: the
/// owner acts on everyone else, admins on ordinary members only, nobody on
/// the owner.
pub(super) fn may_act_on(actor: GroupRole, target: GroupRole) -> ServiceResult<()> {
    match (actor, target) {
        (_, GroupRole::Owner) => Err(ServiceError::new(ErrorCode::NotPermitted, "nobody may do this to the owner")),
        (GroupRole::Owner, _) | (GroupRole::Admin, GroupRole::Member) => Ok(()),
        (GroupRole::Admin, GroupRole::Admin) => {
            Err(ServiceError::new(ErrorCode::NotPermitted, "admins may do this to ordinary members only"))
        }
        (GroupRole::Member, _) => {
            Err(ServiceError::new(ErrorCode::NotPermitted, "only the owner and admins may do this"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JoinPolicy;

    fn fields(name: &str) -> GroupFields {
        GroupFields {
            name: name.into(),
            avatar: 0,
            introduction: "line one\nline two".into(),
            announcement: String::new(),
            join_policy: JoinPolicy::Open,
            history_visible: false,
        }
    }

    #[test]
    fn fields_are_checked_by_name() {
        assert!(check_fields(&mut fields("家人群")).is_ok());
        for (bad, field) in [("", "name"), ("   ", "name"), ("a\tb", "name"), ("\u{202E}spuorg", "name")] {
            let err = check_fields(&mut fields(bad)).unwrap_err().to_string();
            assert!(err.starts_with(field), "{bad:?}: {err}");
        }
        let long = "x".repeat(NAME_CHARS + 1);
        assert!(check_fields(&mut fields(&long)).unwrap_err().to_string().starts_with("name"));
    }

    #[test]
    fn nobody_acts_on_the_owner_and_admins_only_on_members() {
        use GroupRole::*;
        assert!(may_act_on(Owner, Admin).is_ok());
        assert!(may_act_on(Owner, Member).is_ok());
        assert!(may_act_on(Admin, Member).is_ok());
        for (actor, target) in [(Admin, Admin), (Admin, Owner), (Member, Member), (Member, Admin), (Owner, Owner)] {
            assert!(may_act_on(actor, target).is_err(), "{actor:?} on {target:?}");
        }
    }
}
