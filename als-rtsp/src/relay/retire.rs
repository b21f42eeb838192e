// SPDX-License-Identifier: MPL-2.0

//! Ending a connection without ever blocking the relay on it.
//!
//! A connection ends with EOS through its analysis (so that its summaries are written), and
//! then its pipeline is stopped, both on a thread of its own. Stopping can hang: in a soak
//! that reconnected every 3 s, GStreamer 1.22's `rtspsrc` once never returned from its change
//! to NULL after a connection went silent (its task waiting, inside `rtpbin`'s state change,
//! for the jitter buffer's streaming thread), and the relay, which waited for that thread
//! before connecting again, served the "source lost" card for good. So a retiring connection
//! is waited for up to [`RETIRE_DEADLINE`] and then abandoned with a warning that says whether
//! its analysis had finished: its thread, memory and sockets (the session with the camera
//! included) stay behind until the relay exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::secrets::say;

/// How long a connection's analysis may take to finish (EOS through it, summaries written)
/// before its pipeline is stopped anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long stopping a drained pipeline may take before it is given up on.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long after its end a connection may keep the next one waiting.
const RETIRE_DEADLINE: Duration = DRAIN_TIMEOUT.saturating_add(STOP_TIMEOUT);

/// How a connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Its stream already reached the end of the analysis (EOS): the records are written.
    Ended,
    /// EOS is sent through the analysis first, so that the records get written.
    Drain,
    /// The relay is stopping on its own error: no EOS, just stop.
    Abort,
}

/// One connection's ingest pipeline, its bus watch, and the flag that stops a retired one
/// (draining after the connection ended) from counting as live.
pub(super) struct Ingest {
    pub(super) pipeline: gst::Element,
    pub(super) _watch: gst::bus::BusWatchGuard,
    pub(super) retired: Arc<AtomicBool>,
}

impl Ingest {
    /// Ends the connection on a thread of its own, as `end` says, then stops it.
    pub(super) fn retire(self, end: End) -> Retiring {
        self.retired.store(true, Ordering::SeqCst);
        let Ingest {
            pipeline, _watch, ..
        } = self;
        // Its messages are no longer this relay's business.
        drop(_watch);
        let deadline = Instant::now() + RETIRE_DEADLINE;
        let drained = Arc::new(AtomicBool::new(end == End::Ended));
        let thread = std::thread::Builder::new()
            .name("als-rtsp-retire".into())
            .spawn({
                let (pipeline, drained) = (pipeline.clone(), drained.clone());
                move || {
                    if end == End::Drain && drain(&pipeline, DRAIN_TIMEOUT) {
                        drained.store(true, Ordering::SeqCst);
                    }
                    let _ = pipeline.set_state(gst::State::Null);
                }
            });
        match thread {
            Ok(thread) => Retiring {
                thread: Some(thread),
                drained,
                deadline,
            },
            Err(e) => {
                // Never on this thread: stopping is what can hang. GStreamer's own thread
                // pool, without waiting for it.
                say(&format!(
                    "could not start a thread to finish the connection's analysis ({e}): \
                     stopping it without its summaries"
                ));
                pipeline.call_async(|pipeline| {
                    let _ = pipeline.set_state(gst::State::Null);
                });
                Retiring {
                    thread: None,
                    drained,
                    deadline,
                }
            }
        }
    }
}

/// Sends EOS into the analysis (the queue after the source part, which may already be dead)
/// and waits up to `timeout` for it to come out at the end. Nothing is sent when no data ever
/// reached the analysis: there is nothing to summarise. True when the analysis finished (or
/// had nothing to finish).
fn drain(pipeline: &gst::Element, timeout: Duration) -> bool {
    let head = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("head"))
        .and_then(|queue| queue.static_pad("sink"));
    let flowed = head
        .as_ref()
        .is_some_and(|pad| pad.current_caps().is_some());
    if let (Some(head), Some(bus), true) = (head, pipeline.bus(), flowed) {
        // Refused when the source's own EOS got there first: then that one is awaited.
        let _ = head.send_event(gst::event::Eos::new());
        let done = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(timeout.as_nanos() as u64),
            &[gst::MessageType::Eos],
        );
        if done.is_none() {
            say(&format!(
                "the connection's analysis did not finish within {:.0} s: its summary may be \
                 missing",
                timeout.as_secs_f64()
            ));
            return false;
        }
    }
    true
}

/// A connection being retired: the thread ending it, and when the relay stops waiting.
pub(super) struct Retiring {
    thread: Option<JoinHandle<()>>,
    /// Set once EOS came out of the analysis: the records are written.
    drained: Arc<AtomicBool>,
    deadline: Instant,
}

/// The connections still being retired. The next connection waits for them (both would
/// append to the same files), but never past their deadlines.
#[derive(Default)]
pub(super) struct Retirements {
    pending: Vec<Retiring>,
    abandoned: usize,
}

impl Retirements {
    pub(super) fn push(&mut self, retiring: Retiring) {
        self.pending.push(retiring);
    }

    /// Joins the finished ones and abandons, with a warning, those past their deadline at
    /// `now`. True while any is still within its deadline: the caller should wait.
    pub(super) fn settle(&mut self, now: Instant) -> bool {
        let mut waiting = false;
        let (mut abandoned, mut undrained) = (0, 0);
        self.pending.retain_mut(|r| {
            let Some(thread) = r.thread.as_ref() else {
                return false;
            };
            if thread.is_finished() {
                if let Some(thread) = r.thread.take() {
                    let _ = thread.join();
                }
                false
            } else if now >= r.deadline {
                abandoned += 1;
                if !r.drained.load(Ordering::SeqCst) {
                    undrained += 1;
                }
                false
            } else {
                waiting = true;
                true
            }
        });
        if abandoned > 0 {
            self.abandoned += abandoned;
            let records = if undrained == 0 {
                "its records were written first"
            } else {
                "its analysis had not finished: its last records may be missing, and it may \
                 still hold the JSON Lines file and the MQTT spool"
            };
            say(&format!(
                "warning: a finished connection did not stop within {:.0} s and is left \
                 behind with its thread, memory and sockets ({} so far); {records}",
                RETIRE_DEADLINE.as_secs_f64(),
                self.abandoned
            ));
        }
        waiting
    }

    /// Waits, polling every `poll`, until every retirement has finished or passed its
    /// deadline.
    pub(super) fn settle_all(&mut self, poll: Duration) {
        while self.settle(Instant::now()) {
            std::thread::sleep(poll);
        }
    }

    pub(super) fn abandoned(&self) -> usize {
        self.abandoned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn retiring(deadline: Instant, work: impl FnOnce() + Send + 'static) -> Retiring {
        Retiring {
            thread: Some(std::thread::spawn(work)),
            drained: Arc::new(AtomicBool::new(true)),
            deadline,
        }
    }

    #[test]
    fn a_finished_retirement_is_joined_and_lets_the_next_connection_go() {
        let mut all = Retirements::default();
        let (done_tx, done_rx) = mpsc::channel();
        all.push(retiring(
            Instant::now() + Duration::from_secs(60),
            move || {
                let _ = done_tx.send(());
            },
        ));
        done_rx.recv().expect("the thread ran");
        let start = Instant::now();
        while all.settle(Instant::now()) {
            assert!(start.elapsed() < Duration::from_secs(10), "never joined");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(all.abandoned(), 0);
        assert!(all.pending.is_empty());
    }

    #[test]
    fn a_hung_retirement_holds_the_next_connection_only_until_its_deadline() {
        let mut all = Retirements::default();
        // Stands for a pipeline whose change to NULL never returns.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let deadline = Instant::now() + Duration::from_secs(3600);
        all.push(retiring(deadline, move || {
            let _ = release_rx.recv();
        }));
        assert!(all.settle(Instant::now()), "waits within the deadline");
        assert!(all.settle(deadline - Duration::from_millis(1)));
        assert!(!all.settle(deadline), "stops waiting at the deadline");
        assert_eq!(all.abandoned(), 1);
        assert!(all.pending.is_empty());
        // Only the hung one is abandoned; a later one is waited for again.
        all.push(retiring(deadline, || {}));
        let start = Instant::now();
        while all.settle(Instant::now()) {
            assert!(start.elapsed() < Duration::from_secs(10), "never joined");
        }
        assert_eq!(all.abandoned(), 1);
        drop(release_tx);
    }

    #[test]
    fn settle_all_returns_at_the_deadline_of_a_hung_retirement() {
        let mut all = Retirements::default();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        all.push(retiring(
            Instant::now() + Duration::from_millis(200),
            move || {
                let _ = release_rx.recv();
            },
        ));
        // Were the deadline ignored, settle_all would return only when this lets go.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            drop(release_tx);
        });
        let start = Instant::now();
        all.settle_all(Duration::from_millis(10));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        assert_eq!(all.abandoned(), 1);
    }
}
