//! The DNS questions `doctor` asks, through hickory-resolver: the system's
//! resolver, or the one `--resolver` names.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};

/// What a question found.
pub(crate) type Answer<T> = Result<Vec<T>, DnsError>;

/// Why a question has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DnsError {
    /// The name has no such records (or does not exist).
    None,
    /// The resolver did not answer, or failed.
    Failed(String),
}

/// A resolver, and a runtime to ask it on.
pub(crate) struct Dns {
    resolver: TokioResolver,
    runtime: tokio::runtime::Runtime,
    /// Set when the resolver did not answer in time: it is not asked
    /// again, so that a dead resolver costs one timeout, not one a
    /// question.
    silent: std::cell::RefCell<Option<String>>,
    /// Questions asked so far: at most [`MAX_QUESTIONS`], in at most
    /// [`MAX_TIME`] from `started`.
    asked: std::cell::Cell<usize>,
    started: std::time::Instant,
}

/// However slowly each answer comes, doctor gives up after this long.
const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// A newsletter's records take a few dozen questions; a tree of includes
/// and MX hosts built to be slow takes thousands. Past this, doctor stops.
const MAX_QUESTIONS: usize = 300;

impl Dns {
    /// The system's resolver (`/etc/resolv.conf`), or `server`.
    ///
    /// # Errors
    /// The system's configuration cannot be read.
    pub(crate) fn new(server: Option<SocketAddr>) -> Result<Dns, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the resolver: {e}"))?;
        let mut options = ResolverOpts::default();
        options.timeout = std::time::Duration::from_secs(5);
        options.attempts = 2;
        // Each answer as the server gives it now.
        options.cache_size = 0;
        let builder = match server {
            Some(server) => {
                let group =
                    NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], group),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's resolver settings: {e}"))?,
        };
        let resolver = builder.with_options(options).build();
        Ok(Dns {
            resolver,
            runtime,
            silent: std::cell::RefCell::new(None),
            asked: std::cell::Cell::new(0),
            started: std::time::Instant::now(),
        })
    }

    /// `question`'s answer, unless the resolver has fallen silent.
    fn ask<T, F>(&self, question: F) -> Result<T, DnsError>
    where
        F: std::future::Future<Output = Result<T, ResolveError>>,
    {
        if let Some(why) = self.silent.borrow().as_ref() {
            return Err(DnsError::Failed(format!("{why} (not asked again)")));
        }
        if self.started.elapsed() > MAX_TIME {
            return Err(DnsError::Failed(format!(
                "the questions took over {} s in all; the resolver is too slow to follow the records",
                MAX_TIME.as_secs()
            )));
        }
        if self.asked.get() >= MAX_QUESTIONS {
            return Err(DnsError::Failed(format!(
                "more than {MAX_QUESTIONS} questions for one check; the records are too tangled to follow"
            )));
        }
        self.asked.set(self.asked.get() + 1);
        self.runtime.block_on(question).map_err(|e| {
            use hickory_resolver::proto::ProtoErrorKind;
            use hickory_resolver::proto::op::ResponseCode;
            // "No records" only from an answer that says so: a server
            // failure (SERVFAIL, REFUSED) says nothing of the name.
            if let Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) =
                e.proto().map(|p| p.kind())
            {
                if matches!(
                    response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) {
                    return DnsError::None;
                }
                return DnsError::Failed(format!("the resolver answered {response_code}"));
            }
            let timeout = e.proto().is_some_and(|p| {
                matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout)
            });
            if timeout {
                *self.silent.borrow_mut() = Some(format!("the resolver did not answer: {e}"));
            }
            DnsError::Failed(e.to_string())
        })
    }

    /// The TXT records at `name`, each one string (its parts joined).
    pub(crate) fn txt(&self, name: &str) -> Answer<String> {
        let found = self.ask(self.resolver.txt_lookup(absolute(name)));
        answer(found.map(|lookup| {
            lookup
                .iter()
                .map(|txt| {
                    txt.iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect()
        }))
    }

    /// The addresses of `host` (A and AAAA).
    pub(crate) fn ips(&self, host: &str) -> Answer<IpAddr> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let found = self.ask(self.resolver.lookup_ip(absolute(host)));
        answer(found.map(|lookup| lookup.iter().collect()))
    }

    /// The MX hosts of `domain`, by preference.
    pub(crate) fn mx(&self, domain: &str) -> Answer<String> {
        let found = self.ask(self.resolver.mx_lookup(absolute(domain)));
        answer(found.map(|lookup| {
            let mut hosts: Vec<(u16, String)> = lookup
                .iter()
                .map(|mx| (mx.preference(), mx.exchange().to_utf8()))
                .collect();
            hosts.sort();
            hosts
                .into_iter()
                .map(|(_, host)| host.trim_end_matches('.').to_string())
                .collect()
        }))
    }

    /// The names `ip` reverses to.
    pub(crate) fn ptr(&self, ip: IpAddr) -> Answer<String> {
        let found = self.ask(self.resolver.reverse_lookup(ip));
        answer(found.map(|lookup| {
            lookup
                .iter()
                .map(|name| name.to_utf8().trim_end_matches('.').to_string())
                .collect()
        }))
    }
}

/// `name` with its final dot: never searched for under a local domain.
fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn answer<T>(found: Result<Vec<T>, DnsError>) -> Answer<T> {
    match found {
        Ok(records) if records.is_empty() => Err(DnsError::None),
        other => other,
    }
}
