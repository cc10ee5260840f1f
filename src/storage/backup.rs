//! Backup files: every tree's keys and values, then the files the database
//! names (media), in one checksummed stream.
//!
//! ```text
//! "KITHBAK1"  schema u32
//! { 0x01 name_len u32 name  { 0x02 key_len u32 key value_len u32 value }* }*
//! { 0x03 sha256[32] size u64 bytes }*
//! 0x00  sha256(all bytes before it)
//! ```
//!
//! All integers are big-endian. The server writes the trees on its write
//! thread, so no durable write lands halfway through them and they are one
//! consistent point in time; the files follow (their contents never change,
//! and the caller keeps them from being deleted meanwhile). Restoring checks
//! each file against the hash it is named by, and the whole stream against
//! the checksum, before it declares success, and removes what it wrote if
//! the file is damaged. The schema is the layout version of the data: a
//! backup from an older kith is restored as it was and migrated when the
//! store is next opened; one from a newer kith is refused.

use std::io::{self, Read, Write};
use std::path::Path;

use ring::digest::{Context, SHA256};

use super::{StorageError, Store};

const MAGIC: &[u8; 8] = b"KITHBAK1";
const TREE: u8 = 1;
const ENTRY: u8 = 2;
const FILE: u8 = 3;
const END: u8 = 0;
/// Longest key or value accepted when restoring.
const MAX_FIELD: u32 = 64 * 1024 * 1024;

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Trees restored.
    pub trees: u64,
    /// Key/value pairs restored.
    pub entries: u64,
    /// The layout version the backup was taken at.
    pub schema: u32,
    /// Files restored.
    pub files: u64,
}

/// Where a restore puts the files of a backup: called with each file's
/// name (its SHA-256), size and bytes, it stores them and checks that they
/// have that hash.
pub type FileSink<'a> = &'a mut dyn FnMut(&[u8; 32], u64, &mut dyn Read) -> io::Result<()>;

/// A backup being written: the trees are in; files may follow, then
/// [`Backup::finish`] seals it.
pub struct Backup<W: Write> {
    out: Hashing<io::BufWriter<W>>,
    entries: u64,
}

/// A backup's running checksum and count, to go on writing it to another
/// writer ([`Backup::pause`], [`Backup::resume`]).
pub struct Paused {
    hash: Context,
    entries: u64,
}

impl<W: Write> Backup<W> {
    /// Adds a file of `size` bytes named by its SHA-256.
    pub fn file(&mut self, hash: &[u8; 32], size: u64, content: impl Read) -> Result<(), StorageError> {
        self.out.write_all(&[FILE])?;
        self.out.write_all(hash)?;
        self.out.write_all(&size.to_be_bytes())?;
        let copied = io::copy(&mut content.take(size), &mut self.out)?;
        if copied != size {
            return Err(StorageError::Io(io::Error::other(format!("a file of {size} bytes ended at {copied}"))));
        }
        Ok(())
    }

    /// Flushes what was written and keeps the checksum, to go on elsewhere.
    pub fn pause(mut self) -> Result<Paused, StorageError> {
        self.out.flush()?;
        Ok(Paused { hash: self.out.hash, entries: self.entries })
    }

    /// Goes on with a paused backup, on `out` (after its earlier bytes).
    pub fn resume(out: W, paused: Paused) -> Backup<W> {
        Backup {
            out: Hashing { inner: io::BufWriter::with_capacity(256 * 1024, out), hash: paused.hash },
            entries: paused.entries,
        }
    }

    /// Ends the backup with its checksum; returns how many entries it holds.
    pub fn finish(mut self) -> Result<u64, StorageError> {
        self.out.write_all(&[END])?;
        let digest = self.out.hash.finish();
        self.out.inner.write_all(digest.as_ref())?;
        self.out.inner.flush()?;
        Ok(self.entries)
    }
}

struct Hashing<W> {
    inner: W,
    hash: Context,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn field<W: Write>(out: &mut W, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_be_bytes())?;
    out.write_all(bytes)
}

impl Store {
    /// Starts a backup on `out` with every tree; files may follow.
    pub fn export<W: Write>(&self, out: W) -> Result<Backup<W>, StorageError> {
        let mut out = Hashing { inner: io::BufWriter::with_capacity(256 * 1024, out), hash: Context::new(&SHA256) };
        out.write_all(MAGIC)?;
        out.write_all(&self.version.to_be_bytes())?;
        let mut entries = 0;
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            out.write_all(&[TREE])?;
            field(&mut out, &name)?;
            for item in tree.iter() {
                let (k, v) = item?;
                out.write_all(&[ENTRY])?;
                field(&mut out, &k)?;
                field(&mut out, &v)?;
                entries += 1;
            }
        }
        Ok(Backup { out, entries })
    }

    /// Restores a backup into `data_dir`, which must hold no database yet,
    /// handing its files to `files`. Backups of layouts newer than
    /// `supported` are refused.
    pub fn restore(
        data_dir: &Path,
        input: impl Read,
        supported: u32,
        files: FileSink<'_>,
    ) -> Result<Restored, StorageError> {
        let dir = data_dir.join("sled");
        if dir.exists() {
            return Err(StorageError::Restore(format!(
                "{} already holds a database; restore into an empty directory",
                dir.display()
            )));
        }
        let result = restore_into(&dir, input, supported, files);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }
}

struct Reader<R> {
    inner: R,
    hash: Context,
}

impl<R: Read> Reader<R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read_exact(buf).map_err(|e| damaged(&format!("truncated ({e})")))?;
        self.hash.update(buf);
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, StorageError> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    fn field(&mut self) -> Result<Vec<u8>, StorageError> {
        let mut len = [0u8; 4];
        self.exact(&mut len)?;
        let len = u32::from_be_bytes(len);
        if len > MAX_FIELD {
            return Err(damaged("field length out of range"));
        }
        let mut out = vec![0u8; len as usize];
        self.exact(&mut out)?;
        Ok(out)
    }
}

/// A file's bytes, read through the stream's checksum.
impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn damaged(what: &str) -> StorageError {
    StorageError::Restore(format!("backup file is damaged: {what}"))
}

fn restore_into(dir: &Path, input: impl Read, supported: u32, files: FileSink<'_>) -> Result<Restored, StorageError> {
    let mut r = Reader { inner: io::BufReader::with_capacity(256 * 1024, input), hash: Context::new(&SHA256) };
    let mut magic = [0u8; 8];
    r.exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(damaged("not a kith backup"));
    }
    let mut schema = [0u8; 4];
    r.exact(&mut schema)?;
    let schema = u32::from_be_bytes(schema);
    if schema > supported {
        return Err(StorageError::Newer { found: schema, supported });
    }
    let db = sled::Config::new().path(dir).open()?;
    let mut restored = Restored { trees: 0, entries: 0, schema, files: 0 };
    let mut tree: Option<sled::Tree> = None;
    loop {
        match r.byte()? {
            TREE => {
                tree = Some(db.open_tree(r.field()?)?);
                restored.trees += 1;
            }
            ENTRY => {
                let (k, v) = (r.field()?, r.field()?);
                tree.as_ref().ok_or_else(|| damaged("entry before any tree"))?.insert(k, v)?;
                restored.entries += 1;
            }
            FILE => {
                let mut hash = [0u8; 32];
                r.exact(&mut hash)?;
                let mut size = [0u8; 8];
                r.exact(&mut size)?;
                let size = u64::from_be_bytes(size);
                let mut content = (&mut r).take(size);
                files(&hash, size, &mut content).map_err(|e| damaged(&format!("a file: {e}")))?;
                if content.limit() != 0 {
                    return Err(damaged("a file is cut short"));
                }
                restored.files += 1;
            }
            END => break,
            _ => return Err(damaged("unknown record")),
        }
    }
    let expected = r.hash.finish();
    let mut found = [0u8; 32];
    r.inner.read_exact(&mut found).map_err(|_| damaged("checksum missing"))?;
    if found != expected.as_ref() {
        return Err(damaged("checksum mismatch"));
    }
    db.flush()?;
    drop(db);
    super::DiskSync::open(dir)?;
    Ok(restored)
}
