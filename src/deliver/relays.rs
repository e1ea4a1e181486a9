//! The relay tier a send hands its messages to: one SMTP relay or several,
//! each with its own connections and pace. A relay that refuses
//! connections, times out or answers 421 leaves the rotation for a while
//! (twice as long each time) and its workers move to the others; when its
//! rest is over, one worker alone tries it again. A relay that fails more
//! than `retries` times in a row is given up for the run, and the run ends
//! when no relay is left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::smtp_client::{ConnectError, Connector, Session};
use crate::config::smtp::SettingsError;
use crate::config::{Env, Smtp};
use crate::log::{self, Level};

/// The longest rest between two tries of a relay.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a worker looks again while every relay rests.
const LOOK_AGAIN: Duration = Duration::from_millis(100);
/// Readers a relay refused for good that another relay then took, with
/// none taken by it in between, before it counts as failing: its refusals
/// are its own, not the readers'. (Readers every relay refuses count
/// against none: a list that starts with dead addresses rests no relay.)
const REFUTED: u32 = 3;

/// Every relay of a run.
#[derive(Debug)]
pub(crate) struct Relays {
    relays: Vec<Relay>,
}

#[derive(Debug)]
struct Relay {
    connector: Connector,
    /// `host:port`, as the ledger records it.
    name: String,
    pace: Option<Mutex<Pace>>,
    health: Mutex<Health>,
    /// Sessions open to it; at most its `connections`, so that a relay's
    /// limit holds when others fail over to it.
    open: AtomicUsize,
}

#[derive(Debug, Default)]
struct Health {
    /// Failures in a row.
    failures: u32,
    /// Resting until then.
    back_at: Option<Instant>,
    /// A worker is trying it after a rest.
    probing: bool,
    /// Out for the rest of the run, and why.
    given_up: Option<String>,
    /// Given up because trying again cannot help (a refused login).
    refused: bool,
    /// Readers it refused that another relay took, since it last took one.
    refuted: u32,
}

/// Which relay a worker should use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Use(usize),
    /// Every relay in rotation rests: look again after this.
    Wait(Duration),
    /// Every relay has been given up.
    NoneLeft,
}

/// What a failure did to the rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// The relay rests; others may still be used.
    Resting,
    /// The relay is given up; others are left.
    GivenUp,
    /// That was the last relay. `refused` when a relay was given up for a
    /// reason retrying cannot fix (a configuration error), and why.
    NoneLeft { refused: bool, why: String },
}

impl Relays {
    /// Prepares a connector per relay. `domain` is the sending domain.
    ///
    /// # Errors
    /// A relay's password variable is missing, or its CA file unreadable.
    pub(crate) fn new(settings: &[Smtp], domain: &str, env: &Env) -> Result<Relays, SettingsError> {
        let relays = settings
            .iter()
            .map(|smtp| {
                Ok(Relay {
                    connector: Connector::new(smtp, domain, env)?,
                    name: format!("{}:{}", smtp.host, smtp.port),
                    pace: smtp.rate.map(|r| Mutex::new(Pace::new(r))),
                    health: Mutex::new(Health::default()),
                    open: AtomicUsize::new(0),
                })
            })
            .collect::<Result<Vec<_>, SettingsError>>()?;
        Ok(Relays { relays })
    }

    /// The settings every relay shares (timeouts, retries), from the first.
    pub(crate) fn settings(&self) -> &Smtp {
        self.relays[0].connector.settings()
    }

    /// Each worker's home relay: relay `i` gets its `connections` workers,
    /// at most `cap` in all, spread so that every relay gets some.
    pub(crate) fn homes(&self, cap: usize) -> Vec<usize> {
        let mut left: Vec<usize> = self
            .relays
            .iter()
            .map(|r| r.connector.settings().connections)
            .collect();
        let mut homes = Vec::new();
        while homes.len() < cap.max(1) && left.iter().any(|&n| n > 0) {
            for (i, n) in left.iter_mut().enumerate() {
                if *n > 0 && homes.len() < cap.max(1) {
                    *n -= 1;
                    homes.push(i);
                }
            }
        }
        homes
    }

    /// How many relays there are.
    pub(crate) fn len(&self) -> usize {
        self.relays.len()
    }

    pub(crate) fn name(&self, relay: usize) -> &str {
        &self.relays[relay].name
    }

    /// The relay a worker whose home is `home` should connect to now: its
    /// home if in rotation, else the next one that is and has a connection
    /// to spare (a relay's `connections` is its limit; the readers, not the
    /// connections, move to the relays that work).
    pub(crate) fn choose(&self, home: usize, now: Instant) -> Choice {
        let count = self.relays.len();
        let mut wait: Option<Duration> = None;
        for i in (0..count).map(|k| (home + k) % count) {
            let relay = &self.relays[i];
            let full = relay.open.load(Ordering::Relaxed) >= relay.connector.settings().connections;
            let mut health = self.health(i);
            if health.given_up.is_some() {
                continue;
            }
            if full {
                wait = Some(wait.map_or(LOOK_AGAIN, |w| w.min(LOOK_AGAIN)));
                continue;
            }
            match health.back_at {
                None => return Choice::Use(i),
                Some(at) if at <= now && !health.probing => {
                    health.probing = true;
                    return Choice::Use(i);
                }
                Some(at) => {
                    let until = at.saturating_duration_since(now).max(LOOK_AGAIN);
                    wait = Some(wait.map_or(until, |w| w.min(until)));
                }
            }
        }
        wait.map_or(Choice::NoneLeft, |w| Choice::Wait(w.min(LOOK_AGAIN * 2)))
    }

    /// Opens a session to relay `relay`; [`Relays::closed`] when it ends.
    ///
    /// # Errors
    /// See [`Connector::connect`].
    pub(crate) async fn connect(&self, relay: usize) -> Result<Session, ConnectError> {
        let target = &self.relays[relay];
        target.open.fetch_add(1, Ordering::Relaxed);
        let result = target.connector.connect().await;
        if result.is_ok() {
            // Reachable: back in rotation. Its failures are forgotten only
            // when it takes a message (a relay that connects and then
            // answers 421 is still failing).
            let mut health = self.health(relay);
            health.back_at = None;
            health.probing = false;
        } else {
            self.closed(relay);
        }
        result
    }

    /// A session to `relay` ended (or never opened).
    pub(crate) fn closed(&self, relay: usize) {
        let _ = self.relays[relay]
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// `relay` took a message: whatever failures it had are over.
    pub(crate) fn delivered(&self, relay: usize) {
        let mut health = self.health(relay);
        health.refuted = 0;
        if health.failures > 0 {
            log::event(
                Level::Info,
                "smtp.relay_back",
                &[("relay", &self.name(relay))],
            );
            *health = Health::default();
        }
    }

    /// True while `relay` is neither resting nor given up: a session to a
    /// relay taken out of rotation ends, so that its worker moves on.
    pub(crate) fn in_rotation(&self, relay: usize) -> bool {
        let health = self.health(relay);
        health.given_up.is_none() && health.back_at.is_none()
    }

    /// Another relay took a reader `relay` refused for good. True once
    /// that has happened [`REFUTED`] times with nothing taken by `relay`
    /// in between: it is refusing us, not them, and should rest like a
    /// relay that fails.
    pub(crate) fn refuted(&self, relay: usize) -> bool {
        let mut health = self.health(relay);
        health.refuted += 1;
        health.refuted >= REFUTED
    }

    /// True if a relay not in `besides` is still in the run (resting
    /// counts: it will be back).
    pub(crate) fn any_besides(&self, besides: &[usize]) -> bool {
        (0..self.relays.len()).any(|i| !besides.contains(&i) && self.health(i).given_up.is_none())
    }

    /// A relay failed to connect, or answered 421: it rests (logged once
    /// per streak), or is given up after `retries` failures in a row or a
    /// refusal.
    pub(crate) fn failed(&self, relay: usize, error: &ConnectError, now: Instant) -> AfterFailure {
        let settings = self.relays[relay].connector.settings();
        let name = self.name(relay);
        {
            let mut health = self.health(relay);
            if health.given_up.is_some() {
                drop(health);
                return self.after_give_up();
            }
            // Workers that lose a resting relay together count once: only
            // the first failure of a streak, or a probe's, counts.
            if health.back_at.is_some() && !health.probing {
                return AfterFailure::Resting;
            }
            health.failures += 1;
            health.probing = false;
            if error.refused || health.failures > settings.retries {
                health.given_up = Some(error.message.clone());
                health.refused = error.refused;
                log::event(
                    Level::Error,
                    "smtp.gave_up",
                    &[
                        ("relay", &name),
                        ("error", &error.message),
                        ("tries", &health.failures),
                    ],
                );
            } else {
                let rest = backoff(settings.retry_delay, health.failures);
                health.back_at = Some(now + rest);
                if health.failures == 1 {
                    log::event(
                        Level::Warn,
                        "smtp.connect_failed",
                        &[
                            ("relay", &name),
                            ("error", &error.message),
                            ("retrying", &format!("up to {} times", settings.retries)),
                        ],
                    );
                }
                return AfterFailure::Resting;
            }
        }
        self.after_give_up()
    }

    fn after_give_up(&self) -> AfterFailure {
        let healths: Vec<MutexGuard<'_, Health>> =
            (0..self.relays.len()).map(|i| self.health(i)).collect();
        if healths.iter().any(|h| h.given_up.is_none()) {
            return AfterFailure::GivenUp;
        }
        let refused = healths.iter().any(|h| h.refused);
        let why = healths
            .iter()
            .filter(|h| h.refused == refused)
            .find_map(|h| h.given_up.clone())
            .unwrap_or_default();
        AfterFailure::NoneLeft { refused, why }
    }

    /// Waits for relay `relay`'s next send slot, if it has a rate.
    pub(crate) async fn pace(&self, relay: usize) {
        if let Some(pace) = &self.relays[relay].pace {
            let slot = pace
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .slot();
            tokio::time::sleep_until(slot.into()).await;
        }
    }

    fn health(&self, relay: usize) -> MutexGuard<'_, Health> {
        self.relays[relay]
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Evenly spaced sends for a messages-per-second limit shared by a relay's
/// connections.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: Instant,
}

impl Pace {
    fn new(per_second: f64) -> Pace {
        Pace {
            // A rate so small that its interval overflows is one an hour.
            interval: Duration::try_from_secs_f64(1.0 / per_second)
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(3600)),
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

/// `first`, doubled for each failure after the first, at most
/// [`MAX_BACKOFF`].
pub(crate) fn backoff(first: Duration, attempt: u32) -> Duration {
    first
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relays(connections: &[usize]) -> Relays {
        let settings: Vec<Smtp> = connections
            .iter()
            .enumerate()
            .map(|(i, &c)| Smtp {
                host: "127.0.0.1".into(),
                port: 2500 + u16::try_from(i).expect("port"),
                security: crate::config::Security::None,
                connections: c,
                retries: 2,
                retry_delay: Duration::from_millis(100),
                ..Smtp::default()
            })
            .collect();
        Relays::new(&settings, "hsj.example", &Env::process()).expect("relays")
    }

    fn failure(refused: bool) -> ConnectError {
        ConnectError {
            message: "connection refused".into(),
            refused,
        }
    }

    #[test]
    fn connections_are_spread_over_the_relays() {
        assert_eq!(relays(&[2, 1]).homes(10), [0, 1, 0]);
        assert_eq!(relays(&[4, 4]).homes(3), [0, 1, 0], "capped by the readers");
        assert_eq!(relays(&[1]).homes(0), [0], "always one");
    }

    #[test]
    fn a_failing_relay_rests_then_one_worker_probes_it_then_it_is_given_up() {
        let relays = relays(&[4, 4]);
        let now = Instant::now();
        assert_eq!(
            relays.failed(0, &failure(false), now),
            AfterFailure::Resting
        );
        assert_eq!(relays.choose(0, now), Choice::Use(1), "the other relay");
        let later = now + Duration::from_millis(150);
        assert_eq!(relays.choose(0, later), Choice::Use(0), "one probe");
        assert_eq!(
            relays.choose(0, later),
            Choice::Use(1),
            "not a second probe"
        );
        assert_eq!(
            relays.failed(0, &failure(false), later),
            AfterFailure::Resting
        );
        assert_eq!(
            relays.failed(0, &failure(false), later),
            AfterFailure::Resting,
            "a second worker losing it in the same streak does not count"
        );
        let again = later + Duration::from_millis(250);
        assert_eq!(relays.choose(0, again), Choice::Use(0), "the next probe");
        assert_eq!(
            relays.failed(0, &failure(false), again),
            AfterFailure::GivenUp
        );
        assert_eq!(
            relays.failed(1, &failure(true), later),
            AfterFailure::NoneLeft {
                refused: true,
                why: "connection refused".into()
            }
        );
        assert_eq!(relays.choose(1, later), Choice::NoneLeft);
    }

    #[test]
    fn a_relay_at_its_connection_limit_takes_no_more() {
        let relays = relays(&[1, 1]);
        let now = Instant::now();
        relays.relays[1].open.store(1, Ordering::Relaxed);
        assert_eq!(
            relays.failed(0, &failure(false), now),
            AfterFailure::Resting
        );
        assert!(
            matches!(relays.choose(0, now), Choice::Wait(_)),
            "relay 1 is full: the worker waits rather than overfill it"
        );
        relays.closed(1);
        assert_eq!(relays.choose(0, now), Choice::Use(1));
        assert_eq!(Pace::new(1e-30).interval, Duration::from_secs(3600));
    }

    #[test]
    fn a_relays_pace_spaces_its_sends_evenly() {
        let mut pace = Pace::new(10.0);
        let a = pace.slot();
        let b = pace.slot();
        let c = pace.slot();
        assert_eq!(b - a, Duration::from_millis(100));
        assert_eq!(c - b, Duration::from_millis(100));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let first = Duration::from_millis(100);
        assert_eq!(backoff(first, 1), first);
        assert_eq!(backoff(first, 3), first * 4);
        assert_eq!(backoff(first, 30), MAX_BACKOFF);
    }
}
