//! A value's wire bytes with one row per field: offset, size, the field's
//! path, its encoding and its value, as the document's hex examples show
//! them. It is a serde `Serializer` that writes what the wire codec writes
//! (bincode 2, big-endian, fixed-width integers, `u64` lengths, `u32`
//! variant indexes, a `u8` option tag); every example, as it is built,
//! checks its bytes against the codec's.
//!
//! Some fields hold encoded values of their own and are opened: an update's
//! `body` (annotated as its kind's body), a media message's `content` (its
//! `MediaContent`) and a System message's `content` (its `GroupEvent`,
//! described in one row).

use kith::codec::decode_wire;
use kith::protocol::{ErrorCode, GroupEvent, MediaContent, RateLimitReason, UpdateBody, UpdateKind};
use serde::ser::{self, Serialize};
use std::fmt;

/// One annotated field.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) offset: usize,
    pub(crate) bytes: Vec<u8>,
    pub(crate) field: String,
    pub(crate) encoding: String,
    pub(crate) value: String,
    /// What the hex line's comment says after the field.
    pub(crate) comment: String,
}

/// A value's bytes and rows.
pub(crate) fn annotate<T: Serialize + ?Sized>(value: &T) -> Vec<Row> {
    let mut a = Annotator::default();
    value.serialize(&mut a).unwrap_or_else(|e| panic!("cannot annotate: {e}"));
    a.rows
}

/// A value too odd for the wire (a map, a float): examples never hold one.
#[derive(Debug)]
pub(crate) struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

#[derive(Default)]
struct Annotator {
    rows: Vec<Row>,
    offset: usize,
    /// Path segments of the field being written.
    path: Vec<String>,
    /// Names of the structs being written, innermost last.
    structs: Vec<&'static str>,
    /// Each open struct's `kind`, once written: an update's or a message's.
    kinds: Vec<Option<u64>>,
    /// The name of the next value's type, wanted by an option tag or a
    /// list count that precedes it.
    probe: Option<usize>,
    /// Inside a fixed-size array: its bytes, gathered into one row.
    array: Option<Vec<u8>>,
    /// Each open list's field name and the index of its next element.
    lists: Vec<(String, usize)>,
}

impl Annotator {
    fn field(&self) -> String {
        self.path.join(".")
    }

    fn last(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or_default()
    }

    fn push(&mut self, bytes: Vec<u8>, encoding: impl Into<String>, value: impl Into<String>, comment: String) {
        self.rows.push(Row {
            offset: self.offset,
            field: self.field(),
            encoding: encoding.into(),
            value: value.into(),
            comment,
            bytes: bytes.clone(),
        });
        self.offset += bytes.len();
    }

    /// Names the type a preceding option tag or list count announced.
    fn saw(&mut self, name: &str) {
        if let Some(row) = self.probe.take() {
            let row = &mut self.rows[row];
            row.encoding = row.encoding.replacen("<?>", &format!("<{name}>"), 1);
        }
    }

    fn integer(&mut self, bytes: Vec<u8>, v: u64, encoding: &str) -> Result<(), Unsupported> {
        if let Some(array) = &mut self.array {
            array.extend(bytes);
            return Ok(());
        }
        self.saw(encoding);
        let struct_name = self.structs.last().copied().unwrap_or_default();
        let (value, comment) = match (struct_name, self.last()) {
            ("Update", "kind") => {
                let name = UpdateKind::from_byte(v as u8).map(|k| k.name()).unwrap_or("unknown");
                (format!("{v} = {name}"), format!("{v} ({name})"))
            }
            // Kept raw so a client survives numbers newer than itself.
            ("ErrorBody", "code") => {
                let name = ErrorCode::try_from(v as u16).map(|c| format!("{c:?}")).unwrap_or("unknown".into());
                (format!("{v} ({name})"), format!("{v} ({name})"))
            }
            ("ErrorBody", "reason") => {
                let name = RateLimitReason::try_from(v as u8).map(|c| format!("{c:?}")).unwrap_or("unknown".into());
                (format!("{v} ({name})"), format!("{v} ({name})"))
            }
            (_, field) => match zero_means(field).filter(|_| v == 0) {
                Some(meaning) => (format!("0 ({meaning})"), format!("0 ({meaning})")),
                None => (with_note(v), v.to_string()),
            },
        };
        if self.last() == "kind" {
            if let Some(kind) = self.kinds.last_mut() {
                *kind = Some(v);
            }
        }
        self.push(bytes, encoding, value, format!(" = {comment}"));
        Ok(())
    }

    fn length(&mut self, n: usize, encoding: &str, what: &str) {
        self.push((n as u64).to_be_bytes().to_vec(), encoding, n.to_string(), format!(": {what} {n}"));
    }

    /// A field that holds encoded bytes of its own, opened if it is one
    /// this annotator knows.
    fn opened(&mut self, bytes: &[u8]) -> bool {
        let struct_name = self.structs.last().copied().unwrap_or_default();
        let kind = self.kinds.last().copied().flatten();
        match (struct_name, self.last(), kind) {
            ("Update", "body", Some(kind)) => {
                let Ok(Some(body)) = UpdateBody::decode(kind as u8, bytes) else { return false };
                self.length(bytes.len(), "bytes length (u64)", "length");
                let before = self.offset;
                body.serialize(&mut *self).is_ok() && self.offset == before + bytes.len()
            }
            ("Message" | "SendRequest", "content", Some(2..=5)) => {
                let Ok(media) = decode_wire::<MediaContent>(bytes) else { return false };
                self.length(bytes.len(), "bytes length (u64)", "length");
                media.serialize(&mut *self).is_ok()
            }
            ("Message", "content", Some(8)) if !bytes.is_empty() => {
                let Ok(event) = decode_wire::<GroupEvent>(bytes) else { return false };
                self.length(bytes.len(), "bytes length (u64)", "length");
                let note = describe_event(&event, bytes.len());
                self.push(bytes.to_vec(), "bytes", note.clone(), format!(": {note}"));
                true
            }
            _ => false,
        }
    }
}

/// "GroupEvent variant 1 Joined: user_id 3, by 1 (20 bytes)".
fn describe_event(event: &GroupEvent, size: usize) -> String {
    let rows = annotate(event);
    let variant = &rows[0];
    let name = variant.value.split(" = ").nth(1).unwrap_or_default();
    let fields: Vec<String> = rows[1..]
        .iter()
        .filter(|r| !r.encoding.contains("length") && !r.encoding.contains("tag"))
        .map(|r| {
            let field = r.field.rsplit('.').next().unwrap_or_default();
            let value = r.value.split(" (").next().unwrap_or_default();
            format!("{field} {value}")
        })
        .collect();
    let number = variant.value.split(' ').next().unwrap_or_default();
    match fields.is_empty() {
        true => format!("GroupEvent variant {number} {name} ({size} bytes)"),
        false => format!("GroupEvent variant {number} {name}: {} ({size} bytes)", fields.join(", ")),
    }
}

/// What 0 means in fields where it stands for "nothing".
fn zero_means(field: &str) -> Option<&'static str> {
    Some(match field {
        "avatar" | "reply_to" => "none",
        "edited" => "never",
        "answered_at" => "not answered",
        "answered_by" => "pending",
        "muted_until" => "not muted",
        "pinned_at" => "not pinned",
        _ => return None,
    })
}

/// A number with what it reads as: a time in milliseconds gets its date,
/// a snowflake id its parts.
fn with_note(v: u64) -> String {
    const MS_2020: u64 = 1_577_836_800_000;
    const MS_2040: u64 = 2_208_988_800_000;
    if (MS_2020..MS_2040).contains(&v) {
        return format!("{v} ({})", date(v));
    }
    let ms = kith::id::id_time_ms(v);
    if v >= 1 << 40 && (MS_2020..MS_2040).contains(&ms) {
        return format!("{v} ({v:#x}: ms {ms}, node {}, seq {})", (v >> 12) & 0x3ff, v & 0xfff);
    }
    v.to_string()
}

/// `2026-01-01T00:00:01.234Z`.
fn date(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("a date");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Text a reader can take as text, or `None`.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|s| !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '|'))
}

impl ser::Serializer for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.saw("bool");
        self.push(vec![v as u8], "bool", v.to_string(), format!(" = {v}"));
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.integer(vec![v], v.into(), "u8")
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.integer(v.to_be_bytes().to_vec(), v.into(), "u16")
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.integer(v.to_be_bytes().to_vec(), v.into(), "u32")
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(v.to_be_bytes().to_vec(), v, "u64")
    }

    fn serialize_i8(self, _: i8) -> Result<(), Unsupported> {
        Err(Unsupported("i8".into()))
    }

    fn serialize_i16(self, _: i16) -> Result<(), Unsupported> {
        Err(Unsupported("i16".into()))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.saw("i32");
        self.push(v.to_be_bytes().to_vec(), "i32 (two's complement)", v.to_string(), format!(" = {v}"));
        Ok(())
    }

    fn serialize_i64(self, _: i64) -> Result<(), Unsupported> {
        Err(Unsupported("i64".into()))
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported("f32".into()))
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported("f64".into()))
    }

    fn serialize_char(self, _: char) -> Result<(), Unsupported> {
        Err(Unsupported("char".into()))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.saw("String");
        if v.is_empty() {
            self.push(vec![0; 8], "String length (u64)", "0 (\"\")", " = \"\"".into());
            return Ok(());
        }
        self.length(v.len(), "String length (u64)", "length");
        let quoted = quote(v);
        self.push(v.as_bytes().to_vec(), "String bytes (UTF-8)", quoted.clone(), format!(" = {quoted}"));
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Unsupported> {
        self.saw("Bytes");
        if self.opened(v) {
            return Ok(());
        }
        self.length(v.len(), "bytes length (u64)", "length");
        if v.is_empty() {
            return Ok(());
        }
        // A message's content is often text; other byte fields never are.
        let (value, comment) = match text(v).filter(|_| self.last() == "content") {
            Some(t) => (format!("{} (UTF-8 text)", quote(t)), format!(": {}", quote(t))),
            None if v.len() <= 64 => (hex(v), ": bytes".to_string()),
            None => (format!("{} bytes", v.len()), ": bytes".to_string()),
        };
        self.push(v.to_vec(), "bytes", value, comment);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.push(vec![0], "Option tag", "0 = None", ": None".into());
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Unsupported> {
        self.push(vec![1], "Option<?> tag", "1 = Some", ": Some".into());
        self.probe = Some(self.rows.len() - 1);
        value.serialize(&mut *self)?;
        self.probe = None;
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        Ok(())
    }

    fn serialize_unit_variant(self, name: &'static str, index: u32, variant: &'static str) -> Result<(), Unsupported> {
        self.saw(name);
        self.variant(name, index, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, name: &'static str, value: &T) -> Result<(), Unsupported> {
        // A field-less enum (the protocol's wire enums): its number, named.
        self.saw(name);
        let at = self.rows.len();
        value.serialize(&mut *self)?;
        if let Some(row) = self.rows.get_mut(at) {
            let number: u64 = row.value.parse().unwrap_or_default();
            let variant = variant_name(name, number);
            row.encoding = format!("{name} ({})", row.encoding);
            row.value = format!("{number} = {variant}");
            row.comment = format!(" = {number} ({variant})");
        }
        Ok(())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.saw(name);
        self.variant(name, index, variant);
        if name == "Target" {
            // A Target's id, at the Target's own field: "u64 user id".
            let at = self.rows.len();
            value.serialize(&mut *self)?;
            let kind = variant.to_lowercase();
            if let Some(row) = self.rows.get_mut(at) {
                row.encoding = format!("u64 {kind} id");
                row.comment = format!(": {kind} id {}", row.value);
            }
            return Ok(());
        }
        self.path.push(variant.to_string());
        value.serialize(&mut *self)?;
        self.path.pop();
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Unsupported> {
        let len = len.ok_or_else(|| Unsupported("a list of unknown length".into()))?;
        self.saw("Vec");
        self.length(len, "Vec<?> count (u64)", "count");
        self.probe = (len > 0).then(|| self.rows.len() - 1);
        if len == 0 {
            let row = self.rows.len() - 1;
            self.rows[row].encoding = "Vec count (u64)".into();
        }
        self.lists.push((self.last().to_string(), 0));
        Ok(self)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self, Unsupported> {
        self.saw(&format!("[u8; {len}]"));
        self.array = Some(Vec::with_capacity(len));
        Ok(self)
    }

    fn serialize_tuple_struct(self, name: &'static str, _: usize) -> Result<Self, Unsupported> {
        Err(Unsupported(format!("tuple struct {name}")))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Unsupported> {
        Err(Unsupported(format!("tuple variant of {name}")))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, Unsupported> {
        Err(Unsupported("map".into()))
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self, Unsupported> {
        self.saw(name);
        self.structs.push(name);
        self.kinds.push(None);
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, Unsupported> {
        self.saw(name);
        self.variant(name, index, variant);
        self.path.push(variant.to_string());
        self.structs.push(variant);
        self.kinds.push(None);
        Ok(self)
    }
}

impl Annotator {
    /// An enum's variant index, named for its field, or for the enum at
    /// the top of a body. The variant's data goes on under the variant's
    /// name (`Requested.id`), a Target's id at the Target's own field.
    fn variant(&mut self, name: &str, index: u32, variant: &str) {
        let top = self.path.is_empty();
        if top {
            self.path.push(name.to_string());
        }
        self.push(
            index.to_be_bytes().to_vec(),
            format!("{name} variant (u32)"),
            format!("{index} = {variant}"),
            format!(": variant {index} = {variant}"),
        );
        if top {
            self.path.pop();
        }
    }

    fn end_struct(&mut self) {
        self.structs.pop();
        self.kinds.pop();
    }
}

/// The name of a wire enum's value, for the document's "1 = Text".
fn variant_name(name: &str, number: u64) -> String {
    use kith::protocol::*;
    macro_rules! names {
        ($($ty:ident),*) => {
            match name {
                $( stringify!($ty) => $ty::ALL.iter().find(|v| **v as u64 == number).map(|v| format!("{v:?}")), )*
                _ => None,
            }
        };
    }
    names!(
        MessageKind,
        Direction,
        Gender,
        Discoverable,
        Audience,
        FriendPolicy,
        RequestState,
        RequestBox,
        DeviceType,
        ClientType,
        JoinPolicy,
        GroupRole,
        ErrorCode,
        RateLimitReason,
        DisconnectReason,
        MediaPurpose,
        MomentAudience,
        MomentWindow
    )
    .unwrap_or_else(|| panic!("{name} has no value {number}"))
}

/// Text in quotes that it does not hold.
fn quote(text: &str) -> String {
    match text.contains('"') {
        true => format!("'{text}'"),
        false => format!("\"{text}\""),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ser::SerializeSeq for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    /// An element is named by its list's field and its index: `updates[1]`.
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsupported> {
        let Some((field, index)) = self.lists.last_mut() else { unreachable!("an element outside a list") };
        let named = format!("{field}[{index}]");
        *index += 1;
        let Some(last) = self.path.last_mut() else { unreachable!("a list that is the whole body") };
        *last = named;
        value.serialize(&mut **self)
    }

    fn end(self) -> Result<(), Unsupported> {
        if let (Some((field, _)), Some(last)) = (self.lists.pop(), self.path.last_mut()) {
            *last = field;
        }
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result<(), Unsupported> {
        let bytes = self.array.take().unwrap_or_default();
        let len = bytes.len();
        self.push(bytes.clone(), format!("[u8; {len}] (no length)"), hex(&bytes), format!(" ({len} raw bytes)"));
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported("tuple struct".into()))
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported("tuple variant".into()))
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported("map".into()))
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported("map".into()))
    }

    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
        self.path.push(key.to_string());
        let result = value.serialize(&mut **self);
        self.path.pop();
        result
    }

    fn end(self) -> Result<(), Unsupported> {
        self.end_struct();
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Annotator {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.end_struct();
        self.path.pop();
        Ok(())
    }
}
