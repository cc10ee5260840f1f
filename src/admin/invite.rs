//! The operator's invitations: create, list, show again, revoke — each with
//! the join link that carries it.

use serde_json::{json, Value};

use crate::id::now_ms;
use crate::link::JoinLink;
use crate::service::account::invite::{self, InviteCode};
use crate::service::{Endpoint, ServiceError, ServiceResult, Services};
use crate::transport::cert::Certificate;

/// Creates an invitation; its JSON has the join link.
pub(super) async fn create(
    services: &Services,
    uses: u32,
    expires_secs: Option<u64>,
    note: String,
    host: Option<String>,
) -> ServiceResult<Value> {
    // The link must be writable before an invitation is made for it.
    let endpoint = endpoint(services)?;
    let host = public_host(services, host)?;
    let valid_for = expires_secs.map(std::time::Duration::from_secs);
    let (id, code, record) = invite::issue(services, uses, valid_for, note).await?;
    let mut out = invite_json(id, &record);
    out["link"] = json!(link(host, endpoint, code)?);
    Ok(out)
}

/// Every invitation, without secrets.
pub(super) async fn list(services: &Services) -> ServiceResult<Value> {
    let invites = invite::list(services).await?;
    Ok(Value::Array(invites.iter().map(|(id, r)| invite_json(*id, r)).collect()))
}

/// An invitation again, with its join link.
pub(super) async fn show(services: &Services, id: u64, host: Option<String>) -> ServiceResult<Value> {
    let (code, record) = invite::code_of(services, id).await?;
    let mut out = invite_json(id, &record);
    out["link"] = json!(link(public_host(services, host)?, endpoint(services)?, code)?);
    Ok(out)
}

/// Revokes an invitation.
pub(super) async fn revoke(services: &Services, id: u64) -> ServiceResult<Value> {
    invite::withdraw(services, id).await?;
    Ok(json!({ "id": id, "revoked": true }))
}

/// Invitations that still admit someone, for `kith stats`.
pub(super) async fn open_count(services: &Services) -> ServiceResult<usize> {
    let now = now_ms();
    Ok(invite::list(services).await?.iter().filter(|(_, r)| r.refusal(now).is_none()).count())
}

fn invite_json(id: u64, r: &InviteCode) -> Value {
    json!({
        "id": id,
        "note": r.note,
        "uses_left": r.uses_left,
        "used": r.used,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "state": r.state(now_ms()),
    })
}

/// The running server's ports and pin; with no server running, those the
/// configuration and the certificate files give.
fn endpoint(services: &Services) -> ServiceResult<Endpoint> {
    if let Some(endpoint) = services.endpoint() {
        return Ok(endpoint);
    }
    let config = services.config();
    let certificate = Certificate::load(&config.tls.cert, &config.tls.key)
        .map_err(|e| ServiceError::invalid(format!("no certificate to pin in the link: {e}")))?;
    Ok(Endpoint {
        tls_port: config.listen.tls.map(|a| a.port()),
        quic_port: config.listen.quic.map(|a| a.port()),
        fingerprint: certificate.fingerprint(),
        public_key: certificate
            .public_key_fingerprint()
            .map_err(|e| ServiceError::invalid(format!("no public key to pin in the link: {e}")))?,
    })
}

/// The host a link names: the one asked for, else `registration.public_host`,
/// else the listen address when it is a specific one.
fn public_host(services: &Services, asked: Option<String>) -> ServiceResult<String> {
    let config = services.config();
    match asked.as_deref().unwrap_or(config.registration.public_host.trim()) {
        "" => match config.listen.tls.or(config.listen.quic) {
            Some(addr) if !addr.ip().is_unspecified() => Ok(addr.ip().to_string()),
            _ => Err(ServiceError::invalid(
                "no host for the link: pass --host, or set registration.public_host to the name or address \
                 phones reach this server at",
            )),
        },
        host => Ok(host.to_string()),
    }
}

/// The join link of an invitation code.
fn link(host: String, endpoint: Endpoint, invitation: Vec<u8>) -> ServiceResult<String> {
    let link = JoinLink {
        host,
        tls_port: endpoint.tls_port,
        quic_port: endpoint.quic_port,
        pin: endpoint.fingerprint,
        spki: Some(endpoint.public_key),
        invitation,
    };
    // What is written must read back: a bad public_host is refused here.
    link.to_string()
        .parse::<JoinLink>()
        .map(|_| link.to_string())
        .map_err(|e| ServiceError::invalid(format!("the link's host: {e}")))
}
