//! The send loop: a few SMTP connections at once, each reused for many
//! messages, pulling readers from one shared queue.
//!
//! Per reader: the message is personalised from the template, MAIL / RCPT /
//! DATA go out, the ledger durably marks the reader in flight, the body goes
//! out, and the reply is recorded before the worker moves on. A 4xx or a
//! dropped connection puts the reader back in the queue with a growing delay,
//! a bounded number of times. A 5xx fails that reader only. A server that
//! stays unreachable ends the run, and the readers not yet sent stay pending
//! for the next run.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lettre::Address;

use super::ledger::{Event, Ledger};
use super::progress::Progress;
use super::queue::{Next, Queue};
use super::smtp::{Attempt, Connection, Connector};
use crate::clock::Clock;
use crate::log::{self, Level};
use crate::message::{Purpose, Reader, Template};

/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    pub failed: u64,
    pub uncertain: u64,
    /// Not delivered in this run for a passing reason (4xx, dropped
    /// connection); the next run tries again.
    pub deferred: u64,
    /// Readers never tried because the run stopped early.
    pub not_tried: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// (address, reply) of each reader refused for good.
    pub failures: Vec<(String, String)>,
    /// Addresses whose delivery is uncertain.
    pub uncertain_readers: Vec<String>,
}

impl Tally {
    pub fn done(&self) -> u64 {
        self.sent + self.failed + self.uncertain + self.deferred
    }
}

/// Everything the workers share.
pub struct Engine {
    pub template: Arc<Template>,
    pub connector: Arc<Connector>,
    /// `None` for a test send: nothing is recorded.
    pub ledger: Option<Arc<Ledger>>,
    pub purpose: Purpose,
    pub clock: Clock,
    pub progress: Arc<Progress>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// Sends to every reader `source` yields, and reports what happened.
pub async fn run(engine: Engine, source: Box<dyn Iterator<Item = Reader> + Send>) -> Tally {
    let settings = engine.connector.settings().clone();
    let workers = settings.connections.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(Queue::new(source, workers)),
        rate: settings.rate.map(|r| Mutex::new(Pace::new(r))),
        engine,
    });
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(Arc::clone(&shared)));
    }
    while set.join_next().await.is_some() {}

    let mut state = shared.lock();
    let mut tally = std::mem::take(&mut state.tally);
    // Whatever is left was never delivered in this run.
    let left = state.remaining();
    tally.not_tried += left;
    if left > 0 && tally.stopped.is_none() {
        tally.stopped = Some("no connection could be kept open".into());
    }
    shared.engine.progress.finish(&tally);
    tally
}

struct Shared {
    state: Mutex<Queue>,
    rate: Option<Mutex<Pace>>,
    engine: Engine,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panicking worker cannot leave the counts half-updated in a way
        // that matters more than finishing the run; take the data anyway.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Evenly spaced sends for a messages-per-second limit shared by all
/// connections.
struct Pace {
    interval: Duration,
    next: Instant,
}

impl Pace {
    fn new(per_second: f64) -> Pace {
        Pace {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Instant::now(),
        }
    }

    /// The moment this send may go.
    fn slot(&mut self) -> Instant {
        let now = Instant::now();
        let slot = self.next.max(now);
        self.next = slot + self.interval;
        slot
    }
}

fn backoff(first: Duration, attempt: u32) -> Duration {
    first
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

async fn worker(shared: Arc<Shared>) {
    let engine = &shared.engine;
    let settings = engine.connector.settings();
    let from: Address = engine.template.envelope_from();
    let mut connection: Option<Connection> = None;
    let mut connect_failures: u32 = 0;

    loop {
        let next = shared.lock().next(Instant::now());
        let (reader, attempt) = match next {
            Next::Job(reader, attempt) => (reader, attempt),
            Next::Wait(wait) => {
                tokio::time::sleep(wait.min(Duration::from_millis(200))).await;
                continue;
            }
            Next::Done => break,
        };

        if connection.is_none() {
            match engine.connector.connect().await {
                Ok(c) => {
                    connection = Some(c);
                    connect_failures = 0;
                }
                Err(e) => {
                    connect_failures += 1;
                    let gave_up = e.permanent || connect_failures > settings.retries;
                    {
                        let mut state = shared.lock();
                        // The reader was not tried: back it goes, same attempt.
                        state.requeue(reader, attempt, Duration::ZERO);
                        if e.permanent {
                            // Retrying cannot help; no worker should try.
                            state.alive -= 1;
                            state.stop(e.to_string());
                        } else if gave_up {
                            state.alive -= 1;
                            if state.alive == 0 {
                                state.stop(format!("server unavailable: {e}"));
                            }
                        }
                    }
                    if gave_up {
                        log::event(
                            Level::Error,
                            "smtp.gave_up",
                            &[("error", &e), ("tries", &connect_failures)],
                        );
                        return;
                    }
                    let wait = backoff(settings.retry_delay, connect_failures);
                    log::event(
                        Level::Warn,
                        "smtp.connect_failed",
                        &[("error", &e), ("retry_in_ms", &wait.as_millis())],
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };

        if let Some(rate) = &shared.rate {
            let slot = rate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .slot();
            tokio::time::sleep_until(slot.into()).await;
        }

        let email = reader.email.to_string();
        let message = engine
            .template
            .message(&reader, engine.purpose, engine.clock.now());
        let marked = std::sync::atomic::AtomicBool::new(false);
        let attempt_result = conn
            .send(&from, &reader.email, &message, || async {
                if let Some(ledger) = &engine.ledger {
                    ledger.record(Event::Inflight, &email, None).await?;
                }
                marked.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
        let marked = marked.load(std::sync::atomic::Ordering::SeqCst);

        let outcome = settle(&shared, reader, attempt, attempt_result, marked).await;
        match outcome {
            Settled::KeepConnection => {}
            Settled::DropConnection => connection = None,
            Settled::StopRun(why) => {
                shared.lock().stop(why);
                connection = None;
                break;
            }
        }
        engine.progress.tick(&shared.lock().tally);
    }
    if let Some(conn) = connection {
        conn.quit().await;
    }
    shared.lock().alive -= 1;
}

enum Settled {
    KeepConnection,
    DropConnection,
    StopRun(String),
}

/// Settles a reader for good: tallied first (it happened on the wire,
/// whatever the ledger manages), then recorded in the ledger.
async fn finish(
    shared: &Shared,
    event: Event,
    email: &str,
    reply: String,
    tally: impl FnOnce(&mut Tally, &str, &str),
) -> Result<(), String> {
    {
        let mut state = shared.lock();
        state.settled();
        tally(&mut state.tally, email, &reply);
    }
    match &shared.engine.ledger {
        Some(ledger) => ledger.record(event, email, Some(&reply)).await,
        None => Ok(()),
    }
}

/// Records one attempt's outcome in the ledger and the tally, and decides
/// what becomes of the reader and the connection.
async fn settle(
    shared: &Shared,
    reader: Reader,
    attempt: u32,
    result: Attempt,
    marked: bool,
) -> Settled {
    let engine = &shared.engine;
    let settings = engine.connector.settings();
    let email = reader.email.to_string();
    let record = |event: Event, reply: String| {
        let email = email.clone();
        async move {
            match &engine.ledger {
                Some(ledger) => ledger.record(event, &email, Some(&reply)).await,
                None => Ok(()),
            }
        }
    };
    let (transient, connection, why) = match result {
        Attempt::Accepted { reply } => {
            return match finish(shared, Event::Sent, &email, reply, |t, _, _| t.sent += 1).await {
                Ok(()) => Settled::KeepConnection,
                Err(e) => Settled::StopRun(format!("cannot record a delivery in the ledger: {e}")),
            };
        }
        Attempt::Rejected {
            permanent: true,
            reply,
            reusable,
        } => {
            log::event(
                Level::Warn,
                "send.failed",
                &[("reader", &email), ("reply", &reply)],
            );
            let tally = |t: &mut Tally, email: &str, reply: &str| {
                t.failed += 1;
                t.failures.push((email.to_string(), reply.to_string()));
            };
            return match finish(shared, Event::Failed, &email, reply, tally).await {
                Ok(()) if reusable => Settled::KeepConnection,
                Ok(()) => Settled::DropConnection,
                Err(e) => Settled::StopRun(format!("cannot record a failure in the ledger: {e}")),
            };
        }
        Attempt::Uncertain { error } => {
            log::event(
                Level::Warn,
                "send.uncertain",
                &[("reader", &email), ("error", &error)],
            );
            let tally = |t: &mut Tally, email: &str, _: &str| {
                t.uncertain += 1;
                t.uncertain_readers.push(email.to_string());
            };
            return match finish(shared, Event::Uncertain, &email, error, tally).await {
                Ok(()) => Settled::DropConnection,
                Err(e) => Settled::StopRun(format!("cannot record in the ledger: {e}")),
            };
        }
        Attempt::Stopped { error } => {
            shared.lock().requeue(reader, attempt, Duration::ZERO);
            return Settled::StopRun(format!("cannot record in the ledger: {error}"));
        }
        Attempt::Rejected {
            permanent: false,
            reply,
            reusable,
        } => (reply, reusable, "rejected for now"),
        Attempt::NotSent { error } => (error, false, "connection lost"),
    };

    // A passing problem: the reader goes back in the queue, a bounded number
    // of times. If it was marked in flight, the ledger must say it was not
    // delivered, or a restart would take it for uncertain.
    let exhausted = attempt > settings.retries;
    if (marked || exhausted)
        && let Err(e) = record(Event::Deferred, transient.clone()).await
    {
        return Settled::StopRun(format!("cannot record in the ledger: {e}"));
    }
    let mut state = shared.lock();
    if exhausted {
        log::event(
            Level::Warn,
            "send.deferred",
            &[
                ("reader", &email),
                ("attempts", &attempt),
                ("last", &transient),
            ],
        );
        state.settled();
        state.tally.deferred += 1;
    } else {
        let wait = backoff(settings.retry_delay, attempt);
        log::event(
            Level::Info,
            "send.retry",
            &[
                ("reader", &email),
                ("why", &why),
                ("reply", &transient),
                ("retry_in_ms", &wait.as_millis()),
            ],
        );
        state.requeue(reader, attempt + 1, wait);
    }
    if connection {
        Settled::KeepConnection
    } else {
        Settled::DropConnection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let first = Duration::from_millis(500);
        assert_eq!(backoff(first, 1), Duration::from_millis(500));
        assert_eq!(backoff(first, 2), Duration::from_secs(1));
        assert_eq!(backoff(first, 4), Duration::from_secs(4));
        assert_eq!(backoff(first, 40), MAX_BACKOFF);
    }

    #[test]
    fn pace_spaces_sends_evenly() {
        let mut pace = Pace::new(10.0);
        let a = pace.slot();
        let b = pace.slot();
        let c = pace.slot();
        assert_eq!(b - a, Duration::from_millis(100));
        assert_eq!(c - b, Duration::from_millis(100));
    }
}
