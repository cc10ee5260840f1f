//! `GetProfile`: the social graph's profile rule, told whether the two users
//! share a group. Fellow members may read each other's profiles, and groups
//! sit above the social graph, so the handler that asks both lives above
//! them.
//!
//! Uses: social (the rule, cards), group (memberships).

use super::{group, social, Call, Outcome, Router, ServiceError, ServiceResult};
use crate::protocol::{GetProfileRequest, UserProfile};

/// Registers `GetProfile`.
pub(super) fn routes(router: &mut Router) {
    router.add(get_profile);
}

async fn get_profile(call: Call, req: GetProfileRequest) -> ServiceResult<Outcome<UserProfile>> {
    let me = call.me()?.user_id;
    let services = call.services.clone();
    let user = req.user_id;
    let found = call
        .services
        .read(move |s| {
            Ok(match social::profile_shown(&services, s, (me, user), || group::share_a_group(s, me, user)) {
                Ok(profile) => Ok((social::card(s, user)?.username, profile)),
                Err(ServiceError::Storage(e)) => return Err(e),
                Err(refusal) => Err(refusal),
            })
        })
        .await??;
    Ok(Outcome::Reply(UserProfile { user_id: user, username: found.0, profile: found.1 }))
}
