//! What a request handler is, and the router that finds one by action byte.
//!
//! A handler is an async function `(Call, R) -> ServiceResult<Outcome<R::Reply>>`
//! for a request type `R` of the action table. Each domain registers its
//! handlers in its `routes()`; the session looks them up here and knows
//! nothing about individual actions. A handler that writes queues its job
//! on the group commit and answers [`Outcome::Later`], so the wait for the
//! disk runs alongside the connection's further requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;

use super::{Identity, ServiceError, ServiceResult, Services};
use crate::codec::encode_wire;
use crate::protocol::{Action, DisconnectReason, ErrorCode, Request, Rpc};

/// The context of one request.
#[derive(Clone)]
pub struct Call {
    /// The server's services.
    pub services: Arc<Services>,
    /// Who the connection is, once authenticated.
    pub identity: Option<Arc<Identity>>,
    /// The connection's session id, to leave it out of its own pushes.
    pub session_id: u64,
    /// The client's address.
    pub peer: SocketAddr,
}

impl Call {
    /// The authenticated user. The action table keeps anonymous connections
    /// away from handlers that call this; the error is the table's answer.
    pub fn me(&self) -> ServiceResult<&Identity> {
        self.identity
            .as_deref()
            .ok_or_else(|| ServiceError::new(ErrorCode::NotAuthenticated, "log in or authenticate first"))
    }
}

/// How a handler answers.
pub enum Outcome<T> {
    /// Answer now.
    Reply(T),
    /// Answer when this resolves (a write waiting for the disk); the
    /// connection keeps reading meanwhile.
    Later(BoxFuture<'static, ServiceResult<T>>),
    /// Answer now; the connection is now this identity and receives its pushes.
    Authenticated(T, Identity),
    /// Answer now, then close the connection for this reason.
    Close(T, DisconnectReason),
}

impl<T: Serialize + Send + 'static> Outcome<T> {
    /// Answers when `done` resolves.
    pub fn later(done: impl Future<Output = ServiceResult<T>> + Send + 'static) -> Outcome<T> {
        Outcome::Later(Box::pin(done))
    }

    /// Runs `then` on the answer once it stands (for a write, once it is
    /// durable), unless it is an error.
    pub fn after(self, then: impl FnOnce(&T) + Send + 'static) -> Outcome<T> {
        match self {
            Outcome::Later(done) => Outcome::later(async move {
                let body = done.await?;
                then(&body);
                Ok(body)
            }),
            Outcome::Reply(body) => {
                then(&body);
                Outcome::Reply(body)
            }
            other => other,
        }
    }

    fn encoded(self) -> Outcome<Vec<u8>> {
        match self {
            Outcome::Reply(body) => Outcome::Reply(encode_wire(&body)),
            Outcome::Later(done) => Outcome::Later(Box::pin(async move { done.await.map(|body| encode_wire(&body)) })),
            Outcome::Authenticated(body, identity) => Outcome::Authenticated(encode_wire(&body), identity),
            Outcome::Close(body, reason) => Outcome::Close(encode_wire(&body), reason),
        }
    }
}

type Route = Box<dyn Fn(Call, Request) -> BoxFuture<'static, ServiceResult<Outcome<Vec<u8>>>> + Send + Sync>;

/// Handlers by action byte.
pub struct Router {
    routes: Vec<Option<Route>>,
}

impl Default for Router {
    fn default() -> Self {
        Router { routes: (0..=u8::MAX).map(|_| None).collect() }
    }
}

impl Router {
    /// Registers the handler of `R`'s action.
    ///
    /// # Panics
    ///
    /// When the action already has a handler: a wiring mistake caught by the
    /// first test that starts a server, never reachable by a client.
    pub fn add<R, F, Fut>(&mut self, handler: F) -> &mut Router
    where
        R: Rpc,
        F: Fn(Call, R) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ServiceResult<Outcome<R::Reply>>> + Send + 'static,
    {
        let slot = &mut self.routes[R::ACTION as usize];
        assert!(slot.is_none(), "two handlers for {:?}", R::ACTION);
        let handler = Arc::new(handler);
        *slot = Some(Box::new(move |call, request| {
            let handler = handler.clone();
            Box::pin(async move {
                let request = R::try_from(request).map_err(|other| {
                    ServiceError::Routing(format!("{:?} routed to {:?}", other.action(), R::ACTION))
                })?;
                Ok(handler(call, request).await?.encoded())
            })
        }));
        self
    }

    /// Whether `action` has a handler.
    pub fn handles(&self, action: Action) -> bool {
        self.routes[action as usize].is_some()
    }

    /// Runs the handler of the request's action; the reply body comes encoded.
    pub async fn dispatch(&self, call: Call, request: Request) -> ServiceResult<Outcome<Vec<u8>>> {
        let action = request.action();
        match &self.routes[action as usize] {
            Some(route) => route(call, request).await,
            None => Err(ServiceError::new(ErrorCode::UnknownAction, format!("{} is not served", action.name()))),
        }
    }
}
