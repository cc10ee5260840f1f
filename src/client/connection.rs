//! The client's connection task: writes requests, matches responses to them
//! by sequence id, and forwards pushes.

use std::collections::HashMap;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

use crate::codec::HARD_MAX_BODY;
use crate::protocol::{encode_frame, FrameDecoder, Push, ERROR_ACTION, PUSH_SEQUENCE};

/// A response as received.
#[derive(Debug, Clone)]
pub struct RawReply {
    /// The request's action on success, [`ERROR_ACTION`] on failure.
    pub action: u8,
    /// Undecoded body.
    pub body: Bytes,
}

/// What the [`super::Client`] asks of its connection task.
pub(crate) enum Outgoing {
    /// Send a request with the next free sequence id.
    Request { action: u8, body: Vec<u8>, reply: oneshot::Sender<RawReply> },
    /// Send bytes as they are; if `sequence` is given, route the response
    /// with that sequence id to `reply`.
    Raw { bytes: Vec<u8>, sequence: Option<u32>, reply: Option<oneshot::Sender<RawReply>> },
}

/// Runs until the server closes the connection or the client is dropped.
/// Pending requests then fail with `Closed`, as their reply senders drop.
pub(crate) async fn drive<R, W>(
    reader: R,
    mut writer: W,
    mut commands: mpsc::Receiver<Outgoing>,
    pushes: mpsc::Sender<Push>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = FramedRead::new(reader, FrameDecoder::new(HARD_MAX_BODY));
    let mut pending: HashMap<u32, oneshot::Sender<RawReply>> = HashMap::new();
    let mut next_sequence: u32 = 1;
    let mut out = Vec::new();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(mut command) = command else { break };
                // Gather every command already queued into one write.
                loop {
                    match command {
                        Outgoing::Request { action, body, reply } => {
                            let sequence = next_sequence;
                            next_sequence = next_sequence.checked_add(1).unwrap_or(1);
                            pending.insert(sequence, reply);
                            out.extend_from_slice(&encode_frame(action, sequence, &body));
                        }
                        Outgoing::Raw { bytes, sequence, reply } => {
                            if let (Some(sequence), Some(reply)) = (sequence, reply) {
                                pending.insert(sequence, reply);
                            }
                            out.extend_from_slice(&bytes);
                        }
                    }
                    match commands.try_recv() {
                        Ok(next) if out.len() < 256 * 1024 => command = next,
                        Ok(next) => {
                            if write(&mut writer, &mut out).await.is_err() {
                                return;
                            }
                            command = next;
                        }
                        Err(_) => break,
                    }
                }
                if write(&mut writer, &mut out).await.is_err() {
                    break;
                }
            }
            frame = frames.next() => {
                let Some(Ok(frame)) = frame else { break };
                let (sequence, action) = (frame.header.sequence, frame.header.action);
                if sequence == PUSH_SEQUENCE && action != ERROR_ACTION {
                    // Pushes of kinds newer than this client are skipped.
                    if let Ok(Some(push)) = Push::decode(action, &frame.body) {
                        if pushes.send(push).await.is_err() {
                            break;
                        }
                    }
                } else if let Some(reply) = pending.remove(&sequence) {
                    let _ = reply.send(RawReply { action, body: frame.body });
                }
            }
        }
    }
    let _ = writer.shutdown().await;
}

async fn write<W: AsyncWrite + Unpin>(writer: &mut W, out: &mut Vec<u8>) -> std::io::Result<()> {
    let result = writer.write_all(out).await;
    out.clear();
    result?;
    writer.flush().await
}
