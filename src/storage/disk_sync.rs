//! Makes sled's writes reach the drive, not just the kernel.
//!
//! sled 0.34's `flush` writes its log with `pwrite` and then calls
//! `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`: the pages are on their
//! way to the device, but neither the drive's volatile write cache nor the file
//! size metadata is flushed, so a power loss can still take them. Its real
//! `fsync` runs only in a background thread every `flush_every_ms`. Large
//! pages go to separate files under `blobs/` that sled never syncs at all.
//!
//! After every flush, [`DiskSync::sync`] therefore `fdatasync`s the log file
//! (through our own descriptor: the kernel flushes the file, whichever
//! descriptor asks) and every blob file not yet synced, then the `blobs/`
//! directory so that new blob names are durable too.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Open handles on sled's files, kept for the life of the store.
#[derive(Debug)]
pub struct DiskSync {
    log: File,
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
}

impl DiskSync {
    /// Opens sled's log file in `sled_dir` and syncs the directory once, so
    /// the files created when the database was made are durable.
    pub fn open(sled_dir: &Path) -> io::Result<DiskSync> {
        let log = File::open(sled_dir.join("db"))?;
        File::open(sled_dir)?.sync_all()?;
        let mut sync = DiskSync { log, blobs_dir: sled_dir.join("blobs"), synced_blobs: HashSet::new() };
        sync.sync()?;
        Ok(sync)
    }

    /// `fdatasync`s the log and any blob written since the last call.
    pub fn sync(&mut self) -> io::Result<()> {
        self.log.sync_data()?;
        let mut present = HashSet::new();
        let mut new_blob = false;
        for entry in std::fs::read_dir(&self.blobs_dir)? {
            let name = entry?.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(self.blobs_dir.join(&name)) {
                    Ok(f) => f.sync_data()?,
                    // sled removes blobs it has garbage-collected.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new_blob = true;
            }
            present.insert(name);
        }
        if new_blob {
            File::open(&self.blobs_dir)?.sync_all()?;
        }
        self.synced_blobs = present;
        Ok(())
    }
}
