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
        let root = dir.path();
        let port = {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            socket.local_addr().map_err(|e| e.to_string())?.port()
        };
        let mut config = format!(
            "server:\n    rundir: \"{root}\"\n    listen: 127.0.0.1@{port}\ndatabase:\n    storage: \"{root}\"\nlog:\n  - target: stderr\n    any: warning\nzone:\n",
            root = root.display()
        );
        for (domain, text) in zones {
            let file = root.join(format!("{domain}.zone"));
            std::fs::write(&file, text).map_err(|e| e.to_string())?;
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
        let knot = Knot {
            _dir: dir,
            port,
            daemon,
        };
        knot.wait_for(&zones[0].0)?;
        Ok(knot)
    }

    /// Waits until Knot answers for `domain` (its SOA), over TCP.
    fn wait_for(&self, domain: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("knotd did not answer for {domain} within 20 s"))
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
