//! What a username, a password and a device id may be.

use crate::protocol::DeviceInfo;
use crate::service::{ServiceError, ServiceResult};

const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=32;
const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=256;
const DEVICE_ID_LEN: std::ops::RangeInclusive<usize> = 1..=64;

/// Folds a username to its canonical form, or says which rule it breaks.
pub(crate) fn canonical_username(raw: &str) -> Result<String, String> {
    let name = raw.to_ascii_lowercase();
    if !USERNAME_LEN.contains(&name.len()) {
        return Err(format!("username must be {}–{} characters", USERNAME_LEN.start(), USERNAME_LEN.end()));
    }
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return Err("username must start with a letter".into());
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')) {
        return Err("username may contain only a-z, 0-9, '_', '.' and '-'".into());
    }
    Ok(name)
}

/// Checks a new password against the length rule.
pub(crate) fn check_password(password: &str) -> ServiceResult<()> {
    if PASSWORD_LEN.contains(&password.len()) {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!("password must be {}–{} bytes", PASSWORD_LEN.start(), PASSWORD_LEN.end())))
    }
}

/// Checks the device a login is for.
pub(super) fn check_device(device: &DeviceInfo) -> ServiceResult<()> {
    let id = &device.device_id;
    if !DEVICE_ID_LEN.contains(&id.len()) || id.chars().any(char::is_control) {
        return Err(ServiceError::invalid("device_id must be 1–64 bytes without control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_and_follow_the_rules() {
        assert_eq!(canonical_username("Alice_1").unwrap(), "alice_1");
        assert!(canonical_username("ab").is_err());
        assert!(canonical_username("1abc").is_err());
        assert!(canonical_username("al ice").is_err());
        assert!(canonical_username("ålice").is_err());
        assert!(canonical_username(&"a".repeat(33)).is_err());
    }
}
