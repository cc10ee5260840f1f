//! What the server does, with no sockets in sight: each service takes typed
//! requests and returns typed replies or a [`ServiceError`]. Sessions call
//! them; only sessions write to the network.

pub mod accounts;
pub mod messages;
mod password;
mod throttle;

use std::sync::Arc;
use std::thread::JoinHandle;

use crate::config::Config;
use crate::error::ServiceResult;
use crate::hub::Hub;
use crate::protocol::{ClientType, DeviceType};
use crate::storage::commit::Committer;
use crate::storage::{StorageError, Store};
pub use password::PasswordHashing;
pub use throttle::LoginThrottle;

/// Who an authenticated connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account.
    pub user_id: u64,
    /// Its canonical username.
    pub username: String,
    /// The device.
    pub device_id: String,
    /// The device's type.
    pub device_type: DeviceType,
    /// The client software.
    pub client_type: ClientType,
}

/// Shared state of every service.
pub struct Services {
    /// The database.
    pub store: Arc<Store>,
    /// Online sessions.
    pub hub: Arc<Hub>,
    /// Durable writes.
    pub committer: Committer,
    /// Password hashing.
    pub passwords: PasswordHashing,
    /// Failed-login delays.
    pub throttle: LoginThrottle,
    /// The configuration the server started with.
    pub config: Config,
}

impl Services {
    /// Opens the store and starts the commit thread. The returned handle
    /// finishes once every clone of the services is dropped and the last
    /// writes are synced.
    pub fn open(config: &Config) -> Result<(Arc<Services>, JoinHandle<()>), StorageError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Arc::new(Store::open(&config.data_dir, &config.storage)?);
        let hub = Arc::new(Hub::default());
        let (committer, thread) =
            Committer::start(store.clone(), &config.storage, messages::push_on_commit(hub.clone()))?;
        let services = Services {
            store,
            hub,
            committer,
            passwords: PasswordHashing::new(config.limits.max_concurrent_hashes),
            throttle: LoginThrottle::default(),
            config: config.clone(),
        };
        Ok((Arc::new(services), thread))
    }

    /// Runs storage work on the blocking pool. A sled call can wait for the
    /// database-wide lock a group commit holds while it applies a batch; that
    /// wait must not stall the async workers serving every other connection.
    pub(crate) async fn off_loop<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StorageError> + Send + 'static,
    ) -> ServiceResult<T> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}
