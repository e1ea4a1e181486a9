//! A private Knot DNS server on loopback: Debian's `knot`, authoritative
//! for the zones a test writes, with its own configuration, storage and
//! run folder in a temporary folder; stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KNOTD: &str = "/usr/sbin/knotd";

pub struct Knot {
    _dir: tempfile::TempDir,
    pub port: u16,
    daemon: Child,
}

impl Knot {
    /// Starts Knot on a free loopback port, serving `zones` (each a domain
    /// and its zone file's text).
    ///
    /// # Errors
    /// Why Knot cannot run here, for the test to report as skipped.
    pub fn start(zones: &[(String, String)]) -> Result<Knot, String> {
        if !Path::new(KNOTD).exists() {
            return Err(format!("Knot is not installed at {KNOTD} (Debian: knot)"));
        }
        let dir = tempfile::Builder::new()
            .prefix("catchup-knot")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path().to_path_buf();
        for (domain, text) in zones {
            std::fs::write(root.join(format!("{domain}.zone")), text).map_err(|e| e.to_string())?;
        }
        // A port free for UDP may be taken for TCP by another test's
        // server, or taken by one between the check and knotd's bind:
        // then knotd exits, and another port is tried.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let mut config = format!(
                "server:\n    rundir: \"{root}\"\n    listen: 127.0.0.1@{port}\ndatabase:\n    storage: \"{root}\"\nlog:\n  - target: stderr\n    any: warning\nzone:\n",
                root = root.display()
            );
            for (domain, _) in zones {
                let file = root.join(format!("{domain}.zone"));
                config += &format!("  - domain: {domain}\n    file: \"{}\"\n", file.display());
            }
            let conf = root.join("knot.conf");
            std::fs::write(&conf, config).map_err(|e| e.to_string())?;
            let daemon = Command::new(KNOTD)
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start knotd: {e}"))?;
            let mut daemon = daemon;
            match wait_for(port, &mut daemon, &zones[0].0) {
                Ok(()) => {
                    return Ok(Knot {
                        _dir: dir,
                        port,
                        daemon,
                    });
                }
                Err(why) => {
                    last = why;
                    let _ = daemon.kill();
                    let _ = daemon.wait();
                }
            }
        }
        Err(last)
    }
}

/// Waits until Knot answers on `port` (TCP); an error at once if knotd has
/// exited (it could not bind).
fn wait_for(port: u16, daemon: &mut std::process::Child, domain: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            return Err(format!("knotd exited ({status}) on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("knotd did not answer for {domain} within 20 s"))
}

/// A loopback port free for both UDP and TCP just now.
fn free_port() -> Result<u16, String> {
    loop {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
