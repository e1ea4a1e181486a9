//! The send loop: a few SMTP connections at once, each reused for many
//! messages, pulling readers from one shared queue.
//!
//! Per reader: the message is personalised from the template, the envelope
//! and body go out, the ledger durably marks the reader in flight, the final
//! dot goes out, and the reply is recorded before the worker moves on. A 4xx
//! or a dropped connection puts the reader back in the queue with a growing
//! delay, a bounded number of times. A 5xx fails that reader only. A server
//! that stays unreachable ends the run, and the readers not yet sent stay
//! pending for the next run.
//!
//! SIGINT or SIGTERM stops the run cleanly: no new reader is taken, the
//! messages already on the wire get a few seconds for their replies, which
//! are recorded, and the run reports what it did. A second signal ends the
//! process at once.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ledger::{Event, Ledger};
use super::plan::{SharedSuppressed, suppressed_now};
use super::progress::Progress;
use super::queue::{Job, Next, Queue};
use super::relays::{AfterFailure, Choice, Relays, backoff};
use super::smtp_client::{Attempt, ConnectError, Envelope, Session};
use super::tally::{Stop, Tally};
use crate::clock::Clock;
use crate::list::reader::Reader;
use crate::log::{self, Level};
use crate::mail::{MessageError, Purpose, Template};

/// After SIGINT or SIGTERM, how long the messages on the wire get for their
/// replies before the run ends anyway.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// Everything the workers share.
pub(crate) struct Engine {
    pub template: Arc<Template>,
    /// Where the messages go: one relay or several.
    pub relays: Arc<Relays>,
    /// `None` for a test send: nothing is recorded.
    pub ledger: Option<Arc<Ledger>>,
    /// The suppression list, looked at again right before each reader;
    /// `None` for a test send.
    pub suppressed: Option<SharedSuppressed>,
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

/// Sends to every reader `source` yields (about `readers` of them), and
/// reports what happened.
pub(crate) async fn run(
    engine: Engine,
    source: Box<dyn Iterator<Item = Reader> + Send>,
    readers: u64,
) -> Tally {
    let homes = engine
        .relays
        .homes(usize::try_from(readers).unwrap_or(usize::MAX));
    let shared = Arc::new(Shared {
        state: Mutex::new(Queue::new(source, homes.len())),
        on_wire: Mutex::new(Vec::new()),
        engine,
    });
    let mut set = tokio::task::JoinSet::new();
    for home in homes {
        set.spawn(worker(Arc::clone(&shared), home));
    }
    let interrupted = interruptions();
    supervise(&shared, &mut set, interrupted).await;

    let mut state = shared.lock();
    // Messages whose dot went out and whose reply never came before the
    // run ended: their `inflight` is on disk, so they read as uncertain.
    let cut_off = std::mem::take(&mut *shared.lock_wire());
    let busy = u64::try_from(state.busy()).unwrap_or(0);
    let mut tally = std::mem::take(&mut state.tally);
    for email in &cut_off {
        tally.uncertain += 1;
        tally
            .uncertain_readers
            .push((email.clone(), "no reply before the run stopped".into()));
    }
    // Whatever is left was never delivered in this run.
    tally.not_tried += state.remaining() + busy.saturating_sub(cut_off.len() as u64);
    if tally.not_tried > 0 && tally.stopped.is_none() {
        tally.stop(Stop::Unavailable("no connection could be kept open".into()));
    }
    shared.engine.progress.finish(&tally);
    tally
}

/// Waits for the workers. On the first SIGINT or SIGTERM, stops the queue
/// and gives the messages on the wire [`GRACE`] to finish; a worker that
/// panicked stops the run instead of leaving the others waiting for it.
async fn supervise(
    shared: &Arc<Shared>,
    set: &mut tokio::task::JoinSet<()>,
    mut interrupted: tokio::sync::mpsc::Receiver<()>,
) {
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let grace_over = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(Err(e)) if e.is_panic() => {
                    shared.lock().stop(Stop::Internal("a send worker failed".into()));
                }
                Some(_) => {}
            },
            Some(()) = interrupted.recv(), if deadline.is_none() => {
                shared.lock().stop(Stop::Interrupted);
                log::event(Level::Warn, "send.interrupted", &[
                    ("hint", &format!("finishing the messages on the wire (up to {} s); interrupt again to stop at once", GRACE.as_secs())),
                ]);
                deadline = Some(tokio::time::Instant::now() + GRACE);
            }
            () = grace_over => {
                set.abort_all();
                while set.join_next().await.is_some() {}
                break;
            }
        }
    }
}

/// The first SIGINT or SIGTERM, as a message; the second ends the process
/// at once (exit 130, as a shell reports an interrupted command).
fn interruptions() -> tokio::sync::mpsc::Receiver<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tell, told) = tokio::sync::mpsc::channel(1);
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return told;
    };
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen > 1 {
                log::event(
                    Level::Error,
                    "send.aborted",
                    &[("why", &"interrupted twice")],
                );
                std::process::exit(130);
            }
            let _ = tell.send(()).await;
        }
    });
    told
}

struct Shared {
    state: Mutex<Queue>,
    /// Readers whose final dot is written and whose reply is awaited.
    on_wire: Mutex<Vec<String>>,
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

    fn lock_wire(&self) -> MutexGuard<'_, Vec<String>> {
        self.on_wire
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn off_wire(&self, email: &str) {
        let mut wire = self.lock_wire();
        if let Some(i) = wire.iter().position(|e| e == email) {
            wire.swap_remove(i);
        }
    }
}

/// One connection's loop: take a reader, send, settle, until the queue is
/// done or no relay is left. The worker uses its home relay while it is in
/// rotation, and another while it rests.
async fn worker(shared: Arc<Shared>, home: usize) {
    let engine = &shared.engine;
    let mut session: Option<(Session, usize)> = None;
    loop {
        if session
            .as_ref()
            .is_some_and(|(_, relay)| !engine.relays.in_rotation(*relay))
        {
            end_session(&shared, &mut session);
        }
        // A reader the relay in use refused is for the others, while there
        // are others.
        let using = session.as_ref().map(|(_, relay)| *relay);
        let skip = |job: &Job| {
            using.is_some_and(|relay| {
                job.refused_by.contains(&relay) && engine.relays.any_besides(&job.refused_by)
            })
        };
        let next = shared.lock().next(Instant::now(), skip);
        let job = match next {
            Next::Job(job) => job,
            Next::Wait(wait) => {
                tokio::time::sleep(wait.min(Duration::from_millis(200))).await;
                continue;
            }
            Next::Done => break,
        };
        let Some((open, relay)) = session.as_mut() else {
            // The reader was not tried: back it goes, same attempt.
            shared.lock().requeue(job, Duration::ZERO);
            match connect(&shared, home).await {
                Connected::Yes(s, relay) => session = Some((s, relay)),
                Connected::Retry => {}
                Connected::NoneLeft => break,
            }
            continue;
        };
        let relay = *relay;
        if job.refused_by.contains(&relay) {
            // This relay refused the reader; another may take them.
            if let Err(stop) = elsewhere_or_fail(&shared, job, relay).await {
                shared.lock().stop(stop);
                break;
            }
            continue;
        }
        engine.relays.pace(relay).await;
        if engine
            .suppressed
            .as_ref()
            .is_some_and(|list| suppressed_now(list, job.reader.key()))
        {
            // Unsubscribed (or bounced) while waiting its turn.
            let mut state = shared.lock();
            state.settled();
            state.tally.suppressed += 1;
            continue;
        }
        let (job, result, marked) = deliver(&shared, open, job).await;
        if result.closes_relay() {
            let error = ConnectError {
                message: format!(
                    "{} is closing: {}",
                    engine.relays.name(relay),
                    result_reply(&result)
                ),
                refused: false,
            };
            rest(&shared, relay, &error);
        } else if matches!(result, Attempt::Accepted { .. }) {
            engine.relays.delivered(relay);
            // The relays that refused this reader were wrong about them.
            for &other in &job.refused_by {
                if engine.relays.refuted(other) {
                    let error = ConnectError {
                        message: format!(
                            "{} refuses readers that other relays take",
                            engine.relays.name(other)
                        ),
                        refused: false,
                    };
                    rest(&shared, other, &error);
                }
            }
        }
        match settle(&shared, job, result, marked, relay).await {
            Settled::KeepConnection => {}
            Settled::DropConnection => end_session(&shared, &mut session),
            Settled::StopRun(why) => {
                shared.lock().stop(why);
                end_session(&shared, &mut session);
                break;
            }
        }
        engine.progress.tick(&shared.lock().tally);
    }
    if let Some((open, relay)) = session {
        open.quit().await;
        engine.relays.closed(relay);
    }
    let mut state = shared.lock();
    state.alive = state.alive.saturating_sub(1);
}

/// Drops a session, telling the rotation its connection is free.
fn end_session(shared: &Shared, session: &mut Option<(Session, usize)>) {
    if let Some((_, relay)) = session.take() {
        shared.engine.relays.closed(relay);
    }
}

fn result_reply(result: &Attempt) -> &str {
    match result {
        Attempt::Rejected { reply, .. } | Attempt::Accepted { reply } => reply,
        _ => "",
    }
}

enum Connected {
    Yes(Session, usize),
    /// Not now; look again.
    Retry,
    /// No relay is left: this worker stops.
    NoneLeft,
}

/// Opens a session to the relay the rotation gives this worker.
async fn connect(shared: &Shared, home: usize) -> Connected {
    let relays = &shared.engine.relays;
    match relays.choose(home, Instant::now()) {
        Choice::Use(relay) => match relays.connect(relay).await {
            Ok(session) => Connected::Yes(session, relay),
            Err(e) => {
                if rest(shared, relay, &e) {
                    Connected::NoneLeft
                } else {
                    Connected::Retry
                }
            }
        },
        Choice::Wait(wait) => {
            tokio::time::sleep(wait).await;
            Connected::Retry
        }
        Choice::NoneLeft => Connected::NoneLeft,
    }
}

/// Takes a failing relay out of rotation; when it was the last one, stops
/// the run (a refusal as a configuration error). True when none is left.
fn rest(shared: &Shared, relay: usize, error: &ConnectError) -> bool {
    match shared.engine.relays.failed(relay, error, Instant::now()) {
        AfterFailure::Resting | AfterFailure::GivenUp => false,
        AfterFailure::NoneLeft { refused, why } => {
            shared.lock().stop(if refused {
                Stop::Refused(why)
            } else {
                Stop::Unavailable(why)
            });
            true
        }
    }
}

/// The reader's message. A DKIM signature is CPU work (1.7 ms for
/// RSA-2048, over a hundred times the rest), so a signed message is built
/// on tokio's blocking pool: the sessions' I/O goes on, and the other cores
/// sign.
async fn wire_message(engine: &Engine, reader: &Reader) -> Result<Vec<u8>, MessageError> {
    let (purpose, now) = (engine.purpose, engine.clock.now());
    if !engine.template.signs() {
        return engine.template.message(reader, purpose, now);
    }
    let template = Arc::clone(&engine.template);
    let owned = reader.clone();
    tokio::task::spawn_blocking(move || template.message(&owned, purpose, now))
        .await
        .unwrap_or_else(|e| {
            Err(MessageError {
                to: reader.email.to_string(),
                why: format!("signing stopped: {e}"),
            })
        })
}

/// One reader on one session: the message built, sent, and the in-flight
/// mark made right before the final dot.
async fn deliver(shared: &Shared, session: &mut Session, job: Job) -> (Job, Attempt, bool) {
    let engine = &shared.engine;
    let email = job.reader.email.to_string();
    let message = match wire_message(engine, &job.reader).await {
        Ok(message) => message,
        Err(e) => {
            let refused = Attempt::Rejected {
                permanent: true,
                reply: e.to_string(),
                reusable: true,
                about_relay: false,
            };
            return (job, refused, false);
        }
    };
    let from = engine.template.envelope_from(&job.reader);
    let envelope = Envelope {
        from: &from,
        to: &email,
        utf8: crate::list::address::needs_smtputf8(&job.reader.email),
    };
    let mut marked = false;
    let result = session
        .send(envelope, &message, || async {
            if let Some(ledger) = &engine.ledger {
                ledger
                    .record(Event::Inflight, &email, None)
                    .await
                    .map_err(|e| e.to_string())?;
                ledger.mark_dot(&email).map_err(|e| e.to_string())?;
            }
            shared.lock_wire().push(email.clone());
            marked = true;
            Ok(())
        })
        .await;
    if marked {
        shared.off_wire(&email);
    }
    (job, result, marked)
}

enum Settled {
    KeepConnection,
    DropConnection,
    StopRun(Stop),
}

fn engine_relay(shared: &Shared, relay: usize) -> &str {
    shared.engine.relays.name(relay)
}

/// A reader `relay` refused for good: back in the queue for a relay that
/// has not refused them, if one is left; otherwise failed, for good, with
/// the last refusal. A relay's refusal may be about the relay (its own
/// list, its policy): only when every relay left says no is it about the
/// reader.
async fn elsewhere_or_fail(shared: &Shared, job: Job, relay: usize) -> Result<(), Stop> {
    if shared.engine.relays.any_besides(&job.refused_by) {
        shared.lock().requeue(job, Duration::ZERO);
        return Ok(());
    }
    let email = job.reader.email.to_string();
    let reply = job.refusal.unwrap_or_default();
    log::event(
        Level::Warn,
        "send.failed",
        &[("reader", &email), ("reply", &reply)],
    );
    let tally = |t: &mut Tally, email: &str, reply: &str| {
        t.failed += 1;
        t.failures.push((email.to_string(), reply.to_string()));
    };
    finish(shared, Event::Failed, &email, reply, relay, tally).await
}

/// Settles a reader for good: tallied first (it happened on the wire,
/// whatever the ledger manages), then recorded in the ledger.
async fn finish(
    shared: &Shared,
    event: Event,
    email: &str,
    reply: String,
    relay: usize,
    tally: impl FnOnce(&mut Tally, &str, &str),
) -> Result<(), Stop> {
    {
        let mut state = shared.lock();
        state.settled();
        tally(&mut state.tally, email, &reply);
    }
    let Some(ledger) = &shared.engine.ledger else {
        return Ok(());
    };
    let via = shared.engine.relays.name(relay);
    match ledger
        .record_via(event, email, Some(&reply), Some(via))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => {
            if event == Event::Sent {
                shared.lock().tally.unrecorded.push(email.to_string());
            }
            Err(Stop::Ledger(e.0))
        }
    }
}

/// Records one attempt's outcome in the ledger and the tally, and decides
/// what becomes of the reader and the connection.
async fn settle(
    shared: &Shared,
    mut job: Job,
    result: Attempt,
    marked: bool,
    relay: usize,
) -> Settled {
    let email = job.reader.email.to_string();
    let after = |outcome: Result<(), Stop>, keep: bool| match outcome {
        Ok(()) if keep => Settled::KeepConnection,
        Ok(()) => Settled::DropConnection,
        Err(stop) => Settled::StopRun(stop),
    };
    let (transient, reusable, why) = match result {
        Attempt::Accepted { reply } => {
            let outcome = finish(shared, Event::Sent, &email, reply, relay, |t, _, _| {
                t.sent += 1
            })
            .await;
            return after(outcome, true);
        }
        Attempt::Rejected {
            permanent: true,
            about_relay: true,
            reply,
            ..
        } => {
            // The relay will not take our mail at all: it is given up, and
            // the reader goes back, unharmed, for the others.
            let error = ConnectError {
                message: format!(
                    "{} refused to take our mail: {reply}",
                    engine_relay(shared, relay)
                ),
                refused: true,
            };
            shared.lock().requeue(job, Duration::ZERO);
            rest(shared, relay, &error);
            return Settled::DropConnection;
        }
        Attempt::Rejected {
            permanent: true,
            reply,
            reusable,
            ..
        } => {
            job.refused_by.push(relay);
            job.refusal = Some(reply);
            return match elsewhere_or_fail(shared, job, relay).await {
                Ok(()) if reusable => Settled::KeepConnection,
                Ok(()) => Settled::DropConnection,
                Err(stop) => Settled::StopRun(stop),
            };
        }
        Attempt::Uncertain { error } => {
            log::event(
                Level::Warn,
                "send.uncertain",
                &[("reader", &email), ("error", &error)],
            );
            let tally = |t: &mut Tally, email: &str, why: &str| {
                t.uncertain += 1;
                t.uncertain_readers
                    .push((email.to_string(), why.to_string()));
            };
            return after(
                finish(shared, Event::Uncertain, &email, error, relay, tally).await,
                false,
            );
        }
        Attempt::Stopped { error } => {
            shared.lock().requeue(job, Duration::ZERO);
            return Settled::StopRun(Stop::Ledger(error));
        }
        Attempt::Rejected {
            permanent: false,
            reply,
            reusable,
            ..
        } => (reply, reusable, "rejected for now"),
        Attempt::NotSent { error } => (error, false, "connection lost"),
    };
    retry_later(shared, job, marked, &transient, why, relay).await;
    if reusable {
        Settled::KeepConnection
    } else {
        Settled::DropConnection
    }
}

/// A passing problem: the reader goes back in the queue, a bounded number
/// of times. If it was marked in flight, the ledger must say it was not
/// delivered, or a restart would take it for uncertain.
async fn retry_later(
    shared: &Shared,
    mut job: Job,
    marked: bool,
    transient: &str,
    why: &str,
    relay: usize,
) {
    let settings = shared.engine.relays.settings();
    let email = job.reader.email.to_string();
    let attempt = job.attempt;
    let exhausted = attempt > settings.retries;
    if (marked || exhausted)
        && let Some(ledger) = &shared.engine.ledger
        && let Err(e) = ledger
            .record_via(
                Event::Deferred,
                &email,
                Some(transient),
                Some(shared.engine.relays.name(relay)),
            )
            .await
    {
        let mut state = shared.lock();
        state.settled();
        state.tally.deferred += 1;
        state.stop(Stop::Ledger(e.0));
        return;
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
        state
            .tally
            .deferred_readers
            .push((email, transient.to_string()));
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
        job.attempt += 1;
        state.requeue(job, wait);
    }
}
