//! Every hex example in docs/PROTOCOL.md is a real frame: its header is
//! well-formed and its body decodes, with no byte left over, as the type the
//! document says it is. A client author copies these bytes; they must be right.

use kith::codec::decode_wire;
use kith::protocol::{
    AckReply, AckRequest, Action, AuthReply, AuthRequest, ChangePasswordRequest, DisconnectPush, ErrorBody,
    FindUserRequest, Header, HeartbeatReply, HistoryRequest, LoginReply, LoginRequest, Message, Page, RegisterReply,
    RegisterRequest, SendReply, SendRequest, SyncInboxRequest, TokenReply, UserInfo, HEADER_LEN, PUSH_SEQUENCE,
};
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned + std::fmt::Debug>(body: &[u8], what: &str) {
    if let Err(e) = decode_wire::<T>(body) {
        panic!("{what}: body does not decode as {}: {e}", std::any::type_name::<T>());
    }
}

fn request(action: Action, body: &[u8], what: &str) {
    match action {
        Action::Heartbeat | Action::Logout => check::<()>(body, what),
        Action::Register => check::<RegisterRequest>(body, what),
        Action::Login => check::<LoginRequest>(body, what),
        Action::Auth => check::<AuthRequest>(body, what),
        Action::ChangePassword => check::<ChangePasswordRequest>(body, what),
        Action::FindUser => check::<FindUserRequest>(body, what),
        Action::Send => check::<SendRequest>(body, what),
        Action::Ack => check::<AckRequest>(body, what),
        Action::SyncInbox => check::<SyncInboxRequest>(body, what),
        Action::History => check::<HistoryRequest>(body, what),
        other => panic!("{what}: {other:?} is not a request"),
    }
}

fn response(action: Action, body: &[u8], what: &str) {
    match action {
        Action::Heartbeat => check::<HeartbeatReply>(body, what),
        Action::Logout => check::<()>(body, what),
        Action::Register => check::<RegisterReply>(body, what),
        Action::Login => check::<LoginReply>(body, what),
        Action::Auth => check::<AuthReply>(body, what),
        Action::ChangePassword => check::<TokenReply>(body, what),
        Action::FindUser => check::<UserInfo>(body, what),
        Action::Send => check::<SendReply>(body, what),
        Action::Ack => check::<AckReply>(body, what),
        Action::SyncInbox | Action::History => check::<Page>(body, what),
        other => panic!("{what}: {other:?} has no response"),
    }
}

#[test]
fn hex_examples_are_real_frames() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    let lines: Vec<&str> = doc.lines().collect();
    let mut checked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(tag) = line.trim().strip_prefix("<!-- example:").and_then(|t| t.strip_suffix("-->")) else {
            continue;
        };
        let mut words = tag.split_whitespace();
        let (kind, name) = (words.next().unwrap(), words.next().unwrap());
        let what = format!("line {}: {kind} {name}", i + 1);
        assert_eq!(lines[i + 1].trim(), "```hex", "{what}: the example must follow its tag");
        let bytes: Vec<u8> = lines[i + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
            .map(|pair| u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("{what}: bad hex {pair}")))
            .collect();
        let header = Header::parse(bytes[..HEADER_LEN].try_into().unwrap(), usize::MAX)
            .unwrap_or_else(|e| panic!("{what}: bad header {e:?}"));
        let body = &bytes[HEADER_LEN..];
        assert_eq!(header.body_len as usize, body.len(), "{what}: body_length does not match the body");
        let named = Action::ALL
            .into_iter()
            .find(|a| format!("{a:?}") == name)
            .unwrap_or_else(|| panic!("{what}: no action {name}"));
        match kind {
            "request" => {
                assert_eq!(header.action, named as u8, "{what}");
                assert_ne!(header.sequence, PUSH_SEQUENCE, "{what}: requests use a non-zero sequence");
                request(named, body, &what);
            }
            "response" => {
                assert_eq!(header.action, named as u8, "{what}");
                response(named, body, &what);
            }
            "error" => {
                assert_eq!(header.action, Action::Error as u8, "{what}");
                check::<ErrorBody>(body, &what);
            }
            "push" => {
                assert_eq!((header.action, header.sequence), (named as u8, PUSH_SEQUENCE), "{what}");
                match named {
                    Action::PushMessage => check::<Message>(body, &what),
                    Action::PushDisconnect => check::<DisconnectPush>(body, &what),
                    other => panic!("{what}: {other:?} is not a push"),
                }
            }
            other => panic!("{what}: unknown example kind {other}"),
        }
        checked.push(name.to_string());
    }
    // Every request action has at least one example.
    for action in Action::ALL.into_iter().filter(|a| a.is_request()) {
        assert!(checked.iter().any(|n| *n == format!("{action:?}")), "no example for {action:?}");
    }
}
