//! `[subscribe]`: the sign-up form `catchup serve` offers, and its limits.
//! Absent, there is no form: nobody joins but through the operator.

use crate::config::fields::{Problems, Table};

/// How readers join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// What the reader agrees to, shown on the form and kept, word for
    /// word, in their consent record.
    pub consent: String,
    /// Show an unticked box the reader must tick; off, sending the form is
    /// the agreement.
    pub checkbox: bool,
    /// How long a confirmation link works.
    pub confirm_days: u32,
    /// Keep the client's IP address in the consent record (off: personal
    /// data kept only where the operator decides it is needed).
    pub record_client: bool,
    /// The text of a message sent once a reader confirms; none when unset.
    pub welcome: Option<String>,
    /// Confirmation messages one address is sent in a day, at most.
    pub per_address: u32,
    /// Sign-ups one client address may make in an hour, at most.
    pub per_client: u32,
    /// Confirmation messages the service sends in an hour, at most, to
    /// anyone: a flood from many clients cannot mail-bomb the world.
    pub per_hour: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (set
    /// by the operator's reverse proxy). Off: the connection's address,
    /// which no client can forge.
    pub forwarded_for: bool,
}

impl Subscribe {
    /// A short, stable name for this consent wording: the first 12 hex
    /// digits of its SHA-256, kept beside the words.
    pub fn wording_version(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.consent.as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub(super) fn read(mut t: Table<'_>, problems: &mut Problems) -> Option<Subscribe> {
    let consent = t.required_string("consent", problems).and_then(|c| {
        let text = c.get_ref().trim().to_string();
        if text.is_empty() {
            problems.push(t.error(
                "`consent` is the statement a reader agrees to when they join, e.g. \"Send me HSJ Catch Up every Friday. I can unsubscribe at any time.\"",
                c.span(),
            ));
            None
        } else {
            Some(text)
        }
    });
    let whole = |t: &mut Table<'_>, key: &str, range, default: u32, problems: &mut Problems| {
        t.integer(key, range, problems)
            .and_then(|n| u32::try_from(*n.get_ref()).ok())
            .unwrap_or(default)
    };
    let confirm_days = whole(&mut t, "confirm_days", 1..=90, 7, problems);
    let per_address = whole(&mut t, "per_address", 1..=20, 3, problems);
    let per_client = whole(&mut t, "per_client", 1..=10_000, 20, problems);
    let per_hour = whole(&mut t, "per_hour", 1..=1_000_000, 500, problems);
    let checkbox = t.boolean("checkbox", problems).unwrap_or(false);
    let record_client = t.boolean("record_client", problems).unwrap_or(false);
    let forwarded_for = t.boolean("forwarded_for", problems).unwrap_or(false);
    let welcome = t
        .string("welcome", problems)
        .map(|w| w.into_inner().trim().to_string())
        .filter(|w| !w.is_empty());
    t.finish(problems);
    Some(Subscribe {
        consent: consent?,
        checkbox,
        confirm_days,
        record_client,
        welcome,
        per_address,
        per_client,
        per_hour,
        forwarded_for,
    })
}
