//! A real SMTP server for the send tests: aiosmtpd, driven by
//! `tests/smtp/server.py`, on a loopback port.
//!
//! Python with aiosmtpd is found in this order: `$CATCHUP_TEST_PYTHON`;
//! `/usr/bin/python3` or `python3` if it can import aiosmtpd (Debian's
//! python3-aiosmtpd, which `.ci/run` installs); otherwise a virtualenv
//! under `target/` that gets aiosmtpd from PyPI once. `cargo test` on a fresh
//! machine needs nothing else.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::repo;

/// The aiosmtpd release the bootstrap installs.
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

fn has_aiosmtpd(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python that can import aiosmtpd.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(p) = std::env::var_os("CATCHUP_TEST_PYTHON") {
            return PathBuf::from(p);
        }
        for candidate in ["/usr/bin/python3", "python3"] {
            if has_aiosmtpd(Path::new(candidate)) {
                return PathBuf::from(candidate);
            }
        }
        let venv = repo().join("target/test-venv");
        let venv_python = venv.join("bin/python3");
        if !has_aiosmtpd(&venv_python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(&venv_python)
                    .args(["-m", "pip", "install", "--quiet", AIOSMTPD])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(
                made && has_aiosmtpd(&venv_python),
                "the send tests need Python 3 with aiosmtpd: install python3-aiosmtpd \
                 (Debian), or `pip install {AIOSMTPD}`, or set CATCHUP_TEST_PYTHON"
            );
        }
        venv_python
    })
}

/// One accepted message, as the server logged it.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub n: u64,
    pub rcpt: String,
    pub rcpts: Vec<String>,
    pub mail_from: String,
    /// The session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// Who logged in, if anyone.
    pub login: Option<String>,
}

/// A running aiosmtpd, killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts a server with the given fault flags (see tests/smtp/server.py).
    pub fn start(flags: &[&str]) -> SmtpServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, flags)
    }

    /// Starts a server that appends to an earlier server's record, so that
    /// deliveries can be counted across a restart.
    pub fn restart(mut previous: SmtpServer, flags: &[&str]) -> SmtpServer {
        previous.kill();
        let dir = std::mem::replace(&mut previous.dir, tempfile::tempdir().expect("temp dir"));
        Self::start_in(dir, flags)
    }

    fn start_in(dir: tempfile::TempDir, flags: &[&str]) -> SmtpServer {
        let mut child = Command::new(python())
            .arg(repo().join("tests/smtp/server.py"))
            .arg("--out")
            .arg(dir.path())
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("server output");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        SmtpServer { port, dir, child }
    }

    /// Every message accepted so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        let text =
            std::fs::read_to_string(self.dir.path().join("deliveries.jsonl")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a delivery record"))
            .collect()
    }

    /// The raw bytes of accepted message `n` (1-based).
    pub fn message(&self, n: u64) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("{n}.eml"))).expect("message file")
    }

    /// Waits until at least `count` messages have been accepted.
    pub fn wait_for(&self, count: usize, limit: Duration) {
        let start = Instant::now();
        while self.deliveries().len() < count {
            assert!(
                start.elapsed() < limit,
                "the server saw {} of {count} messages",
                self.deliveries().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a message to `rcpt` has been accepted.
    pub fn wait_for_rcpt(&self, rcpt: &str, limit: Duration) {
        let start = Instant::now();
        while !self.deliveries().iter().any(|d| d.rcpt == rcpt) {
            assert!(start.elapsed() < limit, "nothing reached {rcpt}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server at once, as if the machine went away.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// True once the server process has exited.
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// An `--smtp` URL for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A throwaway CA and a certificate for `localhost` signed by it, as PEM
/// files in `dir`: (ca, server chain, server key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);

    let leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");

    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    (
        write("ca.pem", ca_cert.pem()),
        write("server.pem", leaf_cert.pem()),
        write("server.key", leaf_key.serialize_pem()),
    )
}
