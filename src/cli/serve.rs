//! `kith serve`: logging, the runtime, signals and systemd notification.

use sd_notify::NotifyState;

use crate::config::{Config, LogFormat};

/// Exit status after a failed storage sync (EX_IOERR), so systemd restarts kith.
const STORAGE_FAILED: i32 = 74;

/// sled logs keys and values (message bodies, password hashes) at debug and
/// trace, so its target is held at info whatever the operator asks for.
const STORAGE_ENGINE_CAP: &str = "sled=info";

/// The filter asked for (`RUST_LOG`, else `log.level`), with the storage
/// engine held at info.
fn capped(asked: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    match STORAGE_ENGINE_CAP.parse() {
        Ok(cap) => asked.add_directive(cap),
        Err(_) => asked,
    }
}

fn init_logging(config: &Config) {
    let filter = capped(
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level)),
    );
    use std::io::IsTerminal;
    // Colour only on a terminal, never in journald or files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub(super) fn serve(config: Config, args: &super::ConfigArgs) -> Result<(), String> {
    init_logging(&config);
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut server = crate::server::start(config).await.map_err(|e| e.to_string())?;
        notify(&[NotifyState::Ready]);
        let storage_failed = server.storage_failed();
        tokio::select! {
            () = wait_for_stop(&mut server, args) => {}
            () = storage_failed.cancelled() => {
                // Without a final sync: what the disk holds is what counts.
                tracing::error!("exiting: storage can no longer promise durability");
                std::process::exit(STORAGE_FAILED);
            }
        }
        notify(&[NotifyState::Stopping]);
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(())
    })
}

/// Tells systemd (`Type=notify`) about the service's state; a no-op outside systemd.
fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "systemd notification failed");
    }
}

/// Each connection needs a descriptor; lift the soft limit to the hard one
/// (systemd's LimitNOFILE sets both) so the configured connection limits,
/// not the shell's default of 1024, decide how many clients fit.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("could not raise the open-file limit");
            }
        }
    }
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads the certificate and the
/// settings that may change while running (the registration policy), read
/// again from the same file and flags.
async fn wait_for_stop(server: &mut crate::server::RunningServer, args: &super::ConfigArgs) {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut hup) = match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
        (Ok(term), Ok(hup)) => (term, hup),
        _ => {
            tracing::error!("cannot install signal handlers; stopping only on Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
            _ = hup.recv() => {
                if let Ok(now) = NotifyState::monotonic_usec_now() {
                    notify(&[NotifyState::Reloading, now]);
                }
                match args.load() {
                    Ok(config) => server.reload_settings(&config),
                    Err(e) => tracing::error!(error = %e, "configuration reload failed; keeping the current settings"),
                }
                if let Err(e) = server.reload_certificate() {
                    tracing::error!(error = %e, "certificate reload failed; keeping the current one");
                }
                notify(&[NotifyState::Ready]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::EnvFilter;

    /// What a subscriber with `filter` prints of a storage-engine trace
    /// line and one of kith's own.
    fn printed(filter: EnvFilter) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "sled::pagecache", "node dump with a message body");
            tracing::trace!(target: "kith::session", "a frame arrived");
        });
        let printed = buffer.0.lock().unwrap().clone();
        String::from_utf8(printed).unwrap()
    }

    #[test]
    fn the_storage_engine_stays_at_info_whatever_the_filter_asks() {
        for asked in ["trace", "sled=trace", "trace,sled=trace"] {
            let out = printed(super::capped(EnvFilter::new(asked)));
            assert!(!out.contains("node dump"), "{asked}: {out}");
        }
        assert!(printed(super::capped(EnvFilter::new("trace"))).contains("a frame arrived"), "trace is on");
        // The control: without the cap, the same filter prints the dump.
        assert!(printed(EnvFilter::new("trace")).contains("node dump"));
    }
}
