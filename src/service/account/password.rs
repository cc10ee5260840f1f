//! Password hashing with argon2id, off the async threads and capped in number.
//!
//! One hash costs about 19 MiB and tens of milliseconds of CPU. Hashes run on
//! tokio's blocking pool, and a semaphore lets only `max_concurrent_hashes` run
//! at once, so a flood of logins queues up instead of starving chat traffic of
//! CPU or the machine of memory. Registrations (anyone may send one) take a
//! second permit from a smaller pool first, so they can never hold every
//! hashing slot and logins never wait behind them.

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::service::{ServiceError, ServiceResult};

/// OWASP's recommended argon2id setting: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // The constants are valid parameters, so `new` cannot fail; the fallback
    // keeps that invariant out of the error paths.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords on the blocking pool.
#[derive(Clone)]
pub(crate) struct PasswordHashing {
    permits: Arc<Semaphore>,
    /// All but one of `permits` (at least one): the share registrations may use.
    registrations: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the user does
    /// not exist so that unknown users take as long as wrong passwords.
    decoy: Arc<str>,
}

impl PasswordHashing {
    /// Allows `concurrent` hashes at once.
    pub(crate) fn new(concurrent: usize) -> PasswordHashing {
        let salt = SaltString::generate(&mut OsRng);
        let decoy =
            argon2().hash_password(b"decoy password never matches", &salt).map(|h| h.to_string()).unwrap_or_default();
        PasswordHashing {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            registrations: Arc::new(Semaphore::new(concurrent.saturating_sub(1).max(1))),
            decoy: decoy.into(),
        }
    }

    /// Hashes the password of a new account, within the registrations' share.
    pub(crate) async fn hash_for_registration(&self, password: &str) -> ServiceResult<String> {
        let _share = self.registrations.acquire().await.map_err(|e| ServiceError::Hashing(e.to_string()))?;
        self.hash(password).await
    }

    /// Hashes a new password into a PHC string.
    pub(crate) async fn hash(&self, password: &str) -> ServiceResult<String> {
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ServiceError::Hashing(e.to_string()))
        })
        .await
    }

    /// Checks a password against a stored hash; `None` verifies against the
    /// decoy and always fails, in the same time.
    pub(crate) async fn verify(&self, password: &str, hash: Option<&str>) -> ServiceResult<bool> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map(Arc::<str>::from).unwrap_or_else(|| self.decoy.clone());
        self.run(move || {
            let ok = PasswordHash::new(&hash)
                .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
                .unwrap_or(false);
            Ok(ok && known)
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> ServiceResult<T> + Send + 'static) -> ServiceResult<T> {
        let _permit = self.permits.acquire().await.map_err(|e| ServiceError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(f).await?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs eight jobs at once through a pool of `concurrent` permits and
    /// returns how many were ever running together.
    async fn most_at_once(concurrent: usize) -> usize {
        let hashing = PasswordHashing::new(concurrent);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..8).map(|_| {
            let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                hashing
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        });
        for job in jobs.collect::<Vec<_>>() {
            job.await.unwrap().unwrap();
        }
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_beyond_the_cap_wait_for_a_slot() {
        assert_eq!(most_at_once(1).await, 1);
        assert_eq!(most_at_once(2).await, 2);
        // The control: uncapped, the same jobs do overlap.
        assert!(most_at_once(8).await > 2);
    }
}
