//! Postfix's `smtp-sink` on a loopback port: a second real SMTP server,
//! written by Postfix's authors, that (unlike aiosmtpd) offers PIPELINING.
//! `-d` dumps each message it takes to a file, with the envelope recipient
//! in an `X-Rcpt-Args` header.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running smtp-sink, killed when dropped.
pub struct Sink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// Where Debian's postfix package puts smtp-sink.
fn program() -> Option<PathBuf> {
    ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Sink {
    /// Starts smtp-sink, or says why it cannot.
    pub fn start() -> Result<Sink, String> {
        let program =
            program().ok_or("smtp-sink is not installed (Debian: apt-get install postfix)")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // smtp-sink refuses to run as root without -u; the user it becomes
        // must be able to write the dumps.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut command = Command::new(program);
        if std::env::var("USER").as_deref() == Ok("root") || is_root() {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg("-d")
            .arg(dir.path().join("%s."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let sink = Sink { port, dir, child };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(5) {
                return Err("smtp-sink did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sink)
    }

    /// Every message taken: (envelope recipient, message bytes).
    pub fn messages(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path())
            .expect("dump dir")
            .flatten()
        {
            let bytes = std::fs::read(entry.path()).expect("dump");
            let text = String::from_utf8_lossy(&bytes);
            let rcpt = text
                .lines()
                .find_map(|l| l.strip_prefix("X-Rcpt-Args: <"))
                .and_then(|l| l.split('>').next())
                .unwrap_or_default()
                .to_string();
            out.push((rcpt, bytes));
        }
        out
    }

    /// Waits until `count` messages are dumped.
    pub fn wait_for(&self, count: usize) {
        let start = Instant::now();
        while self.messages().len() < count {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "smtp-sink saw {} of {count}",
                self.messages().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
