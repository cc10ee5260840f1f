//! Cold runs of a conversation's log, sealed into blocks.
//!
//! sled holds in memory an entry of its page table for every node of its
//! tree, and a leaf splits past 16 keys, so memory at rest grows with the
//! number of keys, whatever their size: a message under a key of its own
//! costs memory for as long as it is kept. A message older than
//! `conversation.seal_after_secs` seldom changes (an edit, a recall, a
//! reaction's tombstone, the purge), so the seal sweep moves such messages,
//! in id order, into blocks: one value holding a run of consecutive
//! messages of one conversation, keyed by the first id sealed into it.
//!
//! A message is either loose in the log or in exactly one block, and
//! readers merge the two ([`Merged`]). A conversation's blocks never
//! overlap: the sweep seals only messages newer than the conversation's
//! last block, and a new message's id is above every id given before. So
//! the block holding an id is the one with the highest key at or below it.

use std::collections::HashSet;
use std::iter::Peekable;

use serde::{Deserialize, Serialize};

use super::{Conversation, StoredMessage};
use crate::service::Tx;
use crate::storage::{schema, Audit, Get, Keyspace, Migrator, StorageError, Store};

/// Messages one block holds at most.
const BLOCK_MESSAGES: usize = 64;

/// Bytes of content one block takes at most before it is full (a message
/// larger than this is a block of its own). sled writes a node larger than
/// a quarter of its 512 KiB segment to a file of its own, and a leaf holds
/// up to 17 values: 17 blocks of this size stay well below.
const BLOCK_BYTES: usize = 6 * 1024;

/// What a message adds to a block besides its content: id, sender, client
/// message id and the encoding's lengths, as the budget counts them.
const MESSAGE_OVERHEAD: usize = 48;

/// A run of consecutive messages of one conversation, ascending by id.
/// Stored compressed ([`Packed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Packed", try_from = "Packed")]
pub(super) struct Block {
    messages: Vec<(u64, StoredMessage)>,
}

/// A block as it is stored: its messages' encoding, compressed with LZ4.
/// A block is read and written whole, and a run of chat in one
/// conversation repeats itself (words, names, the encoding's framing): it
/// packs to about two thirds, and sled keeps fewer, smaller pages.
#[derive(Serialize, Deserialize)]
struct Packed {
    /// Length of the encoding before compression.
    plain: u32,
    #[serde(with = "serde_bytes")]
    lz4: Vec<u8>,
}

/// LZ4 expands at most 255 bytes from one: a larger claimed length is
/// corrupt, refused before anything is allocated for it.
const LZ4_MAX_RATIO: usize = 255;

impl From<Block> for Packed {
    fn from(block: Block) -> Packed {
        let plain = crate::codec::encode_stored(&block.messages);
        Packed { plain: plain.len() as u32, lz4: lz4_flex::block::compress(&plain) }
    }
}

impl TryFrom<Packed> for Block {
    type Error = String;

    fn try_from(packed: Packed) -> Result<Block, String> {
        let plain = packed.plain as usize;
        if plain > packed.lz4.len().saturating_mul(LZ4_MAX_RATIO) {
            return Err(format!("a block of {} bytes cannot expand to {plain}", packed.lz4.len()));
        }
        let bytes = lz4_flex::block::decompress(&packed.lz4, plain).map_err(|e| e.to_string())?;
        let messages = crate::codec::decode_stored(&bytes).map_err(|e| e.to_string())?;
        Ok(Block { messages })
    }
}

/// A block as version 13 stored it, uncompressed: the step to version 14
/// reads it ([`compress_blocks`]).
#[derive(Serialize, Deserialize)]
struct PlainBlock {
    messages: Vec<(u64, StoredMessage)>,
}

impl Block {
    fn bytes(&self) -> usize {
        self.messages.iter().map(|(_, m)| m.size() + MESSAGE_OVERHEAD).sum()
    }

    fn last_id(&self) -> u64 {
        self.messages.last().map_or(0, |(id, _)| *id)
    }

    fn has_room_for(&self, message: &StoredMessage) -> bool {
        self.messages.len() < BLOCK_MESSAGES && self.bytes() + message.size() + MESSAGE_OVERHEAD <= BLOCK_BYTES
    }
}

const BLOCKS: Keyspace<(Conversation, u64), Block> = Keyspace::new(&schema::CONVBLOCK_MESSAGES);

type Entry<T> = Result<(u64, T), StorageError>;

/// The sealed messages of a conversation with ids in `lo..=hi`, ascending
/// (or descending when `forward` is false).
pub(super) fn messages<'r>(
    r: &'r impl Get,
    conversation: Conversation,
    lo: u64,
    hi: u64,
    forward: bool,
) -> Box<dyn Iterator<Item = Entry<StoredMessage>> + 'r> {
    let start = match at_or_below(r, conversation, lo) {
        Ok(found) => found.map_or(lo, |(key, _)| key),
        Err(e) => return Box::new(std::iter::once(Err(e))),
    };
    if start > hi {
        return Box::new(std::iter::empty());
    }
    let blocks = if forward {
        r.range(&BLOCKS, (conversation, start)..=(conversation, hi))
    } else {
        r.range_descending(&BLOCKS, (conversation, start)..=(conversation, hi))
    };
    Box::new(blocks.flat_map(move |entry| {
        let within: Vec<Entry<StoredMessage>> = match entry {
            Ok((_, block)) => {
                let mut within: Vec<_> =
                    block.messages.into_iter().filter(|(id, _)| (lo..=hi).contains(id)).map(Ok).collect();
                if !forward {
                    within.reverse();
                }
                within
            }
            Err(e) => vec![Err(e)],
        };
        within
    }))
}

/// The block with the highest key at or below `id`, with its key: the only
/// one that may hold `id` (with `u64::MAX`, the conversation's last block).
fn at_or_below(r: &impl Get, conversation: Conversation, id: u64) -> Result<Option<(u64, Block)>, StorageError> {
    let found = r.range_descending(&BLOCKS, (conversation, 0)..=(conversation, id)).next().transpose()?;
    Ok(found.map(|((_, key), block)| (key, block)))
}

/// The block holding message `id`, with its key.
fn holder(r: &impl Get, conversation: Conversation, id: u64) -> Result<Option<(u64, Block)>, StorageError> {
    Ok(at_or_below(r, conversation, id)?.filter(|(_, block)| block.last_id() >= id))
}

/// A sealed message.
pub(super) fn get(r: &impl Get, conversation: Conversation, id: u64) -> Result<Option<StoredMessage>, StorageError> {
    let Some((_, block)) = holder(r, conversation, id)? else { return Ok(None) };
    Ok(block.messages.binary_search_by_key(&id, |(id, _)| *id).ok().map(|at| block.messages[at].1.clone()))
}

/// Replaces a sealed message (an edit, a tombstone) in its block; false
/// when no block holds `id`.
pub(super) fn replace(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    id: u64,
    message: &StoredMessage,
) -> Result<bool, StorageError> {
    let Some((key, mut block)) = holder(tx, conversation, id)? else { return Ok(false) };
    let Ok(at) = block.messages.binary_search_by_key(&id, |(id, _)| *id) else { return Ok(false) };
    block.messages[at].1 = message.clone();
    tx.put(&BLOCKS, &(conversation, key), &block);
    Ok(true)
}

/// Removes the sealed ones among `ids` (ascending) from their blocks; a
/// block left empty goes. A block keeps its key when its first message
/// goes: the key stays at or below every id it holds.
pub(super) fn remove(tx: &mut Tx<'_>, conversation: Conversation, ids: &[u64]) -> Result<(), StorageError> {
    let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else { return Ok(()) };
    let start = at_or_below(tx, conversation, lo)?.map_or(lo, |(key, _)| key);
    let blocks: Vec<((Conversation, u64), Block)> =
        tx.range(&BLOCKS, (conversation, start)..=(conversation, hi)).collect::<Result<_, _>>()?;
    for (key, mut block) in blocks {
        let before = block.messages.len();
        block.messages.retain(|(id, _)| ids.binary_search(id).is_err());
        match block.messages.len() {
            0 => tx.delete(&BLOCKS, &key),
            n if n < before => tx.put(&BLOCKS, &key, &block),
            _ => {}
        }
    }
    Ok(())
}

/// Sealed messages of a conversation with ids from `from` on.
pub(super) fn count_from(r: &impl Get, conversation: Conversation, from: u64) -> Result<u64, StorageError> {
    let mut n = 0;
    for entry in messages(r, conversation, from, u64::MAX, true) {
        entry?;
        n += 1;
    }
    Ok(n)
}

/// Seals `run` (loose messages of one conversation, ascending) into the
/// conversation's blocks, filling its last block first; returns the ids
/// sealed, which the caller removes from the log. Messages at or below
/// the last block's end stay loose, so blocks never overlap.
pub(super) fn seal(
    tx: &mut Tx<'_>,
    conversation: Conversation,
    run: Vec<(u64, StoredMessage)>,
) -> Result<Vec<u64>, StorageError> {
    let last = at_or_below(tx, conversation, u64::MAX)?;
    let floor = last.as_ref().map_or(0, |(_, block)| block.last_id());
    // The block being filled, and whether it changed.
    let mut open = last.map(|(key, block)| (key, block, false));
    let mut sealed = Vec::new();
    for (id, message) in run.into_iter().filter(|(id, _)| *id > floor) {
        match &mut open {
            Some((_, block, changed)) if block.has_room_for(&message) => {
                block.messages.push((id, message));
                *changed = true;
            }
            _ => {
                if let Some((key, block, true)) = open.take() {
                    tx.put(&BLOCKS, &(conversation, key), &block);
                }
                open = Some((id, Block { messages: vec![(id, message)] }, true));
            }
        }
        sealed.push(id);
    }
    if let Some((key, block, true)) = open {
        tx.put(&BLOCKS, &(conversation, key), &block);
    }
    Ok(sealed)
}

/// Every block is stored compressed (layout version 14).
pub(crate) fn compress_blocks(m: &mut Migrator<'_>) -> Result<(), StorageError> {
    m.reshape(&BLOCKS, |old: PlainBlock| Block { messages: old.messages })
}

/// Deletes at most `most` blocks of a conversation nobody can read any
/// more; how many it deleted.
pub(super) fn erase(tx: &mut Tx<'_>, conversation: Conversation, most: usize) -> Result<usize, StorageError> {
    tx.delete_some(&BLOCKS, &conversation, most)
}

/// What the blocks hold.
pub(super) struct Stats {
    pub blocks: u64,
    pub messages: u64,
    pub group_messages: u64,
    /// The 1:1 conversations with a block.
    pub conversations: HashSet<Conversation>,
}

/// Counts the blocks and the messages in them (a scan of every block).
pub(super) fn stats(store: &Store) -> Result<Stats, StorageError> {
    let mut stats = Stats { blocks: 0, messages: 0, group_messages: 0, conversations: HashSet::new() };
    for entry in store.all(&BLOCKS) {
        let ((conversation, _), block) = entry?;
        let n = block.messages.len() as u64;
        stats.blocks += 1;
        stats.messages += n;
        match conversation {
            Conversation::Group(_) => stats.group_messages += n,
            Conversation::Direct { .. } => {
                stats.conversations.insert(conversation);
            }
        }
    }
    Ok(stats)
}

/// Checks restored blocks: each decodes and holds messages ascending from
/// its key, at or below the id high-water mark; a conversation's blocks do
/// not overlap; and no message is both sealed and loose (`loose` says
/// whether the log holds an id loose).
pub(super) fn check(
    store: &Audit<'_>,
    highwater: u64,
    loose: impl Fn(Conversation, u64) -> Result<bool, StorageError>,
) -> Result<(), String> {
    let mut previous: Option<(Conversation, u64)> = None;
    for entry in store.all(&BLOCKS) {
        let ((conversation, key), block) = entry.map_err(|e| e.to_string())?;
        let place = format!("block {key} of {conversation:?}");
        let ids: Vec<u64> = block.messages.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() || ids[0] < key || ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("{place} is empty or not in id order from its key"));
        }
        if block.last_id() > highwater {
            return Err(format!("{place} holds an id above the id high-water mark {highwater}"));
        }
        if matches!(previous, Some((c, end)) if c == conversation && end >= key) {
            return Err(format!("{place} overlaps the block before it"));
        }
        for &id in &ids {
            if loose(conversation, id).map_err(|e| e.to_string())? {
                return Err(format!("message {id} of {conversation:?} is both in {place} and loose"));
            }
        }
        previous = Some((conversation, block.last_id()));
    }
    Ok(())
}

/// Two id-ordered streams of one conversation's log, loose and sealed, as
/// one stream in the same order.
pub(super) struct Merged<A: Iterator, B: Iterator> {
    loose: Peekable<A>,
    sealed: Peekable<B>,
    forward: bool,
}

impl<A: Iterator, B: Iterator> Merged<A, B> {
    pub(super) fn new(loose: A, sealed: B, forward: bool) -> Self {
        Merged { loose: loose.peekable(), sealed: sealed.peekable(), forward }
    }
}

impl<T, A, B> Iterator for Merged<A, B>
where
    A: Iterator<Item = Entry<T>>,
    B: Iterator<Item = Entry<T>>,
{
    type Item = Entry<T>;

    fn next(&mut self) -> Option<Entry<T>> {
        let loose_first = match (self.loose.peek(), self.sealed.peek()) {
            (None, None) => return None,
            (Some(Err(_)), _) | (Some(_), None) => true,
            (_, Some(Err(_))) | (None, Some(_)) => false,
            (Some(Ok((a, _))), Some(Ok((b, _)))) => (a < b) == self.forward,
        };
        if loose_first {
            self.loose.next()
        } else {
            self.sealed.next()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_stored, encode_stored};
    use crate::protocol::MessageKind;
    use crate::storage::{Migration, StorageConfig};

    const TALK: Conversation = Conversation::Direct { low: 1, high: 2 };
    const PLAIN: Keyspace<(Conversation, u64), PlainBlock> = Keyspace::new(&schema::CONVBLOCK_MESSAGES);

    fn run(from: u64) -> Vec<(u64, StoredMessage)> {
        (from..from + 20)
            .map(|id| {
                let text = format!("message {id}: see you at the station at {} tomorrow?", id % 12);
                let message = StoredMessage {
                    sender: 1 + id % 2,
                    client_msg_id: [id as u8; 16],
                    kind: MessageKind::Text,
                    content: text.into_bytes(),
                    extra: None,
                    reply_to: 0,
                    edited: 0,
                    mentions: Vec::new(),
                };
                (id, message)
            })
            .collect()
    }

    fn nothing(_: &mut Migrator<'_>) -> Result<(), StorageError> {
        Ok(())
    }

    fn plain_blocks(m: &mut Migrator<'_>) -> Result<(), StorageError> {
        for from in [100, 200] {
            m.put(&PLAIN, &(TALK, from), &PlainBlock { messages: run(from) })?;
        }
        Ok(())
    }

    /// Opens the store a moment after it was closed: sled lets go of its
    /// lock shortly after the handle is dropped.
    fn open(dir: &std::path::Path, steps: &[Migration]) -> Store {
        for _ in 0..100 {
            match Store::open(dir, &StorageConfig::default(), steps) {
                Err(StorageError::Sled(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => return opened.unwrap(),
            }
        }
        panic!("{} stayed locked", dir.display());
    }

    /// Blocks version 13 stored whole read the same after the step to
    /// version 14, which stores them compressed.
    #[test]
    fn uncompressed_blocks_are_compressed_by_the_step_and_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let at_12 = Migration { version: 12, describe: "", run: nothing };
        let to_13 = Migration { version: 13, describe: "uncompressed blocks", run: plain_blocks };
        let to_14 = Migration { version: 14, describe: "compressed blocks", run: compress_blocks };
        drop(open(dir.path(), &[at_12]));
        let at_12 = Migration { version: 12, describe: "", run: nothing };
        let store = open(dir.path(), &[at_12, to_13]);
        assert_eq!(store.all(&PLAIN).count(), 2);
        drop(store);
        let at_12 = Migration { version: 12, describe: "", run: nothing };
        let to_13 = Migration { version: 13, describe: "uncompressed blocks", run: plain_blocks };
        let store = open(dir.path(), &[at_12, to_13, to_14]);
        let read: Vec<(u64, StoredMessage)> =
            messages(&store, TALK, 0, u64::MAX, true).collect::<Result<_, _>>().unwrap();
        assert_eq!(read, [run(100), run(200)].concat());
        assert!(store.all(&PLAIN).all(|entry| entry.is_err()), "every block is stored in the new shape");
    }

    /// A stored block that claims to expand past what LZ4 can is refused
    /// before anything is allocated for it.
    #[test]
    fn a_block_claiming_more_than_lz4_expands_to_is_refused() {
        let packed = Packed { plain: u32::MAX, lz4: vec![0; 16] };
        assert!(Block::try_from(packed).unwrap_err().contains("cannot expand"));
        let block = Block { messages: run(1) };
        let (packed, plain) = (encode_stored(&block), encode_stored(&PlainBlock { messages: run(1) }));
        assert!(packed.len() * 2 < plain.len(), "{} bytes compressed against {}", packed.len(), plain.len());
        assert_eq!(decode_stored::<Block>(&packed).unwrap(), block);
    }
}
