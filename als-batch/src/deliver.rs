// SPDX-License-Identifier: MPL-2.0

//! Sending what earlier runs (or earlier videos of this run) left in the spool: one publisher
//! per spool, with that spool's client id and the broker options of this run, for as long as
//! the broker keeps taking records.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstals::publish::{Notice, Publisher};

use crate::mqtt::{Broker, SpoolOf};

/// A spool is given up when the broker has taken none of its records for this long.
pub const STALL: Duration = Duration::from_secs(10);

/// A spool to send: its client id and the video whose records it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub client_id: String,
    pub video: String,
}

/// The spools of the spool directory that hold records, sorted into those this run sends and
/// the lines that tell about the others. `videos` are this run's (after `--shard`); `all`
/// maps the client id of every video of IN_DIR to its path. A sharded run sends only its own
/// videos' spools (another shard, maybe running now, sends the rest); an unsharded one also
/// those of videos no longer in IN_DIR.
pub fn waiting(
    broker: &Broker,
    videos: &[String],
    all: &HashMap<String, String>,
    sharded: bool,
) -> Result<(Vec<Waiting>, Vec<String>), String> {
    let ids = gstals::publish::spool::spooled(&broker.spool_dir).map_err(|e| {
        format!(
            "could not list the spool folder {}: {e}",
            broker.spool_dir.display()
        )
    })?;
    let mine: HashMap<String, &String> = videos
        .iter()
        .map(|name| (broker.client_id(name), name))
        .collect();
    let (mut send, mut notes, mut others, mut unknown) = (Vec::new(), Vec::new(), 0, 0);
    for id in ids {
        let video = match (mine.get(&id), broker.spool_of(&id)) {
            (Some(name), _) => Some((*name).clone()),
            (None, SpoolOf::Other) => {
                others += 1;
                None
            }
            (None, _) if sharded => None,
            (None, SpoolOf::Video(name)) => Some(name),
            (None, SpoolOf::Hashed) => match all.get(&id) {
                Some(name) => Some(name.clone()),
                None => {
                    unknown += 1;
                    None
                }
            },
        };
        if let Some(video) = video {
            send.push(Waiting {
                client_id: id,
                video,
            });
        }
    }
    if unknown > 0 {
        notes.push(format!(
            "{unknown} spools in {} hold records of videos no longer in the input folder whose \
             paths were too long to keep in their names: they cannot be sent",
            broker.spool_dir.display()
        ));
    }
    if others > 0 {
        notes.push(format!(
            "{others} other spools in {} hold records (other client ids: another \
             --mqtt-client-id or another tool); left alone",
            broker.spool_dir.display()
        ));
    }
    Ok((send, notes))
}

/// What sending one spool did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: u64,
    /// Records still in the spool.
    pub left: u64,
    pub dropped: u64,
    /// Why records are left (the broker's last complaint), when they are.
    pub problem: Option<String>,
}

/// Sends the records of `spools`, each until it is empty, or the broker takes nothing for
/// [`STALL`], or `stop` is set. When the broker took nothing at all from a spool, the rest
/// are not tried (the broker is away). `say` gets a line per spool. Returns, per client id
/// tried, what happened.
pub fn send(
    broker: &Broker,
    spools: &[Waiting],
    stop: &AtomicBool,
    say: &dyn Fn(String),
) -> HashMap<String, Delivery> {
    let mut done = HashMap::new();
    for (n, spool) in spools.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let delivery = match send_one(broker, spool, stop) {
            Ok(d) => d,
            Err(why) => {
                say(format!(
                    "{}: could not send the records waiting in its spool: {why}",
                    spool.video
                ));
                continue;
            }
        };
        if delivery.left == 0 {
            if delivery.sent > 0 {
                say(format!(
                    "{}: sent the {} records that waited in its spool",
                    spool.video, delivery.sent
                ));
            }
        } else {
            say(format!(
                "{}: {} records still wait in its spool ({} sent{}{}); a later run sends them",
                spool.video,
                delivery.left,
                delivery.sent,
                delivery
                    .problem
                    .as_deref()
                    .map(|p| format!("; {p}"))
                    .unwrap_or_default(),
                if delivery.dropped > 0 {
                    format!("; {} dropped", delivery.dropped)
                } else {
                    String::new()
                }
            ));
        }
        let away = delivery.sent == 0 && delivery.left > 0;
        done.insert(spool.client_id.clone(), delivery);
        if away && n + 1 < spools.len() {
            say(format!(
                "the broker takes no records now: {} more spools wait for a later run",
                spools.len() - n - 1
            ));
            break;
        }
    }
    done
}

fn send_one(broker: &Broker, spool: &Waiting, stop: &AtomicBool) -> Result<Delivery, String> {
    let mut config = broker.config(&spool.video);
    // The id the spool has, even if this run would name the video otherwise.
    config.client_id = spool.client_id.clone();
    let problem = Arc::new(Mutex::new(None::<String>));
    let heard = problem.clone();
    let publisher = Publisher::start(config, move |notice| {
        let text = match notice {
            Notice::Connected => return,
            Notice::Unreachable { why, .. } => format!("broker unreachable: {why}"),
            Notice::Refused(why) => format!("broker refused the connection: {why}"),
            Notice::Dropped(n) => format!("{n} records dropped"),
            other => format!("{other:?}"),
        };
        if let Ok(mut p) = heard.lock() {
            *p = Some(text);
        }
    })?;
    let (mut sent, mut progress) = (0, Instant::now());
    loop {
        if publisher.drain(Duration::from_millis(250)) || stop.load(Ordering::SeqCst) {
            break;
        }
        let now = publisher.snapshot().sent;
        if now > sent {
            (sent, progress) = (now, Instant::now());
        } else if progress.elapsed() >= STALL {
            break;
        }
    }
    publisher.stop(Duration::ZERO);
    let end = publisher.snapshot();
    Ok(Delivery {
        sent: end.sent,
        left: end.in_spool,
        dropped: end.dropped,
        problem: if end.in_spool > 0 {
            problem.lock().ok().and_then(|p| p.clone())
        } else {
            None
        },
    })
}
