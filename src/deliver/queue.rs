//! The queue the send loop's workers share: readers fresh from the list,
//! readers waiting to be retried, and the running tally. Workers take a
//! reader, settle it, and take the next; the run is over when the list is
//! exhausted, no retry is waiting and no reader is in progress.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::tally::{Stop, Tally};
use crate::list::reader::Reader;

/// Shared by the workers, behind one mutex.
pub(super) struct Queue {
    source: std::iter::Peekable<Box<dyn Iterator<Item = Reader> + Send>>,
    retries: VecDeque<Retry>,
    /// Jobs handed out and not yet settled.
    busy: usize,
    /// Workers still running.
    pub(super) alive: usize,
    pub(super) tally: Tally,
}

/// One reader handed to a worker.
pub(super) struct Job {
    pub(super) reader: Reader,
    /// 1 for the first try; a transient failure adds one.
    pub(super) attempt: u32,
    /// Relays that refused this reader for good, and the last refusal:
    /// a reader fails only once no other relay is left to ask.
    pub(super) refused_by: Vec<usize>,
    pub(super) refusal: Option<String>,
}

impl Job {
    fn new(reader: Reader) -> Job {
        Job {
            reader,
            attempt: 1,
            refused_by: Vec::new(),
            refusal: None,
        }
    }
}

pub(super) struct Retry {
    job: Job,
    ready: Instant,
}

pub(super) enum Next {
    Job(Job),
    Wait(Duration),
    Done,
}

impl Queue {
    pub(super) fn new(source: Box<dyn Iterator<Item = Reader> + Send>, workers: usize) -> Queue {
        Queue {
            source: source.peekable(),
            retries: VecDeque::new(),
            busy: 0,
            alive: workers,
            tally: Tally::default(),
        }
    }

    /// How many readers were never settled: waiting retries and the rest of
    /// the list (which this drains).
    pub(super) fn remaining(&mut self) -> u64 {
        self.retries.len() as u64 + self.source.by_ref().count() as u64
    }
    /// The next job for a worker. A waiting reader for whom `skip` is true
    /// (a relay refused them, and this worker sends through it) is left
    /// for another worker.
    pub(super) fn next(&mut self, now: Instant, skip: impl Fn(&Job) -> bool) -> Next {
        if self.tally.stopped.is_some() {
            return Next::Done;
        }
        if let Some(i) = self
            .retries
            .iter()
            .position(|r| r.ready <= now && !skip(&r.job))
            && let Some(retry) = self.retries.remove(i)
        {
            self.busy += 1;
            return Next::Job(retry.job);
        }
        if let Some(reader) = self.source.next() {
            self.busy += 1;
            return Next::Job(Job::new(reader));
        }
        if let Some(soonest) = self.retries.iter().map(|r| r.ready).min() {
            return Next::Wait(soonest.saturating_duration_since(now));
        }
        if self.busy > 0 {
            // A job in progress may yet come back as a retry.
            return Next::Wait(Duration::from_millis(20));
        }
        Next::Done
    }

    /// A reader handed out is done with, for good.
    pub(super) fn settled(&mut self) {
        self.busy = self.busy.saturating_sub(1);
    }

    /// Readers handed out and not yet settled (on the wire, or being built).
    pub(super) fn busy(&self) -> usize {
        self.busy
    }

    pub(super) fn requeue(&mut self, job: Job, delay: Duration) {
        self.busy = self.busy.saturating_sub(1);
        self.retries.push_back(Retry {
            job,
            ready: Instant::now() + delay,
        });
    }

    pub(super) fn stop(&mut self, why: Stop) {
        self.tally.stop(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(n: usize) -> Reader {
        Reader {
            email: format!("r{n}@nhs.example").parse().expect("address"),
            name: None,
        }
    }

    fn queue(readers: usize) -> Queue {
        Queue::new(Box::new((1..=readers).map(reader)), 2)
    }

    /// The reader a `Next` hands out, or what else it says.
    fn show(next: Next) -> String {
        match next {
            Next::Job(job) => format!("{} (try {})", job.reader.email, job.attempt),
            Next::Wait(_) => "wait".into(),
            Next::Done => "done".into(),
        }
    }

    #[test]
    fn readers_go_out_in_list_order_and_the_run_ends_when_none_is_busy() {
        let mut q = queue(2);
        let now = Instant::now();
        assert_eq!(show(q.next(now, |_| false)), "r1@nhs.example (try 1)");
        assert_eq!(show(q.next(now, |_| false)), "r2@nhs.example (try 1)");
        // Both on the wire: either may come back as a retry.
        assert_eq!(show(q.next(now, |_| false)), "wait");
        q.settled();
        q.settled();
        assert_eq!(show(q.next(now, |_| false)), "done");
        assert_eq!(q.remaining(), 0);
    }

    /// A retry waits its delay, comes before the rest of the list once
    /// ready, and is left for another worker by one that must skip it.
    #[test]
    fn a_retry_waits_its_turn_and_can_be_left_for_another_worker() {
        let mut q = queue(3);
        let now = Instant::now();
        let Next::Job(mut job) = q.next(now, |_| false) else {
            panic!("a job");
        };
        job.attempt += 1;
        q.requeue(job, Duration::from_secs(60));
        assert_eq!(show(q.next(now, |_| false)), "r2@nhs.example (try 1)");
        let later = now + Duration::from_secs(61);
        let refused_here = |j: &Job| j.reader.email.to_string() == "r1@nhs.example";
        assert_eq!(show(q.next(later, refused_here)), "r3@nhs.example (try 1)");
        assert_eq!(show(q.next(later, |_| false)), "r1@nhs.example (try 2)");
    }

    /// After a stop no reader is handed out, and what was never settled
    /// (waiting retries and the rest of the list) is counted.
    #[test]
    fn a_stop_hands_out_no_one_and_the_rest_is_counted() {
        let mut q = queue(5);
        let now = Instant::now();
        let Next::Job(job) = q.next(now, |_| false) else {
            panic!("a job");
        };
        q.requeue(job, Duration::ZERO);
        q.stop(Stop::Interrupted);
        assert_eq!(show(q.next(now, |_| false)), "done");
        assert_eq!(q.remaining(), 5, "one retry and four never taken");
    }
}
