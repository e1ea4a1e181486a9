//! One message outside a list send (a sign-up's confirmation, a welcome):
//! each relay tried in turn, once, until one accepts it. Nothing is
//! recorded here; the caller records what it needs.

use super::relays::Relays;
use super::smtp_client::{Attempt, Envelope};

/// Sends `message` from `from` (the envelope sender) to `to`. Returns the
/// relay that took it and its reply.
///
/// # Errors
/// Every relay refused it or could not be reached; the last reason.
pub(crate) async fn send(
    relays: &Relays,
    from: &str,
    to: &lettre::Address,
    message: &[u8],
) -> Result<String, String> {
    let mut last = String::from("no relay is configured");
    for relay in 0..relays.len() {
        let mut session = match relays.connect(relay).await {
            Ok(session) => session,
            Err(e) => {
                last = format!("{}: {e}", relays.name(relay));
                continue;
            }
        };
        let envelope = Envelope {
            from,
            to: to.as_ref(),
            utf8: crate::list::address::needs_smtputf8(to),
        };
        let attempt = session.send(envelope, message, || async { Ok(()) }).await;
        match attempt {
            Attempt::Accepted { reply } => {
                session.quit().await;
                return Ok(format!("{}: {reply}", relays.name(relay)));
            }
            Attempt::Rejected {
                permanent: true,
                reply,
                about_relay: false,
                ..
            } => return Err(format!("{}: {reply}", relays.name(relay))),
            Attempt::Rejected { reply, .. } => last = format!("{}: {reply}", relays.name(relay)),
            Attempt::NotSent { error } | Attempt::Stopped { error } => {
                last = format!("{}: {error}", relays.name(relay));
            }
            // It may have gone: sending it again through another relay
            // could mail the reader twice.
            Attempt::Uncertain { error } => return Err(format!("{}: {error}", relays.name(relay))),
        }
    }
    Err(last)
}
