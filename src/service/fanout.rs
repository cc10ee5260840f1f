//! The one ordered fan-out: committed updates → their audience → the hub.
//!
//! Jobs emit an [`Event`] for every update they add to users' logs. The
//! group commit hands each durable batch's events here, in commit order, and
//! one thread resolves each audience to online sessions, encodes the push
//! once and queues the same bytes for every session. Because there is one
//! producer, every device receives its pushes in commit order, whatever
//! their kind; and because it is not the sync thread, acknowledgements never
//! wait for it.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::hub::Hub;
use crate::protocol::{Push, Update, UpdateBody};
use crate::storage::commit::Sink;

/// Durable batches waiting for the fan-out thread; beyond this the sync
/// thread waits, so memory stays bounded if pushing falls behind.
const QUEUE: usize = 256;

/// An update to push once it is durable.
#[derive(Debug)]
pub struct Event {
    /// Who sees it live.
    pub audience: Audience,
    /// Its update id (the same in every recipient's log).
    pub id: u64,
    /// What happened.
    pub update: UpdateBody,
}

/// Who receives an event live.
#[derive(Debug)]
pub enum Audience {
    /// Every online session of these users, except the one the change came
    /// from (which learns of it from its reply).
    Users {
        /// The users.
        users: Vec<u64>,
        /// The originating session, if any.
        except: Option<u64>,
    },
}

/// Starts the fan-out thread; it ends when the returned sink is dropped.
/// `then` sees each event once it is delivered (the wake-ups of devices
/// that are not connected), and must not wait.
pub(crate) fn start(
    hub: Arc<Hub>,
    then: impl Fn(&Event) + Send + 'static,
) -> std::io::Result<(Sink<Event>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::sync_channel::<Vec<Event>>(QUEUE);
    let thread = std::thread::Builder::new().name("kith-fanout".into()).spawn(move || {
        for batch in rx {
            for event in batch {
                deliver(&hub, &event);
                then(&event);
            }
        }
    })?;
    let sink: Sink<Event> = Box::new(move |events| {
        if !events.is_empty() {
            // The thread only stops once this sink is gone.
            let _ = tx.send(events);
        }
    });
    Ok((sink, thread))
}

fn deliver(hub: &Hub, event: &Event) {
    let frame = Bytes::from(Push::Update(Update::new(event.id, &event.update)).frame());
    match &event.audience {
        Audience::Users { users, except } => {
            for user in users {
                hub.deliver(*user, &frame, *except);
            }
        }
    }
}
