//! Registration, login, tokens, logout and password change, over each transport.

use crate::common;

use std::time::Duration;

use common::{device, disconnect_reason, Calls, Kind, TestServer, PASSWORD, SOON};
use kith::protocol::{ChangePasswordRequest, DeviceType, DisconnectReason, ErrorCode, FindUserRequest};

async fn register_and_login(kind: Kind) {
    let server = TestServer::start().await;
    let client = server.connect(kind).await;
    let id = client.register("Alice", PASSWORD).await.unwrap();
    let login = client.login("alice", PASSWORD, device("a1", DeviceType::Mobile)).await.unwrap();
    assert_eq!(login.session.user_id, id);
    assert_eq!(login.session.username, "alice", "usernames fold to lower case");
    assert_eq!(login.session.device_id, "a1");
    assert_eq!(login.token.len(), 40);
    assert!(login.expires_at > kith::id::now_ms());
    // The token authenticates a new connection as the same device.
    let other = server.connect(kind).await;
    let auth = other.auth(&login.token).await.unwrap();
    assert_eq!((auth.user_id, auth.device_id.as_str()), (id, "a1"));
    assert_eq!(other.call(&FindUserRequest { username: "ALICE".into() }).await.unwrap().user_id, id);
}
per_transport!(register_and_login);

async fn login_failures_look_alike(kind: Kind) {
    let server = TestServer::start().await;
    let client = server.connect(kind).await;
    client.register("bob", PASSWORD).await.unwrap();
    let wrong = client.login("bob", "not the password", device("b1", DeviceType::Mobile)).await.unwrap_err();
    let unknown = client.login("nobody", PASSWORD, device("b1", DeviceType::Mobile)).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::BadCredentials));
    assert_eq!(unknown.code(), Some(ErrorCode::BadCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string(), "unknown user and wrong password are indistinguishable");
    // The connection is still usable after failures.
    client.login("bob", PASSWORD, device("b1", DeviceType::Mobile)).await.unwrap();
}
per_transport!(login_failures_look_alike);

async fn registration_rules(kind: Kind) {
    let server = TestServer::start().await;
    let client = server.connect(kind).await;
    client.register("carol", PASSWORD).await.unwrap();
    let taken = client.register("CAROL", PASSWORD).await.unwrap_err();
    assert_eq!(taken.code(), Some(ErrorCode::Conflict));
    for (name, password) in [("ab", PASSWORD), ("9lives", PASSWORD), ("has space", PASSWORD), ("dave", "short")] {
        let err = client.register(name, password).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidArgument), "{name}/{password}: {err}");
    }
}
per_transport!(registration_rules);

async fn unauthenticated_requests_are_refused(kind: Kind) {
    let server = TestServer::start().await;
    let client = server.connect(kind).await;
    let err = client.send_text(1, "hi").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthenticated));
    let err = client.sync_page(0, 10).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthenticated));
    let err = client.call(&FindUserRequest { username: "anyone".into() }).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthenticated));
    // Heartbeat is allowed before authentication.
    assert!(client.heartbeat().await.unwrap() > 0);
    let err = client.auth(&[0u8; 40]).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));
    let err = client.auth(b"short").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));
}
per_transport!(unauthenticated_requests_are_refused);

async fn logout_revokes_the_token(kind: Kind) {
    let server = TestServer::start().await;
    let mut user = server.user(kind, "erin").await;
    user.client.logout().await.unwrap();
    assert_eq!(disconnect_reason(&mut user.client, SOON).await, DisconnectReason::LoggedOut);
    let again = server.connect(kind).await;
    let err = again.auth(&user.login.token).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));
}
per_transport!(logout_revokes_the_token);

async fn expired_tokens_are_refused(kind: Kind) {
    let server = TestServer::start_with(|c| c.limits.token_ttl_secs = 1).await;
    let user = server.user(kind, "frank").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let client = server.connect(kind).await;
    let err = client.auth(&user.login.token).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));
}
per_transport!(expired_tokens_are_refused);

async fn password_change_revokes_other_devices(kind: Kind) {
    let server = TestServer::start().await;
    let user = server.user(kind, "grace").await;
    let (mut laptop, laptop_login) = server.device(kind, "grace", "grace-laptop", DeviceType::Desktop).await;

    let change = |old: &str| ChangePasswordRequest { old_password: old.into(), new_password: "new password 1".into() };
    let wrong = user.client.call(&change("wrong old password")).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::BadCredentials));
    let fresh = user.client.call(&change(PASSWORD)).await.unwrap();

    // The other device is told and disconnected; its token is dead.
    assert_eq!(disconnect_reason(&mut laptop, SOON).await, DisconnectReason::PasswordChanged);
    let probe = server.connect(kind).await;
    assert_eq!(probe.auth(&laptop_login.token).await.unwrap_err().code(), Some(ErrorCode::InvalidToken));
    assert_eq!(probe.auth(&user.login.token).await.unwrap_err().code(), Some(ErrorCode::InvalidToken));
    // This device keeps working and its new token is valid.
    user.client.heartbeat().await.unwrap();
    probe.auth(&fresh.token).await.unwrap();
    // Old password no longer logs in; the new one does.
    let c = server.connect(kind).await;
    let err = c.login("grace", PASSWORD, device("x", DeviceType::Web)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadCredentials));
    c.login("grace", "new password 1", device("x", DeviceType::Web)).await.unwrap();
}
per_transport!(password_change_revokes_other_devices);

async fn same_device_type_kicks_the_older_session(kind: Kind) {
    let server = TestServer::start().await;
    let mut phone = server.user(kind, "heidi").await;
    let (_tablet, _) = server.device(kind, "heidi", "heidi-tablet", DeviceType::Tablet).await;
    let (new_phone, _) = server.device(kind, "heidi", "heidi-phone-2", DeviceType::Mobile).await;
    assert_eq!(disconnect_reason(&mut phone.client, SOON).await, DisconnectReason::Kicked);
    // The old connection is closed after the notice.
    assert!(phone.client.next_push().await.is_none());
    assert!(phone.client.heartbeat().await.is_err());
    new_phone.heartbeat().await.unwrap();
}
per_transport!(same_device_type_kicks_the_older_session);

async fn login_twice_on_one_connection_is_refused(kind: Kind) {
    let server = TestServer::start().await;
    let user = server.user(kind, "ivan").await;
    let err = user.client.login("ivan", PASSWORD, device("again", DeviceType::Web)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AlreadyAuthenticated));
    let err = user.client.auth(&user.login.token).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AlreadyAuthenticated));
}
per_transport!(login_twice_on_one_connection_is_refused);

async fn failed_logins_are_throttled(kind: Kind) {
    let server = TestServer::start().await;
    let client = server.connect(kind).await;
    client.register("judy", PASSWORD).await.unwrap();
    let attempt = || client.login("judy", "wrong password!", device("j", DeviceType::Mobile));
    for _ in 0..3 {
        assert_eq!(attempt().await.unwrap_err().code(), Some(ErrorCode::BadCredentials));
    }
    // After three failures each attempt must wait: even the right password …
    let err = client.login("judy", PASSWORD, device("j", DeviceType::Mobile)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RateLimited), "{err}");
    // … and then, after the wait it was told, succeeds.
    tokio::time::sleep(err.retry_after().expect("a wait")).await;
    client.login("judy", PASSWORD, device("j", DeviceType::Mobile)).await.unwrap();
}
per_transport!(failed_logins_are_throttled);
