//! A FUSE filesystem for power-loss tests, in the spirit of Jepsen's
//! LazyFS: a passthrough to a backing directory that remembers, for every
//! file, what each write since the file's last `fsync`/`fdatasync`
//! overwrote. A power cut ([`Mount::cut`]) puts those bytes back and trims
//! each file to its length at its last sync — what a disk that lost its
//! volatile cache would hold. Creating, renaming and removing files is
//! durable at once, as on a journaling filesystem; the contents are not.
//!
//! With no writeback cache (FUSE's default), every `write` reaches this
//! process before the call returns, so nothing bypasses the bookkeeping;
//! `sync_file_range`, which sled's own flush uses, never reaches it, as it
//! never reaches a real disk's platter.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

/// Attributes and names are never cached by the kernel: sizes change under it.
const TTL: Duration = Duration::ZERO;

/// What a torn write keeps: the disk's page.
const PAGE: u64 = 4096;

/// What a file's writes since its last sync overwrote.
struct Unsynced {
    /// Its length at its last sync (or when it was first written after the mount).
    synced_len: u64,
    /// Offset and former bytes of each overwrite since, oldest first.
    undo: Vec<(u64, Vec<u8>)>,
}

#[derive(Default)]
struct State {
    /// The backing path of each inode the kernel knows; the root is 1,
    /// every other inode is the backing file's own number.
    paths: HashMap<u64, PathBuf>,
    /// Open files by handle, with their inode.
    open: HashMap<u64, (u64, File)>,
    next_handle: u64,
    /// Files written since their last sync, by inode.
    unsynced: HashMap<u64, Unsynced>,
    /// Syncs seen, for the test to show the server made some.
    syncs: u64,
}

impl State {
    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    /// Starts remembering a file's unsynced writes, its length now being durable.
    fn track(&mut self, ino: u64, len: u64) -> &mut Unsynced {
        self.unsynced.entry(ino).or_insert_with(|| Unsynced { synced_len: len, undo: Vec::new() })
    }
}

/// What a power cut threw away.
#[derive(Debug, Default)]
pub struct Cut {
    /// Files that lost writes.
    pub files: usize,
    /// Bytes put back as they were at the last sync, and bytes trimmed.
    pub bytes: u64,
}

struct LazyFs {
    state: Arc<Mutex<State>>,
}

/// A mounted [`LazyFs`].
pub struct Mount {
    session: Option<BackgroundSession>,
    state: Arc<Mutex<State>>,
}

/// Mounts a fresh filesystem at `mountpoint` over `backing`; everything
/// already in `backing` counts as synced.
pub fn mount(backing: &Path, mountpoint: &Path) -> Mount {
    std::fs::create_dir_all(backing).unwrap();
    std::fs::create_dir_all(mountpoint).unwrap();
    let state = Arc::new(Mutex::new(State { next_handle: 1, ..State::default() }));
    lock(&state).paths.insert(1, backing.to_path_buf());
    let mut config = Config::default();
    config.mount_options.push(MountOption::FSName("lazyfs".into()));
    let session = fuser::spawn_mount(LazyFs { state: state.clone() }, mountpoint, &config)
        .expect("FUSE mounts (the power-loss tests need /dev/fuse and root)");
    Mount { session: Some(session), state }
}

impl Mount {
    /// Syncs the server asked for since the mount.
    pub fn syncs(&self) -> u64 {
        lock(&self.state).syncs
    }

    /// Loses power: every file goes back to what its last sync made
    /// durable, then the filesystem is unmounted. Whoever used it must be
    /// dead already. A `torn` cut keeps, of what was appended since the
    /// last sync, the part up to the next page boundary: the disk wrote a
    /// page of a write that never finished.
    pub fn cut(mut self, torn: bool) -> Cut {
        let mut cut = Cut::default();
        {
            let mut state = lock(&self.state);
            state.open.clear();
            let unsynced = std::mem::take(&mut state.unsynced);
            for (ino, file) in unsynced {
                let Some(path) = state.paths.get(&ino) else { continue };
                let Ok(handle) = OpenOptions::new().write(true).open(path) else { continue };
                let len = handle.metadata().unwrap().len();
                for (offset, old) in file.undo.iter().rev() {
                    handle.write_all_at(old, *offset).unwrap();
                    cut.bytes += old.len() as u64;
                }
                let kept = if torn { len.min((file.synced_len / PAGE + 1) * PAGE) } else { file.synced_len };
                handle.set_len(kept.max(file.synced_len)).unwrap();
                cut.bytes += len.saturating_sub(kept);
                cut.files += 1;
            }
        }
        drop(self.session.take());
        cut
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn attr(meta: &Metadata, ino: u64) -> FileAttr {
    let time = |secs: i64, nanos: i64| UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos as u32);
    let kind = if meta.is_dir() { FileType::Directory } else { FileType::RegularFile };
    FileAttr {
        ino: INodeNo(ino),
        size: meta.len(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: 4096,
        flags: 0,
    }
}

/// A backing path's attributes under the inode the kernel knows it by.
fn known(state: &mut State, path: PathBuf) -> Result<FileAttr, Errno> {
    let meta = std::fs::symlink_metadata(&path)?;
    let ino = if state.paths.get(&1) == Some(&path) { 1 } else { meta.ino() };
    state.paths.insert(ino, path);
    Ok(attr(&meta, ino))
}

impl LazyFs {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn open_handle(&self, ino: u64, file: File) -> FileHandle {
        let mut state = self.state();
        let handle = state.next_handle;
        state.next_handle += 1;
        state.open.insert(handle, (ino, file));
        FileHandle(handle)
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut state = self.state();
        match state.path(parent).and_then(|dir| known(&mut state, dir.join(name))) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let mut state = self.state();
        match state.path(ino).and_then(|path| known(&mut state, path)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state();
        let result = (|| {
            let path = state.path(ino)?;
            if let Some(mode) = mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            }
            if let Some(size) = size {
                let file = OpenOptions::new().read(true).write(true).open(&path)?;
                let len = file.metadata()?.len();
                // A shrink's cut-off tail is an overwrite like any other.
                if size < len {
                    let mut old = vec![0; (len - size) as usize];
                    file.read_exact_at(&mut old, size)?;
                    state.track(ino.0, len).undo.push((size, old));
                } else {
                    state.track(ino.0, len);
                }
                file.set_len(size)?;
            }
            known(&mut state, path)
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let mut state = self.state();
        let result = state.path(parent).and_then(|dir| {
            let path = dir.join(name);
            std::fs::create_dir(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !umask))?;
            known(&mut state, path)
        });
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let result = state.path(parent).and_then(|dir| {
            let path = dir.join(name);
            let ino = std::fs::symlink_metadata(&path)?.ino();
            std::fs::remove_file(&path)?;
            state.paths.remove(&ino);
            state.unsynced.remove(&ino);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let state = self.state();
        match state.path(parent).and_then(|dir| Ok(std::fs::remove_dir(dir.join(name))?)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let result = (|| {
            let from = state.path(parent)?.join(name);
            let to = state.path(newparent)?.join(newname);
            let ino = std::fs::symlink_metadata(&from)?.ino();
            if let Ok(replaced) = std::fs::symlink_metadata(&to) {
                state.paths.remove(&replaced.ino());
                state.unsynced.remove(&replaced.ino());
            }
            std::fs::rename(&from, &to)?;
            state.paths.insert(ino, to);
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        // O_ACCMODE is 3; O_RDONLY 0.
        let writes = flags.0 & 3 != 0;
        let path = self.state().path(ino);
        match path.and_then(|path| Ok(OpenOptions::new().read(true).write(writes).open(path)?)) {
            Ok(file) => reply.opened(self.open_handle(ino.0, file), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let result = (|| {
            let mut state = self.state();
            let path = state.path(parent)?.join(name);
            let file = OpenOptions::new().read(true).write(true).create(true).mode(mode & !umask).open(&path)?;
            let attr = known(&mut state, path)?;
            state.track(attr.ino.0, 0);
            Ok::<_, Errno>((attr, file))
        })();
        match result {
            Ok((attr, file)) => {
                let handle = self.open_handle(attr.ino.0, file);
                reply.created(&TTL, &attr, Generation(0), handle, FopenFlags::empty())
            }
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        let Some((_, file)) = state.open.get(&fh.0) else { return reply.error(Errno::EBADF) };
        let mut buf = vec![0; size as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return reply.error(e.into()),
            }
        }
        reply.data(&buf[..filled]);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut state = self.state();
        let State { open, unsynced, .. } = &mut *state;
        let result = (|| {
            let (_, file) = open.get(&fh.0).ok_or(Errno::EBADF)?;
            let len = file.metadata()?.len();
            let unsynced = unsynced.entry(ino.0).or_insert_with(|| Unsynced { synced_len: len, undo: Vec::new() });
            if offset < len {
                let mut old = vec![0; (len - offset).min(data.len() as u64) as usize];
                file.read_exact_at(&mut old, offset)?;
                unsynced.undo.push((offset, old));
            }
            file.write_all_at(data, offset)?;
            Ok::<_, Errno>(())
        })();
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.state().open.remove(&fh.0);
        reply.ok();
    }

    /// What was written to the file is durable from here on.
    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let mut state = self.state();
        state.unsynced.remove(&ino.0);
        state.syncs += 1;
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let state = self.state();
        let Ok(dir) = state.path(ino) else { return reply.error(Errno::ENOENT) };
        let mut entries: Vec<(u64, FileType, std::ffi::OsString)> =
            vec![(ino.0, FileType::Directory, ".".into()), (1, FileType::Directory, "..".into())];
        match std::fs::read_dir(&dir) {
            Ok(read) => {
                for entry in read.flatten() {
                    let Ok(meta) = entry.metadata() else { continue };
                    let kind = if meta.is_dir() { FileType::Directory } else { FileType::RegularFile };
                    entries.push((meta.ino(), kind, entry.file_name()));
                }
            }
            Err(e) => return reply.error(e.into()),
        }
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
