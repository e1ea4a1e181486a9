//! A provider's block is not its readers' fault. When several readers at
//! one receiving provider are refused for one reason that is not about
//! their addresses (a block, spam, policy, authentication, a rate limit, a
//! system error, mail that expired in the queue), within one run or one
//! day, the provider refused the sender: none of them is suppressed or
//! counted, and the run says so and exits with its own code.

use chrono::{DateTime, Duration, Utc};

use super::reason::Reason;

/// This many distinct readers at one provider, refused for one reason,
/// make a block. A bad address is refused as unknown, never as "blocked":
/// five readers refused alike in a day is the provider's answer to the
/// sender, not chance.
pub(crate) const READERS: usize = 5;

/// Refusals this close together count together.
pub(crate) fn window() -> Duration {
    Duration::hours(24)
}

/// Whether a refusal for `reason` can be part of a block: every reason
/// that is not about the address or the mailbox.
pub(crate) fn can_be_a_block(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::Blocked
            | Reason::Spam
            | Reason::Policy
            | Reason::Authentication
            | Reason::RateLimit
            | Reason::SystemError
            | Reason::Expired
    )
}

/// Who received the mail: the registrable domain of the server that
/// refused it (several domains behind Google's or Microsoft's MX are one
/// provider), or failing that of the reader's address.
pub(crate) fn provider(remote: Option<&str>, email: &str) -> String {
    let host = remote
        .filter(|h| h.contains('.'))
        .unwrap_or_else(|| email.rsplit('@').next().unwrap_or(email));
    crate::list::address::registrable(&host.to_ascii_lowercase())
}

/// One refusal that may be part of a block.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub provider: String,
    pub reason: Reason,
    pub email: String,
    pub at: DateTime<Utc>,
}

/// A block found: who, why, how many, and the words of one refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub provider: String,
    pub reason: Reason,
    pub readers: usize,
    pub example: String,
}

/// How many distinct readers `provider` refused for `reason` in the
/// window before `now`.
pub(crate) fn readers_refused<'a>(
    provider: &str,
    reason: Reason,
    refusals: impl Iterator<Item = &'a Refusal>,
    now: DateTime<Utc>,
) -> usize {
    let since = now - window();
    let mut readers: Vec<String> = refusals
        .filter(|r| r.provider == provider && r.reason == reason && r.at > since)
        .map(|r| r.email.to_ascii_lowercase())
        .collect();
    readers.sort();
    readers.dedup();
    readers.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_is_the_domain_of_the_server_that_refused() {
        assert_eq!(
            provider(Some("aspmx.l.google.com"), "ann@trust.example"),
            "google.com"
        );
        assert_eq!(
            provider(Some("nhs-net.mail.protection.outlook.com"), "ann@nhs.net"),
            "outlook.com"
        );
        assert_eq!(provider(None, "ann@mid.trust.nhs.uk"), "trust.nhs.uk");
        assert_eq!(provider(None, "bob@example.co.uk"), "example.co.uk");
        assert_eq!(
            provider(Some("localhost"), "bob@nhs.example"),
            "nhs.example"
        );
    }
}
