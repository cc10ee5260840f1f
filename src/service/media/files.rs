//! The files themselves, under `<data_dir>/media`, never inside sled:
//!
//! * `partial/<upload id>` — an upload's bytes as they arrive;
//! * `blobs/<first two hex digits>/<SHA-256 in hex>` — each distinct
//!   content once, named by its hash.
//!
//! A file reaches `blobs/` only whole: the upload's file is `fsync`ed, then
//! renamed into place (or dropped, if that content is already there), and
//! the directory is `fsync`ed, all before the finish is acknowledged. A
//! crash therefore leaves either no blob or a whole one; a blob no record
//! names (the crash came before the record's commit) is deleted by the sweep.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::store::Hash;
use crate::hex::{hex, unhex};

/// The media directory.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    root: PathBuf,
}

impl Files {
    /// Opens (creating, 0700) `<data_dir>/media` and its two folders.
    pub(crate) fn open(data_dir: &Path) -> std::io::Result<Files> {
        let root = data_dir.join("media");
        crate::storage::private_dir(&root.join("blobs"))?;
        crate::storage::private_dir(&root.join("partial"))?;
        Ok(Files { root })
    }

    /// The secret that signs media URLs: 32 random bytes in `url.key`,
    /// created (0600) on first start.
    pub(super) fn url_key(&self) -> std::io::Result<[u8; 32]> {
        let path = self.root.join("url.key");
        match std::fs::read(&path) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "media/url.key: not 32 bytes")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0; 32];
                getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
                let mut file = crate::storage::private_file(&path)?;
                std::io::Write::write_all(&mut file, &key)?;
                file.sync_all()?;
                File::open(&self.root)?.sync_all()?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// Where a content's file lives.
    pub(crate) fn blob_path(&self, hash: &Hash) -> PathBuf {
        let name = hex(hash);
        self.root.join("blobs").join(&name[..2]).join(name)
    }

    fn partial_path(&self, upload: u64) -> PathBuf {
        self.root.join("partial").join(upload.to_string())
    }

    /// An upload's file, opened for appending, created (0600) if it is not there.
    pub(super) fn partial(&self, upload: u64) -> std::io::Result<File> {
        OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(self.partial_path(upload))
    }

    /// Deletes an upload's file, if there is one.
    pub(super) fn remove_partial(&self, upload: u64) -> std::io::Result<()> {
        ignore_missing(std::fs::remove_file(self.partial_path(upload)))
    }

    /// Makes an upload's file the file of `hash`: durable, then in place,
    /// then its directory durable. When that content is already stored the
    /// upload's copy is dropped instead.
    pub(super) fn place(&self, upload: u64, hash: &Hash) -> std::io::Result<()> {
        let partial = self.partial_path(upload);
        let target = self.blob_path(hash);
        if target.exists() {
            return std::fs::remove_file(partial);
        }
        File::open(&partial)?.sync_all()?;
        let shard = target.parent().unwrap_or(&self.root);
        let new_shard = !shard.exists();
        crate::storage::private_dir(shard)?;
        std::fs::rename(&partial, &target)?;
        File::open(shard)?.sync_all()?;
        if new_shard {
            File::open(self.root.join("blobs"))?.sync_all()?;
        }
        Ok(())
    }

    /// Stores a file of a backup under its hash, after checking that its
    /// bytes have that hash: durable and in place, or not there at all.
    pub(crate) fn restore(&self, hash: &Hash, content: &mut dyn Read) -> std::io::Result<()> {
        let target = self.blob_path(hash);
        let shard = target.parent().unwrap_or(&self.root);
        crate::storage::private_dir(shard)?;
        let partial = target.with_extension("restoring");
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial)?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let n = content.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            std::io::Write::write_all(&mut file, &buffer[..n])?;
        }
        if hasher.finish().as_ref() != hash {
            let _ = std::fs::remove_file(&partial);
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "its bytes do not have its hash"));
        }
        file.sync_all()?;
        std::fs::rename(&partial, &target)?;
        File::open(shard)?.sync_all()
    }

    /// The contents of `named` that have no file.
    pub(crate) fn missing<'a>(&self, named: &'a [(Hash, u64)]) -> Vec<&'a Hash> {
        named
            .iter()
            .filter(|(hash, size)| !self.blob_path(hash).metadata().is_ok_and(|m| m.len() == *size))
            .map(|(hash, _)| hash)
            .collect()
    }

    /// Deletes a content's file.
    pub(super) fn remove_blob(&self, hash: &Hash) -> std::io::Result<()> {
        ignore_missing(std::fs::remove_file(self.blob_path(hash)))
    }

    /// Up to `length` bytes of a content's file from `offset`.
    pub(crate) fn read_at(&self, hash: &Hash, offset: u64, length: usize) -> std::io::Result<Vec<u8>> {
        let mut file = File::open(self.blob_path(hash))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::with_capacity(length);
        file.take(length as u64).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Free bytes on the disk holding the media directory, for unprivileged users.
    pub(super) fn free_bytes(&self) -> std::io::Result<u64> {
        let path = std::ffi::CString::new(self.root.as_os_str().as_encoded_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a valid NUL-terminated string and `stats` points
        // to writable memory of the struct's size; `statvfs` fills it whole
        // when it returns 0, and only then is it read.
        #[allow(unsafe_code)]
        let stats = unsafe {
            if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            stats.assume_init()
        };
        #[allow(clippy::unnecessary_cast)] // the fields' types differ between platforms
        Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
    }

    /// Every content's file on disk, with when it was last changed.
    pub(super) fn blobs(&self) -> std::io::Result<Vec<(Hash, SystemTime)>> {
        let mut out = Vec::new();
        for shard in std::fs::read_dir(self.root.join("blobs"))? {
            for file in std::fs::read_dir(shard?.path())? {
                let file = file?;
                let hash = file.file_name().to_str().and_then(unhex).and_then(|b| Hash::try_from(b).ok());
                if let Some(hash) = hash {
                    out.push((hash, file.metadata()?.modified()?));
                }
            }
        }
        Ok(out)
    }

    /// Every upload file on disk, by upload id.
    pub(super) fn partials(&self) -> std::io::Result<Vec<u64>> {
        let mut out = Vec::new();
        for file in std::fs::read_dir(self.root.join("partial"))? {
            if let Some(id) = file?.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

fn ignore_missing(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
