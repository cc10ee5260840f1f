//! `group`: one group of M members, each online on one device and reading,
//! and S of them sending from a second device: durable-ack latency and
//! deliveries per second, with the group below or above the server's write
//! diffusion threshold.
//!
//! The group is built with every member offline (each joins over its own
//! short connection, then hangs up), so the joins' system messages do not
//! pile up unread on the connections the run then measures.

use std::collections::HashMap;

use super::report::Report;
use super::traffic::{drive, Sender, Traffic};
use super::{concurrently, Bench};
use crate::client::{Client, ClientError};
use crate::protocol::{CreateGroupRequest, JoinGroupRequest, Target};

/// Device index of the members' reading connections; senders use the next.
pub(super) const READER: usize = 0;
pub(super) const SENDER: usize = 1;

/// Opens a group of `members` users named by `name` (0 its owner); each
/// joins over a connection of its own and hangs up. Returns its id.
pub(super) async fn build(b: &Bench<'_>, members: usize, name: &impl Fn(usize) -> String) -> Result<u64, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let (owner, _) = accounts.connect(server, &name(0), READER).await?;
    let fields = super::open_group(format!("bench {members}"));
    let group = owner.call(&CreateGroupRequest { fields, members: Vec::new() }).await?.group.group_id;
    drop(owner);
    let joined = concurrently((1..members).collect(), args.concurrency, "joining", |i| {
        let name = name(i);
        async move {
            let (client, _) = accounts.connect(server, &name, READER).await?;
            client.call(&JoinGroupRequest { group_id: group, message: String::new() }).await.map(|_| ())
        }
    })
    .await;
    joined.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(group)
}

/// The first `count` of the group's members, each logged in as a reader,
/// some connections concurrently.
pub(super) async fn connect_readers(
    b: &Bench<'_>,
    count: usize,
    name: &impl Fn(usize) -> String,
) -> Vec<Result<Client, ClientError>> {
    let (server, accounts) = (&b.server, &b.accounts);
    concurrently((0..count).collect(), b.args.concurrency, "connecting", |i| {
        let name = name(i);
        async move { accounts.connect(server, &name, READER).await.map(|(client, _)| client) }
    })
    .await
}

pub(super) async fn run(b: &mut Bench<'_>) -> Result<Report, ClientError> {
    let (args, server, accounts) = (b.args, &b.server, &b.accounts);
    let members = args.members.max(2);
    let senders = args.senders.clamp(1, members);
    let name = |i: usize| format!("{}-grp{members}-{i}", args.prefix);

    let group = build(b, members, &name).await?;
    let readers = connect_readers(b, members, &name).await;
    let mut traffic = Traffic { senders: Vec::new(), receivers: Vec::new(), devices: HashMap::new() };
    for reader in readers {
        traffic.receivers.push(reader?);
    }
    // Every member's reading device gets every message, the senders' too:
    // only the sending connection is left out of its own pushes.
    traffic.devices.insert(Target::Group(group), members as u64);
    for i in 0..senders {
        let (mut client, _) = accounts.connect(server, &name(i), SENDER).await?;
        client.discard_pushes();
        traffic.senders.push(Sender::new(client, vec![Target::Group(group)], None));
    }

    let mut report = Report::new("group", "");
    report.count("members", members as u64).count("senders", senders as u64);
    b.probe.start();
    drive(args, traffic, &[]).await.1.add_to(&mut report, "");
    Ok(report)
}
