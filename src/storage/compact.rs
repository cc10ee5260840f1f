//! Rebuilding the database into fresh files (`kith compact`, server
//! stopped). sled keeps the pages that deletes free in its page table, and
//! that table is held in memory, so a database that shed most of its keys
//! (the first sweeps of what is kept only for a while, after an upgrade)
//! holds more memory at rest than before; a copy holds only what is live.
//!
//! The copy is written beside the database (`sled.compact`), flushed to
//! disk, and marked complete by an empty file (`sled.compact.done`); then
//! the two directories swap by renames and the old one is removed. Every
//! step may be interrupted: [`recover`], run before every open, finishes a
//! swap whose copy was marked complete and discards a copy that was not, so
//! the database is always either the old one or the complete copy. A lock
//! on `compact.lock` keeps a server or a command starting meanwhile from
//! taking a copy still being written for an abandoned one.

use std::path::Path;

use super::{open_db, private_file, StorageConfig, StorageError};

/// The database, in the data directory.
const LIVE: &str = "sled";
/// The copy being written.
const COPY: &str = "sled.compact";
/// Present once the copy is complete and durable.
const DONE: &str = "sled.compact.done";
/// The database replaced by the copy, until removed.
const OLD: &str = "sled.old";
/// Held while a compaction or a recovery runs.
const LOCK: &str = "compact.lock";

/// Entries copied per batch.
const BATCH: usize = 10_000;

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Entries copied, over all trees.
    pub entries: u64,
    /// Bytes of the database's files before.
    pub before: u64,
    /// Bytes of its files after.
    pub after: u64,
}

/// Rewrites the database in `data_dir` into fresh files holding only its
/// live entries. The server must be stopped: sled's lock refuses a second
/// opener.
pub fn compact(data_dir: &Path, config: &StorageConfig) -> Result<Compacted, StorageError> {
    let _lock = lock(data_dir)?;
    finish(data_dir)?;
    let (live, copy) = (data_dir.join(LIVE), data_dir.join(COPY));
    if !live.exists() {
        let missing = format!("{} holds no kith database", data_dir.display());
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, missing).into());
    }
    let before = bytes_under(&live)?;
    let mut entries = 0;
    {
        let from = open_db(&live, config)?;
        let to = open_db(&copy, config)?;
        for name in from.tree_names() {
            let (source, target) = (from.open_tree(&name)?, to.open_tree(&name)?);
            let mut batch = sled::Batch::default();
            let mut held = 0;
            for item in source.iter() {
                let (key, value) = item?;
                batch.insert(key, value);
                held += 1;
                if held == BATCH {
                    target.apply_batch(std::mem::take(&mut batch))?;
                    entries += held as u64;
                    held = 0;
                }
            }
            target.apply_batch(batch)?;
            entries += held as u64;
        }
        to.flush()?;
    }
    // Run as root on a server's directory, the copy stays the server's.
    let owner = std::fs::metadata(&live)?;
    own_like(&copy, &owner)?;
    private_file(&data_dir.join(DONE))?.sync_all()?;
    sync_dir(data_dir)?;
    finish(data_dir)?;
    Ok(Compacted { entries, before, after: bytes_under(&live)? })
}

/// Finishes or undoes a compaction that was interrupted: a complete copy
/// takes the database's place, an incomplete one is removed, and so is a
/// replaced database left behind. Refused while a compaction runs.
pub fn recover(data_dir: &Path) -> Result<(), StorageError> {
    if !data_dir.exists() {
        return Ok(());
    }
    let _lock = lock(data_dir)?;
    finish(data_dir)
}

/// The lock on compactions of `data_dir`, or why not.
fn lock(data_dir: &Path) -> Result<std::fs::File, StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(data_dir.join(LOCK))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("a compaction is running on {}; wait for it to end", data_dir.display()),
        )
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// [`recover`], the lock held.
fn finish(data_dir: &Path) -> Result<(), StorageError> {
    let (live, copy, done, old) = (data_dir.join(LIVE), data_dir.join(COPY), data_dir.join(DONE), data_dir.join(OLD));
    if done.exists() {
        if copy.exists() {
            if live.exists() {
                remove_dir(&old)?;
                std::fs::rename(&live, &old)?;
            }
            std::fs::rename(&copy, &live)?;
            sync_dir(data_dir)?;
        }
        std::fs::remove_file(&done)?;
        sync_dir(data_dir)?;
    } else {
        remove_dir(&copy)?;
    }
    remove_dir(&old)
}

/// Removes a directory and what it holds, if it is there.
fn remove_dir(dir: &Path) -> Result<(), StorageError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Gives `path` and what it holds the owner of `like`, where it differs.
fn own_like(path: &Path, like: &std::fs::Metadata) -> Result<(), StorageError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    if (meta.uid(), meta.gid()) != (like.uid(), like.gid()) {
        std::os::unix::fs::lchown(path, Some(like.uid()), Some(like.gid()))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            own_like(&entry?.path(), like)?;
        }
    }
    Ok(())
}

/// Makes the renames and removals in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    Ok(std::fs::File::open(dir)?.sync_all()?)
}

/// Bytes of the files under `dir`.
fn bytes_under(dir: &Path) -> Result<u64, StorageError> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { bytes_under(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StorageConfig {
        StorageConfig { cache_mb: 16, ..StorageConfig::default() }
    }

    /// A database in `dir/name` holding `n` entries, `deleted` of them
    /// removed again.
    fn fill(dir: &Path, name: &str, n: u32, deleted: u32) {
        let db = open(&dir.join(name));
        for i in 0..n {
            db.insert(i.to_be_bytes(), vec![7u8; 100]).unwrap();
        }
        for i in 0..deleted {
            db.remove(i.to_be_bytes()).unwrap();
        }
        db.flush().unwrap();
    }

    /// Opens a database a handle just closed: sled's flusher thread lets go
    /// of the file lock a moment after the handle is dropped.
    fn open(path: &Path) -> sled::Db {
        for _ in 0..100 {
            match sled::open(path) {
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => return opened.unwrap(),
            }
        }
        panic!("{} stayed locked", path.display());
    }

    fn keys(dir: &Path) -> Vec<u32> {
        let db = open(&dir.join(LIVE));
        db.iter().keys().map(|k| u32::from_be_bytes(k.unwrap().as_ref().try_into().unwrap())).collect()
    }

    #[test]
    fn a_compaction_keeps_every_live_entry_and_leaves_nothing_beside() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), LIVE, 20_000, 15_000);
        let done = compact(dir.path(), &config()).unwrap();
        assert_eq!(done.entries, 5_000);
        assert_eq!(keys(dir.path()), (15_000..20_000).collect::<Vec<_>>());
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, [LOCK, LIVE]);
    }

    #[test]
    fn the_copy_belongs_to_the_databases_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), LIVE, 10, 0);
        // Only root may give files away (CI runs as root); elsewhere the
        // owner is the runner's and there is nothing to change.
        let nobody = if std::fs::metadata(dir.path()).unwrap().uid() == 0 { 65_534 } else { return };
        std::os::unix::fs::chown(dir.path().join(LIVE), Some(nobody), Some(nobody)).unwrap();
        compact(dir.path(), &config()).unwrap();
        let mut owners = Vec::new();
        let mut todo = vec![dir.path().join(LIVE)];
        while let Some(path) = todo.pop() {
            let meta = std::fs::metadata(&path).unwrap();
            owners.push((meta.uid(), meta.gid()));
            if meta.is_dir() {
                todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        }
        assert!(owners.len() > 1 && owners.iter().all(|o| *o == (nobody, nobody)), "{owners:?}");
    }

    #[test]
    fn an_incomplete_copy_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), LIVE, 10, 0);
        fill(dir.path(), COPY, 3, 0);
        recover(dir.path()).unwrap();
        assert_eq!(keys(dir.path()), (0..10).collect::<Vec<_>>());
        assert!(!dir.path().join(COPY).exists());
    }

    #[test]
    fn nothing_is_recovered_while_a_compaction_runs() {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), LIVE, 10, 0);
        fill(dir.path(), COPY, 3, 0);
        let running = lock(dir.path()).unwrap();
        let refused = recover(dir.path()).unwrap_err();
        assert!(refused.to_string().contains("a compaction is running"), "{refused}");
        assert!(dir.path().join(COPY).exists(), "the copy being written stays");
        drop(running);
        recover(dir.path()).unwrap();
        assert!(!dir.path().join(COPY).exists());
    }

    #[test]
    fn a_complete_copy_takes_the_place_whichever_rename_was_cut() {
        for live_moved in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            fill(dir.path(), LIVE, 10, 0);
            fill(dir.path(), COPY, 3, 0);
            std::fs::File::create(dir.path().join(DONE)).unwrap();
            if live_moved {
                std::fs::rename(dir.path().join(LIVE), dir.path().join(OLD)).unwrap();
            }
            recover(dir.path()).unwrap();
            assert_eq!(keys(dir.path()), [0, 1, 2], "the copy is the database");
            for gone in [COPY, DONE, OLD] {
                assert!(!dir.path().join(gone).exists(), "{gone}");
            }
        }
    }
}
