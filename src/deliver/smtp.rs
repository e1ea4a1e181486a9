//! One SMTP connection, opened by us and driven command by command with
//! lettre's low-level [`AsyncSmtpConnection`].
//!
//! Why not lettre's pooled transport: it never sets `TCP_NODELAY`, so on a
//! reused connection every message waits ~40 ms for Nagle's algorithm to meet
//! the server's delayed ACK (fixed upstream in lettre PR #1159, unreleased in
//! 0.11.23). We open the socket ourselves with `set_nodelay(true)` and hand it
//! to lettre. Driving MAIL / RCPT / DATA ourselves also lets the ledger mark a
//! reader "in flight" right before the body goes out, and lets a 4xx or 5xx
//! for one recipient be answered with RSET instead of a dropped connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::tls::{TlsStream, rustls_connector};

use crate::config::{Security, Smtp};

/// Everything needed to open a connection, prepared once per run.
pub struct Connector {
    smtp: Smtp,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// For STARTTLS (lettre's TLS parameters).
    starttls: Option<TlsParameters>,
    /// For implicit TLS (our own rustls client).
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Connector")
            .field("server", &self.smtp.describe())
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    /// Trying again will not help (a certificate that does not verify, a
    /// refused login): the run stops at once instead of retrying.
    pub permanent: bool,
}

impl ConnectError {
    fn transient(message: String) -> ConnectError {
        ConnectError {
            message,
            permanent: false,
        }
    }

    pub(super) fn permanent(message: String) -> ConnectError {
        ConnectError {
            message,
            permanent: true,
        }
    }
}

impl Connector {
    /// Prepares TLS and credentials. `domain` is the sending domain, the EHLO
    /// name unless the settings give one.
    ///
    /// # Errors
    /// The password variable is missing, or the CA file is unreadable.
    pub fn new(smtp: &Smtp, domain: &str) -> Result<Connector, ConnectError> {
        let password = smtp.password().map_err(ConnectError::permanent)?;
        let credentials = match (&smtp.username, password) {
            (Some(user), Some(password)) => Some(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            )),
            _ => None,
        };
        let extra_roots = match &smtp.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    ConnectError::permanent(format!(
                        "cannot read ca_file `{}`: {e}",
                        path.display()
                    ))
                })?;
                Some(pem)
            }
            None => None,
        };
        let (starttls, tls) = match smtp.security {
            Security::None => (None, None),
            Security::Starttls => {
                let mut builder = TlsParameters::builder(smtp.host.clone());
                if let Some(pem) = &extra_roots {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| ConnectError::permanent(format!("bad ca_file: {e}")))?;
                    builder = builder.add_root_certificate(cert);
                }
                let params = builder
                    .build_rustls()
                    .map_err(|e| ConnectError::permanent(format!("TLS set-up failed: {e}")))?;
                (Some(params), None)
            }
            Security::Tls => (None, Some(rustls_connector(extra_roots.as_deref())?)),
        };
        Ok(Connector {
            hello: ClientId::Domain(
                smtp.hello_name
                    .clone()
                    .unwrap_or_else(|| domain.to_string()),
            ),
            smtp: smtp.clone(),
            credentials,
            starttls,
            tls,
        })
    }

    pub fn settings(&self) -> &Smtp {
        &self.smtp
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, greeting and EHLO, then
    /// TLS and AUTH as configured, each step under the timeout.
    ///
    /// # Errors
    /// Refused, timed out, TLS or authentication failed.
    pub async fn connect(&self) -> Result<Connection, ConnectError> {
        let timeout = self.smtp.timeout;
        let target = self.smtp.describe();
        let retry = |what: &str, e: &dyn std::fmt::Display| {
            ConnectError::transient(format!("{what} {target}: {e}"))
        };
        let stop = |what: &str, e: &dyn std::fmt::Display| {
            ConnectError::permanent(format!("{what} {target}: {e}"))
        };
        let tcp = within(
            timeout,
            TcpStream::connect((self.smtp.host.as_str(), self.smtp.port)),
        )
        .await
        .map_err(|e| retry("cannot connect to", &e))?
        .map_err(|e| retry("cannot connect to", &e))?;
        tcp.set_nodelay(true)
            .map_err(|e| retry("cannot set TCP_NODELAY on", &e))?;

        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(self.smtp.host.clone())
                    .map_err(|e| stop("bad TLS server name for", &e))?;
                let tls = within(timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|e| retry("TLS handshake timed out with", &e))?
                    .map_err(|e| stop("TLS handshake failed with", &e))?;
                Box::new(TlsStream(tls))
            }
            None => Box::new(tcp),
        };
        let mut inner = within(
            timeout,
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await
        .map_err(|e| retry("no greeting from", &e))?
        .map_err(|e| retry("greeting failed with", &e))?;
        if let Some(params) = &self.starttls {
            within(timeout, inner.starttls(params.clone(), &self.hello))
                .await
                .map_err(|e| retry("STARTTLS timed out with", &e))?
                .map_err(|e| stop("STARTTLS failed with", &e))?;
        }
        if let Some(credentials) = &self.credentials {
            if !inner.is_encrypted() && !crate::config::smtp::is_loopback(&self.smtp.host) {
                return Err(ConnectError::permanent(format!(
                    "refusing to send the password to {target} unencrypted"
                )));
            }
            match within(
                timeout,
                inner.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.is_transient() => {
                    return Err(retry("login refused for now by", &e));
                }
                Ok(Err(e)) => return Err(stop("login failed with", &e)),
                Err(e) => return Err(retry("login timed out with", &e)),
            }
        }
        Ok(Connection { inner, timeout })
    }
}

/// What became of one message on one connection.
#[derive(Debug)]
pub enum Attempt {
    /// The server replied 2xx to the end of DATA.
    Accepted { reply: String },
    /// The server said no, with a code. `permanent` for 5xx. The connection
    /// is still usable when `reusable`.
    Rejected {
        permanent: bool,
        reply: String,
        reusable: bool,
    },
    /// The connection failed before the whole body was written: the server
    /// cannot have accepted the message, so it is safe to try again.
    NotSent { error: String },
    /// The whole body was written but no reply came: the server may or may
    /// not have accepted it. Never retried automatically.
    Uncertain { error: String },
    /// `before_body` failed (the ledger could not record), so nothing was sent.
    Stopped { error: String },
}

/// An open SMTP connection, reused for many messages.
pub struct Connection {
    inner: AsyncSmtpConnection,
    timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Sends one message to one recipient. `before_body` runs after the
    /// server has accepted DATA and before the body goes out: the ledger's
    /// durable "in flight" mark.
    pub async fn send<F, Fut>(
        &mut self,
        from: &Address,
        to: &Address,
        body: &[u8],
        before_body: F,
    ) -> Attempt
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let t = self.timeout;
        let steps = async {
            self.step(Mail::new(Some(from.clone()), vec![])).await?;
            self.step(Rcpt::new(to.clone(), vec![])).await?;
            self.step(Data).await
        };
        if let Err(attempt) = steps.await {
            return attempt;
        }

        if let Err(error) = before_body().await {
            return Attempt::Stopped { error };
        }

        // The flag flips when lettre has taken the last of the body, right
        // before it writes the final "." and waits for the reply.
        let written = AtomicBool::new(false);
        let parts = BodyParts {
            body: Some(body),
            written: &written,
        };
        match within(t, self.inner.message_iter(parts)).await {
            Ok(Ok(response)) => Attempt::Accepted {
                reply: one_line(&format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
            },
            Ok(Err(e)) if e.is_transient() || e.is_permanent() => Attempt::Rejected {
                permanent: e.is_permanent(),
                reply: one_line(&e.to_string()),
                reusable: true,
            },
            Ok(Err(e)) if written.load(Ordering::SeqCst) => Attempt::Uncertain {
                error: one_line(&e.to_string()),
            },
            Ok(Err(e)) => Attempt::NotSent {
                error: one_line(&e.to_string()),
            },
            Err(elapsed) if written.load(Ordering::SeqCst) => Attempt::Uncertain {
                error: format!("no reply to the end of DATA: {elapsed}"),
            },
            Err(elapsed) => Attempt::NotSent {
                error: elapsed.to_string(),
            },
        }
    }

    /// One command before the body. A 4xx or 5xx ends the transaction, and
    /// RSET keeps the connection for the next reader.
    async fn step(&mut self, command: impl std::fmt::Display) -> Result<(), Attempt> {
        match within(self.timeout, self.inner.command(command)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_transient() || e.is_permanent() => {
                let reset = within(self.timeout, self.inner.command(Rset)).await;
                Err(Attempt::Rejected {
                    permanent: e.is_permanent(),
                    reply: one_line(&e.to_string()),
                    reusable: matches!(reset, Ok(Ok(_))),
                })
            }
            Ok(Err(e)) => Err(Attempt::NotSent {
                error: one_line(&e.to_string()),
            }),
            Err(elapsed) => Err(Attempt::NotSent {
                error: elapsed.to_string(),
            }),
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn quit(mut self) {
        let _ = within(self.timeout, self.inner.quit()).await;
    }
}

/// Yields the body once, then records that it has all been handed over.
struct BodyParts<'a> {
    body: Option<&'a [u8]>,
    written: &'a AtomicBool,
}

impl<'a> Iterator for BodyParts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let part = self.body.take();
        if part.is_none() {
            self.written.store(true, Ordering::SeqCst);
        }
        part
    }
}

/// A timeout that names how long it waited.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, TimedOut> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| TimedOut(limit))
}

#[derive(Debug)]
struct TimedOut(Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timed out after {:?}", self.0)
    }
}

/// SMTP replies can span lines; ledgers and logs want one.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
