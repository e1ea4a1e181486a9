//! Why a delivery failed, read from the words of the refusal first and its
//! status code second, and what that means for the reader: their address
//! is bad for good (hard), the failure may pass (soft), or the refusal is
//! about the sender, not the reader (a block, spam, policy, authentication,
//! a rate limit), which never suppresses anyone.
//!
//! The words are the phrases mail systems write, lowercased, in two tiers:
//! telling phrases ("user unknown", "blocked using") decide before the
//! status code, vague ones ("denied", "policy") only where the code says
//! nothing (`5.0.0`). Within a tier the first reason that matches wins,
//! and the refusals that are not about the reader come first: a block
//! misread as a bad address loses a reader for good, the other way round
//! costs one more bounce.

/// Why a delivery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Reason {
    UserUnknown,
    HostUnknown,
    Moved,
    Disabled,
    NotAccepting,
    MailboxFull,
    TooBig,
    Expired,
    Blocked,
    Spam,
    Policy,
    Authentication,
    RateLimit,
    SystemError,
    /// Neither the words nor the code say.
    Unknown,
    /// The reader marked the message as spam.
    Complaint,
}

/// What a failure means for the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// Their address is bad for good: suppress at once.
    Hard,
    /// It may pass: count it, and suppress after `soft_limit` issues.
    Soft,
    /// The receiver refused the sender, not the reader: neither counted
    /// nor suppressed.
    NotTheReader,
    /// The reader's own complaint: suppress at once.
    Complaint,
}

impl Reason {
    pub(crate) const ALL: [Reason; 16] = [
        Reason::UserUnknown,
        Reason::HostUnknown,
        Reason::Moved,
        Reason::Disabled,
        Reason::NotAccepting,
        Reason::MailboxFull,
        Reason::TooBig,
        Reason::Expired,
        Reason::Blocked,
        Reason::Spam,
        Reason::Policy,
        Reason::Authentication,
        Reason::RateLimit,
        Reason::SystemError,
        Reason::Unknown,
        Reason::Complaint,
    ];

    /// The reason a refusal gives: its telling words ("user unknown",
    /// "blocked using"), else its status code, else its vaguer words
    /// ("denied", "policy"), else none.
    #[cfg(test)]
    pub(crate) fn of(text: &str, status: Option<&str>) -> Reason {
        Reading::of(text).reason(status)
    }

    /// The reason an enhanced status code (RFC 3463) gives, if it gives
    /// one: `x.0.0` says nothing.
    pub(crate) fn of_status(code: &str) -> Option<Reason> {
        let mut parts = code.split('.');
        let (_, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        Some(match (subject, detail) {
            ("1", "1" | "3" | "0") => Reason::UserUnknown,
            ("1", "2") | ("4", "4") => Reason::HostUnknown,
            ("1", "6") => Reason::Moved,
            // RFC 7505: the domain publishes a null MX.
            ("1", "10") => Reason::NotAccepting,
            // The sender's address (x.1.7, x.1.8) or the sending system.
            ("1", "7" | "8") => Reason::Blocked,
            ("2", "1") => Reason::Disabled,
            ("2", "2") => Reason::MailboxFull,
            ("2", "3") | ("3", "4") => Reason::TooBig,
            ("4", "7") => Reason::Expired,
            ("7", "23" | "24" | "25" | "26" | "27" | "515") => Reason::Authentication,
            ("7", "28") => Reason::Spam,
            ("6" | "7", _) => Reason::Policy,
            ("2" | "3" | "4" | "5", _) => Reason::SystemError,
            _ => return None,
        })
    }

    /// What this reason means for the reader, for a failure that is
    /// permanent (a `5.x.x` status, or final words) or not.
    pub(crate) fn meaning(self, permanent: bool) -> Meaning {
        match self {
            Reason::UserUnknown | Reason::HostUnknown | Reason::Moved | Reason::NotAccepting
                if permanent =>
            {
                Meaning::Hard
            }
            Reason::Blocked
            | Reason::Spam
            | Reason::Policy
            | Reason::Authentication
            | Reason::RateLimit => Meaning::NotTheReader,
            Reason::Complaint => Meaning::Complaint,
            _ => Meaning::Soft,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::UserUnknown => "user-unknown",
            Reason::HostUnknown => "host-unknown",
            Reason::Moved => "moved",
            Reason::Disabled => "disabled",
            Reason::NotAccepting => "not-accepting",
            Reason::MailboxFull => "mailbox-full",
            Reason::TooBig => "too-big",
            Reason::Expired => "expired",
            Reason::Blocked => "blocked",
            Reason::Spam => "spam",
            Reason::Policy => "policy",
            Reason::Authentication => "authentication",
            Reason::RateLimit => "rate-limit",
            Reason::SystemError => "system-error",
            Reason::Unknown => "unknown",
            Reason::Complaint => "complaint",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What an operator should check when many readers at one provider
    /// are refused for this reason.
    pub(crate) fn what_to_check(self) -> &'static str {
        match self {
            Reason::Authentication => {
                "the DKIM signature and its DNS record, SPF for the return path, and DMARC alignment (`catchup dkim check`)"
            }
            Reason::Blocked => {
                "whether the sending IP or domain is on a blocklist (Spamhaus, Spamcop), its reverse DNS, and SPF"
            }
            Reason::Spam => {
                "the content (links, images, wording) and the sending reputation at that provider (Google Postmaster Tools, Microsoft SNDS)"
            }
            Reason::RateLimit => {
                "the sending rate: lower `[smtp] rate` or spread the send over more time"
            }
            _ => "the provider's postmaster pages for what the refusal means",
        }
    }
}

/// What a refusal's words say, read once: a long report's words are read
/// once for all its recipients, not once for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    strong: Option<Reason>,
    weak: Option<Reason>,
    /// Where in the conversation, if the words say.
    pub stage: Stage,
    /// Words that say it may pass ("try again").
    pub temporary: bool,
}

impl Reading {
    pub(crate) fn of(text: &str) -> Reading {
        let normal = normalise(text);
        Reading {
            strong: first_match(STRONG, &normal),
            weak: first_match(WEAK, &normal),
            stage: Stage::in_transcript(text).unwrap_or_else(|| Stage::in_phrases(&normal)),
            temporary: ["try again", "temporar", "will be retried", "retry later"]
                .iter()
                .any(|w| normal.contains(w)),
        }
    }

    /// The reason: the telling words ("user unknown", "blocked using"),
    /// else the status code, else the vaguer words ("denied", "policy"),
    /// else none.
    pub(crate) fn reason(&self, status: Option<&str>) -> Reason {
        self.strong
            .or_else(|| status.and_then(Reason::of_status))
            .or(self.weak)
            .unwrap_or(Reason::Unknown)
    }

    /// The reason the words alone give, if they give one.
    pub(crate) fn says(&self) -> Option<Reason> {
        self.strong.or(self.weak)
    }

    /// These words, and where they say nothing, `more`'s.
    pub(crate) fn or(self, more: Reading) -> Reading {
        Reading {
            strong: self.strong.or(more.strong),
            weak: self.weak.or(more.weak),
            stage: self.stage.or(more.stage),
            temporary: self.temporary || more.temporary,
        }
    }
}

/// Where in the SMTP conversation a refusal came, if its words say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// At the greeting, HELO or MAIL FROM: the sender was refused, before
    /// any recipient was named.
    Sender,
    /// After the message itself: the recipient had been accepted, so the
    /// refusal is of the message (content filters say "user unknown" too).
    Data,
    /// At RCPT TO.
    Recipient,
    /// The words do not say.
    Unsaid,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Sender => "sender",
            Stage::Data => "data",
            Stage::Recipient => "recipient",
            Stage::Unsaid => "unsaid",
        }
    }

    /// This stage, or where it is unsaid, `other`.
    pub(crate) fn or(self, other: Stage) -> Stage {
        match self {
            Stage::Unsaid => other,
            said => said,
        }
    }

    /// A session transcript (`>>> DATA` / `<<< 550 ...`): the last command
    /// sent before the first refusal.
    fn in_transcript(text: &str) -> Option<Stage> {
        let mut last = None;
        for line in text.lines().map(str::trim) {
            if let Some(command) = line.strip_prefix(">>>") {
                let command = command.trim().to_ascii_lowercase();
                // The goodbye's answer says nothing of the delivery.
                if command.starts_with("quit") {
                    return None;
                }
                last = Some(command);
            } else if line.starts_with("<<< 4") || line.starts_with("<<< 5") {
                let command = last?;
                return Some(if command.starts_with("rcpt") {
                    Stage::Recipient
                } else if command.starts_with("data") || command == "." {
                    Stage::Data
                } else {
                    Stage::Sender
                });
            }
        }
        None
    }

    /// From `text` normalised.
    fn in_phrases(text: &str) -> Stage {
        let said = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));
        if said(&["rcpt to", "rcpt command", "recipient command"]) {
            Stage::Recipient
        } else if said(&[
            "after mail from",
            "in reply to mail from",
            "mail from command",
            "after helo",
            "after ehlo",
            "in reply to helo",
            "in reply to ehlo",
            "after initial connection",
            "greeting",
        ]) {
            Stage::Sender
        } else if said(&[
            "end of data",
            "after data",
            "data command",
            "in reply to data",
            "after end of message",
            // m-FILTER: `-------SMTP command` and `DATA` on the next line.
            "smtp command data",
        ]) {
            Stage::Data
        } else {
            Stage::Unsaid
        }
    }
}

impl Reason {
    /// Whether this reason, were it permanent, would be the reader's
    /// address's fault.
    fn is_the_address(self) -> bool {
        matches!(
            self,
            Reason::UserUnknown | Reason::HostUnknown | Reason::Moved | Reason::NotAccepting
        )
    }

    /// The reason, corrected for where the refusal came: a refusal before
    /// any recipient was named is of the sender, unless it is of the
    /// message's size.
    pub(crate) fn at(self, stage: Stage) -> Reason {
        match stage {
            // A message too big is refused at MAIL FROM by its SIZE
            // (RFC 1870): that is about the message.
            Stage::Sender
                if self != Reason::TooBig && self.meaning(true) != Meaning::NotTheReader =>
            {
                Reason::Blocked
            }
            _ => self,
        }
    }

    /// Whether a permanent refusal can say for good that the address is
    /// bad. Where the status code says so too (`5.1.1`), or the refusal
    /// came at RCPT TO, yes. Where the words say "user unknown" but the
    /// code says the mailbox exists (`x.2.0`, RFC 3463) or that the
    /// refusal is of policy (`x.7.x`), no: that is a filter answering
    /// "user unknown", and counts as a soft bounce. Otherwise the words are all there is, unless the refusal
    /// came after the message, where content filters answer "user
    /// unknown" too.
    pub(crate) fn final_at(self, stage: Stage, status: Option<&str>) -> bool {
        if !self.is_the_address() {
            return true;
        }
        match status {
            Some(code) if says_the_address(code) => true,
            _ if stage == Stage::Recipient => true,
            Some(code) if self == Reason::UserUnknown && says_other_than_the_address(code) => false,
            _ => stage != Stage::Data,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status code that is about the address itself (RFC 3463): a bad
/// mailbox (`x.1.1`), system (`x.1.2`), syntax (`x.1.3`), a moved mailbox
/// (`x.1.6`), a bad recipient (`x.1.10`), or no route to the domain
/// (`x.4.4`).
fn says_the_address(status: &str) -> bool {
    let mut parts = status.split('.').skip(1);
    matches!(
        (parts.next(), parts.next()),
        (Some("1"), Some("1" | "2" | "3" | "6" | "10")) | (Some("4"), Some("4"))
    )
}

/// A status code that says the mailbox exists (`x.2.0`) or that the
/// refusal is of policy or security (`x.7.x`).
fn says_other_than_the_address(status: &str) -> bool {
    let mut parts = status.split('.').skip(1);
    matches!(
        (parts.next(), parts.next()),
        (Some("2"), Some("0")) | (Some("7"), Some(_))
    )
}

/// Lowercased, with runs of white space as one space.
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_match(table: &[(Reason, &[&str])], text: &str) -> Option<Reason> {
    table
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| text.contains(p)))
        .map(|(reason, _)| *reason)
}

/// Phrases that say what happened, whatever the status code: lowercased,
/// white space as one space; the first reason that matches wins.
const STRONG: &[(Reason, &[&str])] = &[
    (
        // The sending system's own trouble, whatever it says of the
        // address.
        Reason::SystemError,
        &[
            "name server reply",
            "couldn't create",
            "could not create",
            "temporary lookup failure",
        ],
    ),
    (
        Reason::Policy,
        &[
            "recipient preferences",
            "user rules",
            "refuses to receive",
            "only accepting mail from",
            "members-only",
            "not subscribed to this group",
        ],
    ),
    (
        Reason::Authentication,
        &[
            "dmarc",
            "spf check",
            "spf fail",
            "spf record",
            "spf validation",
            "sender policy framework",
            "dkim",
            "domainkeys",
            "not authenticated",
            "authentication required",
            "unauthenticated",
            "5.7.26",
            "5.7.515",
            "message was not authenticated",
        ],
    ),
    (
        Reason::Spam,
        &[
            "spam",
            "unsolicited",
            "bulk mail",
            "bulk e-mail",
            "bulk email",
            "junk mail",
            "virus",
            "malware",
            "phishing",
            "infected",
            "content filter",
            "content rejected",
            "message content",
            "suspicious",
            "high probability of",
        ],
    ),
    (
        Reason::Blocked,
        &[
            "blocked using",
            "blocked by",
            "block list",
            "blocklist",
            "blacklist",
            "black list",
            "dnsbl",
            "listed at",
            "listed in spamhaus",
            "listed on",
            "spamhaus",
            "spamcop",
            "barracudacentral",
            "reputation",
            "client host rejected",
            "not allowed to send",
            "sender address rejected",
            "domain of sender",
            "sender domain",
            "envelope sender",
            "mail from address",
            "sender rejected",
            "sender denied",
            "sender verify failed",
            "invalid sender",
            "reverse dns",
            "reverse lookup",
            "ptr record",
            "no ptr",
            "rdns",
            "helo command rejected",
            "relay access denied",
            "relaying denied",
            "relay not permitted",
            "unable to relay",
            "not permitted to relay",
            "relay denied",
            "we do not relay",
            "relaying not allowed",
            "administrative prohibition",
            "banned",
            "your ip",
            "sending ip",
            "ip address blocked",
            "ip blocked",
            "dynamic ip",
            "mail from your server",
            "invalid ip",
            "ip for sending",
            "permission to post",
            "not have permission",
            "is blocked",
            "been blocked",
            "temporarily blocked",
            "blocked -",
            "blocked.",
        ],
    ),
    (
        Reason::RateLimit,
        &[
            "rate limit",
            "ratelimit",
            "rate-limit",
            "too many connections",
            "too many concurrent",
            "too many messages",
            "too many recipients",
            "too many smtp sessions",
            "too many errors from",
            "connection limit",
            "throttl",
            "sending rate",
            "exceeded the max emails",
            "exceeds per-domain",
            "receiving limit",
            "trop de connexions",
        ],
    ),
    (
        Reason::Moved,
        &[
            "has moved",
            "has been replaced by",
            "no longer at this address",
        ],
    ),
    (
        Reason::MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "box is full",
            "full mailbox",
            "mailbox has exceeded",
            "mailbox exceeded",
            "quota",
            "insufficient disk space",
            "insufficient storage",
            "not enough space",
            "out of storage",
            "storage allocation",
            "exceeded storage",
            "too much mail",
            "mailfolder is full",
            "mailbox size limit",
            "mail box full",
            "disk full",
            "is full",
        ],
    ),
    (
        Reason::TooBig,
        &[
            "message too big",
            "message too large",
            "message is too large",
            "message is too big",
            "message size exceeds",
            "message size limit",
            "exceeds size limit",
            "size exceeds",
            "message length exceeds",
            "message file too big",
            "too large",
            "size limit",
        ],
    ),
    (
        Reason::Disabled,
        &[
            "account disabled",
            "account is disabled",
            "account has been disabled",
            "mailbox disabled",
            "mailbox is disabled",
            "disabled or discontinued",
            "is disabled",
            "deactivated",
            "suspended",
            "inactive",
            "account is locked",
            "is frozen",
            "is terminated",
            "no longer accepts mail",
            "no longer active",
            "account closed",
            "account is closed",
            "mailbox closed",
            "account has expired",
            "expired account",
        ],
    ),
    (
        Reason::NotAccepting,
        &[
            "does not accept mail",
            "not accepting mail",
            "not accepting any mail",
            "nullmx",
            "null mx",
            "accepts no mail",
            "mail receiving disabled",
        ],
    ),
    (
        Reason::HostUnknown,
        &[
            "host unknown",
            "unknown host",
            "host not found",
            "host or domain name not found",
            "domain not found",
            "no such domain",
            "domain does not exist",
            "domain must exist",
            "unknown domain",
            "unrouteable",
            "unroutable",
            "name or service not known",
            "no mx",
            "mx lookup",
            "no mail exchanger",
            "find a mail exchanger",
            "nxdomain",
            "domain is not reachable",
            "domain name not found",
            "no route to host",
            "host or domain not found",
            "domain is not found",
            "not a valid domain",
            "couldn't find any host",
            "could not find any host",
            "no such host",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "user unknown",
            "unknown user",
            "unknown recipient",
            "recipient unknown",
            "recipient not found",
            "recipnotfound",
            "user not found",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "no such address",
            "no such account",
            "no mailbox",
            "mailbox unavailable",
            "mailbox not found",
            "mailbox does not exist",
            "mailbox not available",
            "mailbox is unavailable",
            "does not exist",
            "doesn't exist",
            "not exist",
            "invalid recipient",
            "invalid address",
            "invalid mailbox",
            "address unknown",
            "bad address",
            "bad destination",
            "unknown address",
            "unknown local part",
            "unknown or illegal alias",
            "not a valid mailbox",
            "not listed in",
            "not a known user",
            "undeliverable address",
            "unknown mailbox",
            "account does not exist",
            "not our customer",
            "no one here by that name",
            "no mailbox here by that name",
            "address does not exist",
            "mailbox unknown",
            "user invalid",
            "invalid user",
            "address not found",
            "address couldn't be found",
            "address could not be found",
            "unable to find",
            "no account by that name",
            "unknown account",
            "was not found",
            "not found in",
            "is not a valid user",
            "doesn't have a",
            "does not have a",
            "is not recognized",
            "not a registered",
            // Office 365's directory-based edge blocking.
            "recipient address rejected: access denied",
        ],
    ),
    (
        Reason::Expired,
        &[
            "delivery expired",
            "message expired",
            "delivery time expired",
            "retry time not reached",
            "retry timeout exceeded",
            "giving up",
            "too long in the queue",
            "in the queue too long",
            "queue too long",
            "have been failing for a long time",
            "could not be delivered for",
            "not reachable within",
            "timed out",
            "time out",
            "timeout",
            "expired",
        ],
    ),
    (
        Reason::SystemError,
        &[
            "system error",
            "internal error",
            "local error",
            "server error",
            "configuration error",
            "mail loop",
            "loops back",
            "routing loop",
            "loop detected",
            "too many hops",
            "service unavailable",
            "service not available",
            "temporary failure",
            "temporary problem",
            "temporary local problem",
            "connection reset",
            "connection refused",
            "connection lost",
            "connection dropped",
            "lost connection",
            "i/o error",
            "insufficient system resources",
            "out of memory",
        ],
    ),
];

/// Vaguer words, read only where the status code says nothing.
const WEAK: &[(Reason, &[&str])] = &[
    (
        Reason::Blocked,
        &[
            "blocked",
            "rbl",
            "ip address",
            "access denied",
            "denied",
            "helo",
        ],
    ),
    (
        Reason::RateLimit,
        &[
            "try again later",
            "temporarily deferred",
            "has exceeded the",
        ],
    ),
    (Reason::SystemError, &["try again"]),
    (
        Reason::UserUnknown,
        &[
            "recipient address rejected",
            "address rejected",
            "recipient rejected",
            "invalid",
            "is not a valid",
        ],
    ),
    (
        Reason::Policy,
        &[
            "policy",
            "not accepted",
            "rejected by",
            "filtered",
            "refused",
            "prohibited",
            "not permitted",
            "not allowed",
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
            "header",
            "syntax",
            "attachment",
        ],
    ),
    (
        Reason::SystemError,
        &["network", "resources", "unavailable"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_decide_before_the_code() {
        let cases = [
            (
                "550 5.0.0 Mail from your server is blocked",
                Some("5.0.0"),
                Reason::Blocked,
            ),
            (
                "550 5.1.1 <ann@x>: Recipient address rejected: User unknown",
                Some("5.1.1"),
                Reason::UserUnknown,
            ),
            ("552 5.2.2 Mailbox full", Some("5.2.2"), Reason::MailboxFull),
            (
                "550 5.7.26 Unauthenticated email from x is not accepted due to domain's DMARC policy",
                Some("5.7.26"),
                Reason::Authentication,
            ),
            (
                "554 5.7.1 Message rejected as spam",
                Some("5.7.1"),
                Reason::Spam,
            ),
            (
                "421 4.7.0 Too many connections, try again later",
                Some("4.7.0"),
                Reason::RateLimit,
            ),
            ("something went wrong", Some("5.1.1"), Reason::UserUnknown),
            ("something went wrong", Some("5.2.1"), Reason::Disabled),
            ("something went wrong", Some("5.0.0"), Reason::Unknown),
            ("something went wrong", None, Reason::Unknown),
        ];
        for (text, status, reason) in cases {
            assert_eq!(Reason::of(text, status), reason, "{text}");
        }
    }

    #[test]
    fn a_refusal_of_the_sender_never_suppresses_whatever_its_code() {
        for reason in [
            Reason::Blocked,
            Reason::Spam,
            Reason::Policy,
            Reason::Authentication,
            Reason::RateLimit,
        ] {
            assert_eq!(reason.meaning(true), Meaning::NotTheReader, "{reason}");
        }
        assert_eq!(Reason::UserUnknown.meaning(true), Meaning::Hard);
        assert_eq!(Reason::UserUnknown.meaning(false), Meaning::Soft);
        assert_eq!(Reason::MailboxFull.meaning(true), Meaning::Soft);
    }

    #[test]
    fn every_reason_reads_back_from_its_name() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
    }
}
