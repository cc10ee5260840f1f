//! The document's hex examples as Rust values, one file per subsection of
//! section 10, in the document's order. Each example is rendered (hex
//! with comments, the annotation table, the total length) by
//! [`super::annotate`]; `hex_examples_are_generated` holds the document to
//! them, and `KITH_BLESS=1` writes them in:
//!
//! ```text
//! KITH_BLESS=1 cargo test --release --test integration protocol_doc::
//! ```

use super::annotate::{annotate, Row};
use kith::codec::encode_wire;
use kith::protocol::*;
use serde::Serialize;

mod s10_01;
mod s10_02;
mod s10_03;
mod s10_04;
mod s10_05;
mod s10_06;
mod s10_07;
mod s10_08;
mod s10_09;
mod s10_10;
mod s10_11;
mod s10_12;
mod s10_13;
mod s10_14;
mod s10_15;
mod s10_16;
mod s10_17;
mod s10_18;
mod s10_19;
mod s10_20;

/// Every example, in the document's order.
pub(crate) fn all() -> Vec<Example> {
    [
        s10_01::examples,
        s10_02::examples,
        s10_03::examples,
        s10_04::examples,
        s10_05::examples,
        s10_06::examples,
        s10_07::examples,
        s10_08::examples,
        s10_09::examples,
        s10_10::examples,
        s10_11::examples,
        s10_12::examples,
        s10_13::examples,
        s10_14::examples,
        s10_15::examples,
        s10_16::examples,
        s10_17::examples,
        s10_18::examples,
        s10_19::examples,
        s10_20::examples,
    ]
    .into_iter()
    .flat_map(|section| section())
    .collect()
}

/// Bytes written as hex.
fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// Sixteen bytes written as hex (a `client_msg_id`).
fn hex16(text: &str) -> [u8; 16] {
    hex(text).try_into().expect("16 bytes")
}

/// One example frame.
pub(crate) struct Example {
    /// `request`, `response`, `error` or `push`, as the document's tag says.
    pub(crate) kind: &'static str,
    /// The action's or push's name.
    pub(crate) name: &'static str,
    action: u8,
    sequence: u32,
    rows: Vec<Row>,
    /// Words added to a row's value: `(field, text)`.
    notes: Vec<(&'static str, &'static str)>,
}

/// A request frame.
pub(crate) fn request<R: Rpc>(sequence: u32, body: &R) -> Example {
    example("request", R::ACTION.name(), R::ACTION as u8, sequence, body)
}

/// The successful response to a request of type `R`.
pub(crate) fn response<R: Rpc>(sequence: u32, body: &R::Reply) -> Example {
    example("response", R::ACTION.name(), R::ACTION as u8, sequence, body)
}

/// The error answer to a request of `action`.
pub(crate) fn error(action: Action, sequence: u32, body: &ErrorBody) -> Example {
    example("error", action.name(), ERROR_ACTION, sequence, body)
}

/// A push.
pub(crate) fn push(body: &Push) -> Example {
    example("push", body.tag().name(), body.tag() as u8, PUSH_SEQUENCE, body)
}

fn example<T: Serialize>(kind: &'static str, name: &'static str, action: u8, sequence: u32, body: &T) -> Example {
    let rows = annotate(body);
    assert_eq!(rows.iter().flat_map(|r| r.bytes.clone()).collect::<Vec<u8>>(), kith::codec::encode_wire(body));
    Example { kind, name, action, sequence, rows, notes: Vec::new() }
}

impl Example {
    /// Adds words to what the last row of `field` says, in the table and
    /// in the hex comment.
    pub(crate) fn note(mut self, field: &'static str, text: &'static str) -> Example {
        self.notes.push((field, text));
        self
    }

    /// The whole frame.
    pub(crate) fn frame(&self) -> Vec<u8> {
        let body: Vec<u8> = self.rows.iter().flat_map(|r| r.bytes.clone()).collect();
        kith::protocol::encode_frame(self.action, self.sequence, &body)
    }

    fn action_name(&self) -> &str {
        if self.action == ERROR_ACTION {
            "Error"
        } else {
            self.name
        }
    }

    /// The document's text for it: from the opening of the hex block to
    /// "Total frame length".
    pub(crate) fn render(&self) -> String {
        let frame = self.frame();
        let body_len = frame.len() - HEADER_LEN;
        let mut out = String::from("```hex\n");
        out += &format!(
            "{}  # header: version {VERSION}, action {:#04x} {}, sequence {}, body {body_len} bytes\n",
            spaced(&frame[..HEADER_LEN]),
            self.action,
            self.action_name(),
            self.sequence
        );
        let rows = self.noted_rows();
        for row in &rows {
            for (i, chunk) in row.bytes.chunks(16).enumerate() {
                let comment = match i {
                    0 => format!("{}{}", row.field, row.comment),
                    _ => format!("{} (continued)", row.field),
                };
                out += &format!("{}  # {comment}\n", spaced(chunk));
            }
        }
        out += "```\n\n| Offset | Bytes | Field | Encoding | Value |\n|---:|---:|---|---|---|\n";
        let sequence = match self.kind {
            "push" => format!("{} (push)", self.sequence),
            _ => self.sequence.to_string(),
        };
        out += &format!("| 0 | 4 | *header* version | u32 | {VERSION} |\n");
        out += &format!("| 4 | 1 | *header* action | u8 | {:#04x} = {} |\n", self.action, self.action_name());
        out += &format!("| 5 | 4 | *header* sequence_id | u32 | {sequence} |\n");
        out += &format!("| 9 | 4 | *header* body_length | u32 | {body_len} |\n");
        if rows.is_empty() {
            out += &format!("| {HEADER_LEN} | 0 | *(body)* | empty | — |\n");
        }
        for row in &rows {
            out += &format!(
                "| {} | {} | `{}` | {} | {} |\n",
                row.offset + HEADER_LEN,
                row.bytes.len(),
                row.field,
                row.encoding.replace('<', "\\<").replace('>', "\\>"),
                row.value,
            );
        }
        out += &format!("\nTotal frame length: {} bytes.\n", frame.len());
        out
    }

    /// The rows with the notes added, each to the value and the comment of
    /// the last row of its field.
    fn noted_rows(&self) -> Vec<Row> {
        let mut rows = self.rows.clone();
        for (field, text) in &self.notes {
            let row = rows
                .iter_mut()
                .rev()
                .find(|r| r.field == *field)
                .unwrap_or_else(|| panic!("{} {}: no field {field} for a note", self.kind, self.name));
            row.value += text;
            row.comment += text;
        }
        rows
    }
}

/// `00 01 02`.
fn spaced(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}
