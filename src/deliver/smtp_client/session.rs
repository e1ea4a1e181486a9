//! One SMTP session, driven command by command: every reply read under a
//! timeout and bounded in size, and a message sent as one transaction whose
//! last step (the final `.`, or `BDAT 0 LAST` with CHUNKING) is taken only
//! after the caller has marked the reader in flight. A server discards a
//! message whose transaction never completed, so the only readers that can
//! be uncertain are those whose last step was written and whose reply was
//! not read.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use super::reply::{self, Line, Reply};
use super::stream::Stream;

/// What the server offers after EHLO.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extensions {
    pub pipelining: bool,
    /// CHUNKING (RFC 3030): the body goes in BDAT chunks, not dot-stuffed.
    pub chunking: bool,
    pub smtputf8: bool,
    pub starttls: bool,
    /// AUTH mechanisms, upper case.
    pub auth: Vec<String>,
}

impl Extensions {
    fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        // The first line is the server's greeting name.
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "CHUNKING" => ext.chunking = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "STARTTLS" => ext.starttls = true,
                "AUTH" => ext.auth = words.map(str::to_ascii_uppercase).collect(),
                _ => {}
            }
        }
        ext
    }
}

/// Why a step of the session failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered, but not with what the step needs.
    Reply(Reply),
    /// The connection failed, timed out or spoke nonsense.
    Connection(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Reply(reply) => write!(f, "{reply}"),
            Failure::Connection(why) => f.write_str(why),
        }
    }
}

/// What became of one message on one connection.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The server replied 2xx to the end of the message.
    Accepted { reply: String },
    /// The server said no, with a code. `permanent` for 5xx. The connection
    /// is still usable when `reusable`. `about_relay` when the refusal is
    /// about the relay or the sender (the envelope sender refused, relaying
    /// or access denied), not the reader.
    Rejected {
        permanent: bool,
        reply: String,
        reusable: bool,
        about_relay: bool,
    },
    /// The connection failed before the last step (the final dot, or
    /// `BDAT 0 LAST`) was written: the server cannot have accepted the
    /// message, so it is safe to try again.
    NotSent { error: String },
    /// The last step was written but no reply came: the server may or may
    /// not have accepted it. Never retried automatically.
    Uncertain { error: String },
    /// The caller's mark before the dot failed (the ledger could not
    /// record), so the message was not completed. Drop the connection.
    Stopped { error: String },
}

impl Attempt {
    /// The server said 421: it is closing the channel (shutting down, or
    /// overloaded), so the relay as a whole should rest.
    pub(crate) fn closes_relay(&self) -> bool {
        matches!(self, Attempt::Rejected { reply, permanent: false, .. } if reply.starts_with("421"))
    }
}

/// The envelope of one message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// The address needs SMTPUTF8 (a non-ASCII local part).
    pub utf8: bool,
}

/// An open SMTP session, reused for many messages.
#[derive(Debug)]
pub(crate) struct Session {
    io: BufReader<Stream>,
    pub(super) extensions: Extensions,
    timeout: Duration,
    data_timeout: Duration,
}

impl Session {
    pub(super) fn new(stream: Stream, timeout: Duration, data_timeout: Duration) -> Session {
        Session {
            io: BufReader::new(stream),
            extensions: Extensions::default(),
            timeout,
            data_timeout,
        }
    }

    pub(crate) fn is_encrypted(&self) -> bool {
        self.io.get_ref().is_encrypted()
    }

    /// Reads one whole reply, within `limit`.
    pub(super) async fn reply_within(&mut self, limit: Duration) -> Result<Reply, Failure> {
        match tokio::time::timeout(limit, self.read_reply()).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Connection(format!(
                "no reply within {}",
                seconds(limit)
            ))),
        }
    }

    pub(super) async fn reply(&mut self) -> Result<Reply, Failure> {
        self.reply_within(self.timeout).await
    }

    async fn read_reply(&mut self) -> Result<Reply, Failure> {
        let mut lines = Vec::new();
        let mut raw = Vec::with_capacity(128);
        loop {
            raw.clear();
            let read = (&mut self.io)
                .take(reply::MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut raw)
                .await
                .map_err(|e| Failure::Connection(format!("the connection failed: {e}")))?;
            if read == 0 {
                return Err(Failure::Connection(
                    "the server closed the connection".into(),
                ));
            }
            if raw.len() > reply::MAX_LINE || !raw.ends_with(b"\n") {
                return Err(Failure::Connection(
                    "the server sent a reply line that is too long".into(),
                ));
            }
            let line = reply::parse_line(&raw).map_err(Failure::Connection)?;
            let (code, text, last) = match line {
                Line::More(code, text) => (code, text, false),
                Line::Last(code, text) => (code, text, true),
            };
            lines.push((code, text));
            if last {
                let code = lines[0].0;
                if lines.iter().any(|(c, _)| *c != code) {
                    return Err(Failure::Connection(
                        "the server mixed reply codes in one reply".into(),
                    ));
                }
                return Ok(Reply {
                    code,
                    lines: lines.into_iter().map(|(_, t)| t).collect(),
                });
            }
            if lines.len() >= reply::MAX_LINES {
                return Err(Failure::Connection(
                    "the server sent a reply that is too long".into(),
                ));
            }
        }
    }

    /// Writes bytes and flushes them, within the timeout.
    pub(super) async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let limit = self.timeout;
        let io = self.io.get_mut();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::Connection(format!("the connection failed: {e}"))),
            Err(_) => Err(Failure::Connection(format!(
                "the server took nothing for {}",
                seconds(limit)
            ))),
        }
    }

    /// Sends a command and reads its reply; a reply that is not 2xx or 3xx
    /// is a failure.
    pub(super) async fn command(&mut self, line: &str) -> Result<Reply, Failure> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        let reply = self.reply().await?;
        if reply.is_positive() {
            Ok(reply)
        } else {
            Err(Failure::Reply(reply))
        }
    }

    /// EHLO, remembering what the server offers. With `batching` off,
    /// PIPELINING and CHUNKING are not used even when offered.
    pub(super) async fn hello(&mut self, name: &str, batching: bool) -> Result<(), Failure> {
        let reply = self.command(&format!("EHLO {name}")).await?;
        self.extensions = Extensions::parse(&reply);
        if !batching {
            self.extensions.pipelining = false;
            self.extensions.chunking = false;
        }
        Ok(())
    }

    /// Swaps the plain stream for an encrypted one after `220` to STARTTLS.
    ///
    /// # Errors
    /// The server sent bytes after its `220` (which would otherwise be read
    /// as if they had come over TLS: the STARTTLS injection attack), or the
    /// handshake failed.
    pub(super) async fn encrypt(
        &mut self,
        connector: &tokio_rustls::TlsConnector,
        host: &str,
    ) -> std::io::Result<()> {
        if !self.io.buffer().is_empty() {
            return Err(std::io::Error::other(
                "the server sent data before the TLS handshake; refusing to go on",
            ));
        }
        let plain = std::mem::replace(self.io.get_mut(), Stream::Upgrading);
        let tls = tokio::time::timeout(self.timeout, plain.encrypt(connector, host))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })??;
        self.io = BufReader::new(tls);
        Ok(())
    }

    /// Sends one message in one transaction. `message` is the message as
    /// built (not dot-stuffed). `before_dot` runs after the whole body is
    /// written and before the step that completes the transaction (the
    /// final `.`, or `BDAT 0 LAST`): the ledger's durable "in flight" mark.
    pub(crate) async fn send<F, Fut>(
        &mut self,
        envelope: Envelope<'_>,
        message: &[u8],
        before_dot: F,
    ) -> Attempt
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        if envelope.utf8 && !self.extensions.smtputf8 {
            return Attempt::Rejected {
                permanent: true,
                reply: format!(
                    "the address `{}` needs SMTPUTF8, which the server does not offer",
                    envelope.to
                ),
                reusable: true,
                about_relay: false,
            };
        }
        let chunking = self.extensions.chunking;
        if let Err(attempt) = self.open_transaction(envelope, !chunking).await {
            return attempt;
        }
        let (body, last) = if chunking {
            // RFC 3030: the body as one chunk, as it is; the transaction
            // completes with an empty last chunk.
            let mut chunk = format!("BDAT {}\r\n", message.len()).into_bytes();
            chunk.extend_from_slice(message);
            (chunk, &b"BDAT 0 LAST\r\n"[..])
        } else {
            (dot_stuff(message), &b".\r\n"[..])
        };
        if let Err(e) = self.write(&body).await {
            return Attempt::NotSent {
                error: e.to_string(),
            };
        }
        if chunking {
            // The chunk's own reply: a refusal here ends the transaction
            // before anything was accepted.
            match self.reply().await {
                Ok(reply) if reply.is_positive() => {}
                Ok(reply) => {
                    let reusable = self.command("RSET").await.is_ok();
                    return Attempt::Rejected {
                        permanent: reply.is_permanent(),
                        about_relay: reply.is_about_the_relay(),
                        reply: reply.to_string(),
                        reusable,
                    };
                }
                Err(e) => {
                    return Attempt::NotSent {
                        error: e.to_string(),
                    };
                }
            }
        }
        if let Err(error) = before_dot().await {
            return Attempt::Stopped { error };
        }
        if let Err(e) = self.write(last).await {
            return Attempt::Uncertain {
                error: e.to_string(),
            };
        }
        match self.reply_within(self.data_timeout).await {
            Ok(reply) if reply.is_positive() => Attempt::Accepted {
                reply: reply.to_string(),
            },
            Ok(reply) => Attempt::Rejected {
                permanent: reply.is_permanent(),
                reusable: reply.code != 421,
                about_relay: reply.is_about_the_relay(),
                reply: reply.to_string(),
            },
            Err(e) => Attempt::Uncertain {
                error: format!("after the end of the message: {e}"),
            },
        }
    }

    /// MAIL and RCPT, and DATA unless the body goes by BDAT: in one write
    /// when the server offers PIPELINING (RFC 2920), one by one otherwise.
    /// `Ok` once the server accepted them all (354 to DATA).
    async fn open_transaction(
        &mut self,
        envelope: Envelope<'_>,
        data: bool,
    ) -> Result<(), Attempt> {
        let utf8 = if envelope.utf8 { " SMTPUTF8" } else { "" };
        let mut commands = vec![
            format!("MAIL FROM:<{}>{utf8}\r\n", envelope.from),
            format!("RCPT TO:<{}>\r\n", envelope.to),
        ];
        if data {
            commands.push("DATA\r\n".to_string());
        }
        let lost = |e: Failure| Attempt::NotSent {
            error: e.to_string(),
        };
        // The refusal, and whether it was of MAIL FROM (the first command).
        let mut refused: Option<(Reply, bool)> = None;
        if self.extensions.pipelining {
            self.write(commands.concat().as_bytes())
                .await
                .map_err(lost)?;
            for i in 0..commands.len() {
                let reply = self.reply().await.map_err(lost)?;
                if !reply.is_positive() && refused.is_none() {
                    refused = Some((reply, i == 0));
                } else if reply.code == 354 && refused.is_some() {
                    // A server that took DATA after refusing the envelope:
                    // end the empty message so the session stays in step.
                    self.write(b".\r\n").await.map_err(lost)?;
                    self.reply().await.map_err(lost)?;
                }
            }
        } else {
            for (i, command) in commands.iter().enumerate() {
                self.write(command.as_bytes()).await.map_err(lost)?;
                let reply = self.reply().await.map_err(lost)?;
                if !reply.is_positive() {
                    refused = Some((reply, i == 0));
                    break;
                }
            }
        }
        match refused {
            None => Ok(()),
            Some((reply, of_sender)) => {
                let reusable = self.command("RSET").await.is_ok();
                Err(Attempt::Rejected {
                    permanent: reply.is_permanent(),
                    about_relay: of_sender || reply.is_about_the_relay(),
                    reply: reply.to_string(),
                    reusable,
                })
            }
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub(crate) async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}

fn seconds(limit: Duration) -> String {
    format!("{} s", limit.as_secs_f64())
}

/// Doubles every `.` at the start of a line (RFC 5321 §4.5.2) and makes
/// sure the message ends with CRLF, ready for DATA. The search for line
/// starts is memchr's vectorised one, so a 40 KB message costs microseconds.
pub(crate) fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    if message.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut start = 0;
    for at in memchr::memmem::find_iter(message, b"\n.") {
        out.extend_from_slice(&message[start..=at]);
        out.push(b'.');
        start = at + 1;
    }
    out.extend_from_slice(&message[start..]);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_at_line_starts_are_doubled_and_the_end_is_crlf() {
        assert_eq!(
            dot_stuff(b".a\r\nb\r\n.\r\n..c"),
            b"..a\r\nb\r\n..\r\n...c\r\n"
        );
        assert_eq!(dot_stuff(b"no dots\r\n"), b"no dots\r\n");
        assert_eq!(dot_stuff(b"a.b\r\n"), b"a.b\r\n");
    }

    #[test]
    fn extensions_are_read_from_the_ehlo_reply() {
        let reply = Reply {
            code: 250,
            lines: vec![
                "smtp.test".into(),
                "PIPELINING".into(),
                "SIZE 1000".into(),
                "auth plain login".into(),
                "SMTPUTF8".into(),
            ],
        };
        let ext = Extensions::parse(&reply);
        assert!(ext.pipelining && ext.smtputf8 && !ext.starttls);
        assert_eq!(ext.auth, ["PLAIN", "LOGIN"]);
    }
}
