//! Bench users and their device tokens, registered on first use and cached in
//! a file so later runs authenticate with tokens instead of paying for
//! argon2 password checks again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Server;
use crate::client::{Client, ClientError};
use crate::protocol::{ClientType, DeviceInfo, DeviceType, ErrorCode};

/// Password of every bench user.
pub(super) const PASSWORD: &str = "kith bench password";

/// New connections one sign-in may take when the server closes them for
/// taking too long to authenticate.
const SIGN_IN_ATTEMPTS: u32 = 5;

/// One device of one bench user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// Username.
    pub username: String,
    /// Its id.
    pub user_id: u64,
    /// Device id.
    pub device_id: String,
    /// Token for `Auth`.
    pub token: Vec<u8>,
}

/// Tokens known so far, optionally backed by a JSON file.
pub struct Tokens {
    file: Option<PathBuf>,
    known: Mutex<HashMap<(String, String), Account>>,
    /// Password logins made so far (each also a connection of its own).
    logins: AtomicU64,
}

/// The device id of device `index` of a bench user.
fn device_id(index: usize) -> String {
    format!("bench-device-{index}")
}

/// A device type per device index, so one user can hold four connections.
pub(super) fn device_type(index: usize) -> DeviceType {
    DeviceType::ALL[index % DeviceType::ALL.len()]
}

impl Tokens {
    /// Loads the cache file if there is one.
    pub fn load(file: Option<PathBuf>) -> Tokens {
        let known = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|text| serde_json::from_str::<Vec<Account>>(&text).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|a| ((a.username.clone(), a.device_id.clone()), a))
            .collect();
        Tokens { file, known: Mutex::new(known), logins: AtomicU64::new(0) }
    }

    /// Writes the cache file.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let all: Vec<Account> = self.lock().values().cloned().collect();
        std::fs::write(file, serde_json::to_vec(&all).map_err(std::io::Error::other)?)
    }

    /// Whether device `device` of `username` has a cached token (which the
    /// server may still refuse, for example after a fresh start).
    pub fn has_token(&self, username: &str, device: usize) -> bool {
        self.lock().contains_key(&(username.to_string(), device_id(device)))
    }

    /// Password logins made so far.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Account>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An authenticated connection for device `device` of `username`,
    /// registering and logging in when no valid token is cached.
    pub async fn connect(
        &self,
        server: &Server,
        username: &str,
        device: usize,
    ) -> Result<(Client, Account), ClientError> {
        let device_id = device_id(device);
        let key = (username.to_string(), device_id.clone());
        let cached = self.lock().get(&key).cloned();
        if let Some(account) = cached {
            let client = server.connect().await?;
            match client.auth(&account.token).await {
                Ok(_) => return Ok((client, account)),
                Err(e) if e.code() == Some(ErrorCode::InvalidToken) => {}
                Err(e) => return Err(e),
            }
        }
        // Waiting out the registration throttle can outlast the server's
        // deadline for authenticating, which then closes the connection:
        // start over on a new one.
        let mut attempts = 0;
        let account = loop {
            let client = server.connect().await?;
            match self.sign_in(&client, username, &device_id, device).await {
                Ok(account) => break (client, account),
                Err(ClientError::Closed) if attempts < SIGN_IN_ATTEMPTS => attempts += 1,
                Err(e) => return Err(e),
            }
        };
        self.lock().insert(key, account.1.clone());
        Ok(account)
    }

    /// Registers `username` (unless it exists) and logs `client` in.
    async fn sign_in(
        &self,
        client: &Client,
        username: &str,
        device_id: &str,
        device: usize,
    ) -> Result<Account, ClientError> {
        match super::past_throttle(|| client.register(username, PASSWORD)).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(ErrorCode::Conflict) => {}
            Err(e) => return Err(e),
        }
        let info = DeviceInfo {
            device_id: device_id.to_string(),
            device_type: device_type(device),
            client_type: ClientType::Other,
        };
        let login = super::past_throttle(|| client.login(username, PASSWORD, info.clone())).await?;
        self.logins.fetch_add(1, Ordering::Relaxed);
        Ok(Account {
            username: username.into(),
            user_id: login.session.user_id,
            device_id: info.device_id,
            token: login.token,
        })
    }
}
