//! `docs/PROTOCOL.md` and the code stay in step: every action of the table
//! has a handler, a section in the document and a hex example; every push
//! and update kind has its section; and every hex example is a real frame
//! whose header is well-formed and whose body decodes, with no byte left
//! over, as the type the document says it is. A client author copies these
//! bytes; they must be right.

mod annotate;
mod examples;

use crate::common;

use kith::codec::decode_wire;
use kith::protocol::{
    Action, ErrorBody, Header, Push, PushAction, Request, Update, UpdateKind, Who, ERROR_ACTION, HEADER_LEN,
    PUSH_SEQUENCE,
};

pub(crate) fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap()
}

/// `(kind, name, bytes, where)` of every tagged example.
pub(crate) fn examples(doc: &str) -> Vec<(String, String, Vec<u8>, String)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(tag) = line.trim().strip_prefix("<!-- example:").and_then(|t| t.strip_suffix("-->")) else {
            continue;
        };
        let mut words = tag.split_whitespace();
        let (kind, name) = (words.next().unwrap().to_string(), words.next().unwrap().to_string());
        let what = format!("line {}: {kind} {name}", i + 1);
        assert_eq!(lines[i + 1].trim(), "```hex", "{what}: the example must follow its tag");
        let bytes: Vec<u8> = lines[i + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
            .map(|pair| u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("{what}: bad hex {pair}")))
            .collect();
        out.push((kind, name, bytes, what));
    }
    out
}

#[test]
fn hex_examples_are_real_frames() {
    let doc = doc();
    let examples = examples(&doc);
    for (kind, name, bytes, what) in &examples {
        let header = Header::parse(bytes[..HEADER_LEN].try_into().unwrap(), usize::MAX)
            .unwrap_or_else(|e| panic!("{what}: bad header {e:?}"));
        let body = &bytes[HEADER_LEN..];
        assert_eq!(header.body_len as usize, body.len(), "{what}: body_length does not match the body");
        match kind.as_str() {
            "push" => {
                let push = PushAction::ALL
                    .iter()
                    .find(|p| p.name() == name)
                    .unwrap_or_else(|| panic!("{what}: no push {name}"));
                assert_eq!((header.action, header.sequence), (*push as u8, PUSH_SEQUENCE), "{what}");
                let decoded = Push::decode(header.action, body).unwrap_or_else(|e| panic!("{what}: {e}")).unwrap();
                if let Push::Update(update) = decoded {
                    update.decode().unwrap_or_else(|e| panic!("{what}: update body: {e}")).expect("a known kind");
                }
            }
            "error" => {
                assert_eq!(header.action, ERROR_ACTION, "{what}");
                decode_wire::<ErrorBody>(body).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            "request" | "response" => {
                let action =
                    Action::ALL.iter().find(|a| a.name() == name).unwrap_or_else(|| panic!("{what}: no action {name}"));
                assert_eq!(header.action, *action as u8, "{what}");
                if kind == "request" {
                    assert_ne!(header.sequence, PUSH_SEQUENCE, "{what}: requests use a non-zero sequence");
                    Request::decode(*action, body).unwrap_or_else(|e| panic!("{what}: {e}"));
                } else {
                    action.decode_reply(body).unwrap_or_else(|e| panic!("{what}: {e}"));
                    if *action == Action::Sync {
                        let page: kith::protocol::SyncPage = decode_wire(body).unwrap();
                        for update in &page.updates {
                            update
                                .decode()
                                .unwrap_or_else(|e| panic!("{what}: update body: {e}"))
                                .expect("a known kind");
                        }
                    }
                }
            }
            other => panic!("{what}: unknown example kind {other}"),
        }
    }
    // Every request has a request and a response example (or an error in its place).
    for action in Action::ALL {
        let has = |kind: &str| examples.iter().any(|(k, n, _, _)| k == kind && n == action.name());
        assert!(has("request"), "no request example for {}", action.name());
        assert!(has("response") || has("error"), "no response example for {}", action.name());
    }
    for push in PushAction::ALL {
        assert!(
            examples.iter().any(|(k, n, _, _)| k == "push" && n == push.name()),
            "no example of push {}",
            push.name()
        );
    }
    // Every update kind appears in some example.
    let seen: Vec<u8> = examples
        .iter()
        .filter(|(_, _, bytes, _)| bytes.len() > HEADER_LEN)
        .flat_map(|(_, _, bytes, _)| {
            let body = &bytes[HEADER_LEN..];
            let mut kinds = Vec::new();
            if let Ok(update) = decode_wire::<Update>(body) {
                kinds.push(update.kind);
            }
            if let Ok(page) = decode_wire::<kith::protocol::SyncPage>(body) {
                kinds.extend(page.updates.iter().map(|u| u.kind));
            }
            kinds
        })
        .collect();
    for kind in UpdateKind::ALL {
        assert!(seen.contains(&(*kind as u8)), "no example carries an update of kind {}", kind.name());
    }
}

#[test]
fn every_action_has_a_handler_and_a_section() {
    let doc = doc();
    let router = kith::service::routes();
    for action in Action::ALL {
        assert!(router.handles(*action), "{} has no handler", action.name());
        let heading = format!("`0x{:02x}` {}", *action as u8, action.name());
        assert!(doc.lines().any(|l| l.starts_with("###") && l.contains(&heading)), "no section \"{heading}\"");
    }
    for push in PushAction::ALL {
        let heading = format!("`0x{:02x}` {}", *push as u8, push.name());
        assert!(doc.lines().any(|l| l.starts_with("###") && l.contains(&heading)), "no section \"{heading}\"");
    }
    for kind in UpdateKind::ALL {
        let heading = format!("kind {} {}", *kind as u8, kind.name());
        assert!(doc.lines().any(|l| l.starts_with("###") && l.contains(&heading)), "no section \"{heading}\"");
    }
}

/// §5.1's summary is the action table, in its order, with each action's
/// authentication rule and bodies (a request that decodes from no bytes,
/// and a `()` reply, read "empty"), then the error frame and the pushes.
/// `KITH_BLESS=1` writes it in.
#[test]
fn the_summary_table_is_the_action_table() {
    let doc = doc();
    let lines: Vec<&str> = doc.lines().collect();
    let header = "| Action | Name | Auth needed | Request body | Success response body |";
    let first = lines.iter().position(|l| *l == header).expect("the summary table") + 2;
    let end = first + lines[first..].iter().take_while(|l| l.starts_with('|')).count();
    let mut rows: Vec<String> = Action::ALL
        .iter()
        .map(|a| {
            let (request, reply) = a.bodies();
            let auth = match a.who() {
                Who::Anyone => "no",
                Who::User => "yes",
                Who::Anonymous => "no (must **not** be authenticated)",
            };
            let request = if Request::decode(*a, &[]).is_ok() { "empty" } else { request };
            let reply = if reply == "()" { "empty" } else { reply };
            format!("| `0x{:02x}` | {} | {auth} | {request} | {reply} |", *a as u8, a.name())
        })
        .collect();
    rows.push(format!("| `0x{ERROR_ACTION:02x}` | Error | — (server → client only) | — | ErrorBody |"));
    for push in PushAction::ALL {
        rows.push(format!(
            "| `0x{:02x}` | {} | — (push, sequence 0) | — | {} |",
            *push as u8,
            push.name(),
            push.body()
        ));
    }
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let wanted = [&lines[..first], &rows[..], &lines[end..]].concat().join("\n") + "\n";
    written(&doc, wanted, "§5.1's summary table (src/protocol/actions.rs is the source)");
}

/// Passes when the document is `wanted`; `KITH_BLESS=1` writes `wanted` in
/// instead, and otherwise the test fails naming `what` differs.
fn written(doc: &str, wanted: String, what: &str) {
    if doc == wanted {
        return;
    }
    if std::env::var_os("KITH_BLESS").is_some() {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"), wanted).unwrap();
        return;
    }
    panic!("docs/PROTOCOL.md is stale: {what} (KITH_BLESS=1 writes it)");
}

/// Every `GroupEvent` variant has its row, under its index, in the
/// document's GroupEvent table.
#[test]
fn every_group_event_is_documented() {
    let doc = doc();
    let events = common::group_events();
    assert!(events.len() >= 13, "{events:?}");
    for (index, name) in events {
        let row = format!("| {index} | {name} |");
        assert!(doc.lines().any(|l| l.starts_with(&row)), "docs/PROTOCOL.md has no GroupEvent row \"{row}\"");
    }
}

/// Every hex example, its comments and its annotation table are what
/// `examples/` renders from Rust values, so none is edited by hand and none
/// goes stale when a type changes. `KITH_BLESS=1` writes them in.
#[test]
fn hex_examples_are_generated() {
    let doc = doc();
    let wanted = examples::all();
    let lines: Vec<&str> = doc.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut stale = Vec::new();
    let mut next = wanted.iter();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_string());
        let Some(tag) = lines[i].trim().strip_prefix("<!-- example:").and_then(|t| t.strip_suffix("-->")) else {
            i += 1;
            continue;
        };
        let example = next.next().unwrap_or_else(|| panic!("line {}: no Rust value for this example", i + 1));
        let (kind, name) = (example.kind, example.name);
        assert_eq!(tag.trim(), format!("{kind} {name}"), "line {}: the examples are out of order", i + 1);
        // A new example is its tag alone until it is written in.
        let end = match lines.get(i + 1) {
            Some(&"```hex") => (i + 1..lines.len())
                .find(|&j| lines[j].starts_with("Total frame length:"))
                .unwrap_or_else(|| panic!("line {}: no Total frame length", i + 1)),
            _ => i,
        };
        let now = lines[i + 1..=end].join("\n") + "\n";
        let rendered = example.render();
        if now != rendered {
            stale.push(format!("line {}: {kind} {name}", i + 1));
        }
        out.extend(rendered.lines().map(String::from));
        i = end + 1;
    }
    assert!(next.next().is_none(), "more Rust values than examples in the document");
    written(&doc, out.join("\n") + "\n", &format!("hex examples {stale:#?}"));
}
