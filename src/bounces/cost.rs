//! What each issue cost the list: the hard and soft bounces, complaints,
//! refusals and provider blocks its returned mail reported (from the
//! bounce log), and the unsubscribes it led to (from the suppression list:
//! the one-click link, the page's button, mail), with the rates that mail
//! providers watch.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::seen::{self, Outcome};
use crate::list::suppression;

/// Gmail and Yahoo ask bulk senders to keep reported spam under 0.3% of
/// what they deliver (and aim for 0.1%).
pub(crate) const COMPLAINT_LIMIT: f64 = 0.003;
/// The hard bounce rate catchup warns above: 2%, the figure mailbox
/// providers and sending services cite for a list whose addresses are
/// kept clean (a higher rate reads as a bought or stale list).
pub(crate) const BOUNCE_LIMIT: f64 = 0.02;

/// One issue's cost: each count is of distinct readers.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Cost {
    pub hard_bounces: usize,
    pub soft_bounces: usize,
    pub complaints: usize,
    /// Refusals of the sender, not the reader (blocks, spam, policy).
    pub refused: usize,
    /// Providers whose block the issue ran into.
    pub provider_blocks: usize,
    pub unsubscribes: Unsubscribes,
}

/// Unsubscribes by the way the reader took.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Unsubscribes {
    pub one_click: usize,
    pub page: usize,
    pub mailto: usize,
}

impl Unsubscribes {
    pub(crate) fn total(&self) -> usize {
        self.one_click + self.page + self.mailto
    }
}

/// Every issue's cost, read once from the log and the suppression list.
#[derive(Debug, Default)]
pub(crate) struct Costs {
    by_issue: HashMap<String, Cost>,
}

impl Costs {
    /// Reads the bounce log and the suppression list; either may be
    /// missing (nothing returned yet).
    ///
    /// # Errors
    /// Either exists but cannot be read.
    pub(crate) fn read(log: &Path, suppressed: &Path) -> crate::error::Result<Costs> {
        let (rows, _) = seen::rows(log)?;
        let mut seen: HashSet<(String, &'static str, String)> = HashSet::new();
        let mut costs = Costs::default();
        for row in &rows {
            if row.issue.is_empty() || row.issue.starts_with("day:") {
                continue;
            }
            let (what, who) = match row.outcome {
                Outcome::Hard => ("hard", row.email.to_ascii_lowercase()),
                Outcome::Soft => ("soft", row.email.to_ascii_lowercase()),
                Outcome::Complaint => ("complaint", row.email.to_ascii_lowercase()),
                Outcome::Refused => ("refused", row.email.to_ascii_lowercase()),
                Outcome::Block => ("block", format!("{} {}", row.provider, row.reason)),
                Outcome::Unsubscribe | Outcome::Ignored => continue,
            };
            if !seen.insert((row.issue.clone(), what, who)) {
                continue;
            }
            let cost = costs.by_issue.entry(row.issue.clone()).or_default();
            match what {
                "hard" => cost.hard_bounces += 1,
                "soft" => cost.soft_bounces += 1,
                "complaint" => cost.complaints += 1,
                "refused" => cost.refused += 1,
                _ => cost.provider_blocks += 1,
            }
        }
        let (events, _) = suppression::events(suppressed)?;
        let mut unsubscribed: HashSet<(String, String)> = HashSet::new();
        for event in events.iter().filter(|e| e.is_unsubscribe()) {
            let Some(issue) = &event.issue else { continue };
            if !unsubscribed.insert((issue.clone(), event.email.to_ascii_lowercase())) {
                continue;
            }
            let ways = &mut costs
                .by_issue
                .entry(issue.clone())
                .or_default()
                .unsubscribes;
            match event.reason.trim() {
                "unsubscribe-page" => ways.page += 1,
                "unsubscribe-mailto" => ways.mailto += 1,
                _ => ways.one_click += 1,
            }
        }
        Ok(costs)
    }

    pub(crate) fn of(&self, issue: &str) -> Cost {
        self.by_issue.get(issue).cloned().unwrap_or_default()
    }
}

impl Cost {
    /// The hard bounce rate and the complaint rate, of `sent`.
    pub(crate) fn rates(&self, sent: u64) -> (f64, f64) {
        if sent == 0 {
            return (0.0, 0.0);
        }
        let of = |n: usize| n as f64 / sent as f64;
        (of(self.hard_bounces), of(self.complaints))
    }

    /// The line `status` prints.
    pub(crate) fn line(&self, sent: u64) -> String {
        let (bounce_rate, complaint_rate) = self.rates(sent);
        let over = |rate: f64, limit: f64| if rate > limit { " OVER" } else { "" };
        let ways = &self.unsubscribes;
        format!(
            "cost to the list: {} hard bounce(s) ({:.2}%, keep under {:.0}%{}), {} soft bounce(s), {} complaint(s) ({:.2}%, Gmail asks under {:.1}%{}), {} unsubscribe(s) ({} one-click, {} page, {} mail), {} refusal(s) of the sender, {} provider block(s)",
            self.hard_bounces,
            100.0 * bounce_rate,
            100.0 * BOUNCE_LIMIT,
            over(bounce_rate, BOUNCE_LIMIT),
            self.soft_bounces,
            self.complaints,
            100.0 * complaint_rate,
            100.0 * COMPLAINT_LIMIT,
            over(complaint_rate, COMPLAINT_LIMIT),
            ways.total(),
            ways.one_click,
            ways.page,
            ways.mailto,
            self.refused,
            self.provider_blocks
        )
    }

    /// The short form `issues` shows.
    pub(crate) fn brief(&self) -> String {
        format!(
            "{} hard, {} soft, {} complaint(s), {} unsubscribe(s), {} block(s)",
            self.hard_bounces,
            self.soft_bounces,
            self.complaints,
            self.unsubscribes.total(),
            self.provider_blocks
        )
    }
}
