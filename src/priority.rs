//! Thread priority: work that may wait — transfers' file work in the
//! server, the load generator's own transfers — runs on threads the
//! scheduler serves last, so chat beside it waits for no core.

/// Makes the calling thread the last the scheduler runs (nice 19). A
/// priority only matters while threads wait for a core: on an idle
/// machine the thread runs at full speed all the same.
pub(crate) fn lowest() {
    // SAFETY: `setpriority` only reads its three integer arguments. On
    // Linux a nice value belongs to a thread, and `who` 0 names the caller.
    #[allow(unsafe_code)]
    let changed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if changed != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower a thread's priority");
    }
}
