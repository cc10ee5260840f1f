//! Section 10.12 Settings on a second device (revision 12).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // ProfileChanged update (alice's tablet, after her phone set her profile)
        push(&Push::Update(Update::new(
            134265543065600000,
            &UpdateBody::ProfileChanged(UserProfile {
                user_id: 1,
                username: "alice".into(),
                profile: Profile {
                    nickname: "Alice".into(),
                    avatar: 0,
                    gender: Gender::Unspecified,
                    birth_date: None,
                    signature: "".into(),
                    city: "Lyon".into(),
                    province: "".into(),
                    extra: "".into(),
                },
            }),
        ))),
        // PrivacyChanged update (alice's tablet, after her phone hid her from nickname search)
        push(&Push::Update(Update::new(
            134265547259904000,
            &UpdateBody::PrivacyChanged(PrivacySettings {
                discoverable: Discoverable::ExactUsername,
                friend_policy: FriendPolicy::RequireApproval,
                presence: Audience::Friends,
            }),
        ))),
        // ProfileVisibilityChanged update (alice's tablet)
        push(&Push::Update(Update::new(
            134265551454208000,
            &UpdateBody::ProfileVisibilityChanged(FieldVisibility {
                birth_date: Audience::Nobody,
                city: Audience::Friends,
                province: Audience::Everyone,
            }),
        ))),
        // RemarkChanged update (alice's tablet, after her phone named bob "Bobby")
        push(&Push::Update(Update::new(
            134265555648512000,
            &UpdateBody::RemarkChanged(RemarkChanged { user_id: 2, remark: "Bobby".into() }),
        ))),
    ]
}
