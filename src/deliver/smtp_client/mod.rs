//! Our SMTP client: opens a connection (TCP with `TCP_NODELAY`, TLS, EHLO,
//! STARTTLS, AUTH) and hands back a [`Session`] that sends messages.
//!
//! Why not lettre's transport: it never sets `TCP_NODELAY` (every message on
//! a reused connection waited ~40 ms for Nagle's algorithm; lettre PR #1159,
//! unreleased in 0.11.23), its DATA codec walks every byte of every message
//! to dot-stuff it (a third of our CPU), it has neither PIPELINING nor
//! CHUNKING, and it writes the body and the final dot in one call, so a
//! reader could only be marked in flight before the body, not before the
//! dot. lettre still builds (and signs) the MIME messages.
//!
//! | file | owns |
//! |---|---|
//! | `stream.rs` | the socket, plain or TLS |
//! | `reply.rs` | reading and printing server replies, safely |
//! | `session.rs` | commands, and one message as one transaction |

mod reply;
mod session;
mod stream;

use base64::Engine as _;
use tokio::net::TcpStream;

use session::Failure;
pub(crate) use session::{Attempt, Envelope, Session};
use stream::{Stream, tls_connector};

use crate::config::smtp::{Secret, SettingsError, is_loopback};
use crate::config::{Env, Security, Smtp};

/// Everything needed to open a connection, prepared once per run.
pub(crate) struct Connector {
    smtp: Smtp,
    hello: String,
    credentials: Option<(String, Secret)>,
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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ConnectError {
    pub message: String,
    /// Trying again cannot help: a refused login, a certificate that does
    /// not verify, a server that will not talk to us. A configuration
    /// problem for the operator (exit 2).
    pub refused: bool,
}

impl ConnectError {
    fn transient(message: String) -> ConnectError {
        ConnectError {
            message,
            refused: false,
        }
    }

    fn refused(message: String) -> ConnectError {
        ConnectError {
            message,
            refused: true,
        }
    }
}

impl Connector {
    /// Prepares TLS and credentials. `domain` is the sending domain, the EHLO
    /// name unless the settings give one.
    ///
    /// # Errors
    /// The password variable is missing, or the CA file is unreadable.
    pub(crate) fn new(smtp: &Smtp, domain: &str, env: &Env) -> Result<Connector, SettingsError> {
        let credentials = match (&smtp.username, smtp.password(env)?) {
            (Some(user), Some(password)) => Some((user.clone(), password)),
            _ => None,
        };
        let tls = match smtp.security {
            Security::None => None,
            Security::Starttls | Security::Tls => {
                let extra = match &smtp.ca_file {
                    Some(path) => Some(
                        crate::fs::read_input(path, crate::fs::CONFIG_LIMIT)
                            .map_err(|e| SettingsError(format!("ca_file: {e}")))?,
                    ),
                    None => None,
                };
                Some(tls_connector(extra.as_deref()).map_err(SettingsError)?)
            }
        };
        Ok(Connector {
            hello: smtp
                .hello_name
                .clone()
                .unwrap_or_else(|| domain.to_string()),
            smtp: smtp.clone(),
            credentials,
            tls,
        })
    }

    pub(crate) fn settings(&self) -> &Smtp {
        &self.smtp
    }

    /// Opens a session: TCP with `TCP_NODELAY`, greeting and EHLO, then TLS
    /// and AUTH as configured, each step under the timeout.
    ///
    /// # Errors
    /// Refused, timed out, TLS or authentication failed.
    pub(crate) async fn connect(&self) -> Result<Session, ConnectError> {
        let target = self.smtp.describe();
        let retry = |what: &str, e: &dyn std::fmt::Display| {
            ConnectError::transient(format!("{what} {target}: {e}"))
        };
        let tcp = tokio::time::timeout(
            self.smtp.timeout,
            TcpStream::connect((self.smtp.host.as_str(), self.smtp.port)),
        )
        .await
        .map_err(|_| retry("cannot connect to", &"timed out"))?
        .map_err(|e| retry("cannot connect to", &e))?;
        tcp.set_nodelay(true)
            .map_err(|e| retry("cannot set TCP_NODELAY on", &e))?;

        let mut stream = Stream::Plain(tcp);
        if self.smtp.security == Security::Tls {
            stream = tokio::time::timeout(
                self.smtp.timeout,
                stream.encrypt(self.tls()?, &self.smtp.host),
            )
            .await
            .map_err(|_| retry("TLS handshake timed out with", &"no answer"))?
            .map_err(|e| self.tls_failure(&e))?;
        }
        let mut session = Session::new(stream, self.smtp.timeout, self.smtp.data_timeout);
        self.greet(&mut session).await?;
        if self.smtp.security == Security::Starttls {
            self.start_tls(&mut session).await?;
        }
        if let Some((user, password)) = &self.credentials {
            self.log_in(&mut session, user, password).await?;
        }
        Ok(session)
    }

    fn tls(&self) -> Result<&tokio_rustls::TlsConnector, ConnectError> {
        self.tls
            .as_ref()
            .ok_or_else(|| ConnectError::refused("TLS was not set up for this server".into()))
    }

    fn tls_failure(&self, e: &std::io::Error) -> ConnectError {
        let target = self.smtp.describe();
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            // What a server that speaks plain SMTP (or STARTTLS) sends back
            // to a TLS hello: its greeting, read as a TLS record.
            Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
                ConnectError::refused(format!(
                    "{target} did not answer in TLS: it speaks plain SMTP on port {}; if it offers STARTTLS (port 587, usually), set security = \"starttls\"",
                    self.smtp.port
                ))
            }
            Some(_) => ConnectError::refused(format!("TLS handshake failed with {target}: {e}")),
            None => ConnectError::transient(format!("TLS handshake failed with {target}: {e}")),
        }
    }

    /// The server's greeting, then EHLO.
    async fn greet(&self, session: &mut Session) -> Result<(), ConnectError> {
        let target = self.smtp.describe();
        let greeting = session
            .reply()
            .await
            .map_err(|e| ConnectError::transient(format!("no greeting from {target}: {e}")))?;
        if greeting.code != 220 {
            return Err(ConnectError::transient(format!(
                "{target} will not take mail now: {greeting}"
            )));
        }
        session
            .hello(&self.hello, self.smtp.pipelining)
            .await
            .map_err(|e| ConnectError::transient(format!("EHLO failed with {target}: {e}")))
    }

    async fn start_tls(&self, session: &mut Session) -> Result<(), ConnectError> {
        let target = self.smtp.describe();
        if !session.extensions.starttls {
            return Err(ConnectError::refused(format!(
                "{target} does not offer STARTTLS, and security = \"starttls\" requires it"
            )));
        }
        session
            .command("STARTTLS")
            .await
            .map_err(|e| ConnectError::transient(format!("STARTTLS failed with {target}: {e}")))?;
        session
            .encrypt(self.tls()?, &self.smtp.host)
            .await
            .map_err(|e| self.tls_failure(&e))?;
        session
            .hello(&self.hello, self.smtp.pipelining)
            .await
            .map_err(|e| {
                ConnectError::transient(format!("EHLO after STARTTLS failed with {target}: {e}"))
            })
    }

    /// AUTH PLAIN, or LOGIN when that is all the server offers. A password
    /// never goes over an unencrypted connection to a remote host.
    async fn log_in(
        &self,
        session: &mut Session,
        user: &str,
        password: &Secret,
    ) -> Result<(), ConnectError> {
        let target = self.smtp.describe();
        if !session.is_encrypted() && !is_loopback(&self.smtp.host) {
            return Err(ConnectError::refused(format!(
                "refusing to send the password to {target} unencrypted"
            )));
        }
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let offers = |m: &str| session.extensions.auth.iter().any(|a| a == m);
        let result = if offers("PLAIN") || !offers("LOGIN") {
            let token = b64(format!("\0{user}\0{}", password.expose()).as_bytes());
            session.command(&format!("AUTH PLAIN {token}")).await
        } else {
            match session.command("AUTH LOGIN").await {
                Ok(_) => match session.command(&b64(user.as_bytes())).await {
                    Ok(_) => session.command(&b64(password.expose().as_bytes())).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(reply) if reply.code == 235 => Ok(()),
            Ok(reply) => Err(ConnectError::refused(format!(
                "the login as `{user}` at {target} did not complete: {reply}"
            ))),
            Err(Failure::Reply(reply)) if reply.is_transient() => Err(ConnectError::transient(
                format!("{target} refused the login for now: {reply}"),
            )),
            Err(Failure::Reply(reply)) => Err(ConnectError::refused(format!(
                "{target} refused the login as `{user}`: {reply}; check the username and the password in {}",
                self.smtp.password_env
            ))),
            Err(e) => Err(ConnectError::transient(format!(
                "login failed with {target}: {e}"
            ))),
        }
    }
}
