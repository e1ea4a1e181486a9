//! A private Exim daemon on loopback: Debian's `exim4-daemon-light`,
//! unpacked into /opt/exim4 by `.ci/run` (installed, it would replace
//! Postfix, which other tests need), with its own configuration, spool,
//! log and Maildir in a temporary folder; stopped when dropped. It accepts
//! every recipient, as a real MX does before it knows better, and writes
//! its own returns to `catchup@hsj.example`:
//!
//! - `nhs.example`: `lee` exists; `full` answers "552 5.2.2 Mailbox full";
//!   anyone else has no router ("Unrouteable address").
//! - `nowhere.example`: no router at all, as for a domain with no DNS.
//! - `trust.example`: relayed to `refusing` (a server that refuses).
//! - `slow.example`: relayed to `dead` (nothing listens), with a delay
//!   warning after 3 s (Exim's default sends none for mail with a
//!   `List-Id`, as catchup's has: `delay_warning_condition` says yes).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXIM: &str = "/opt/exim4/usr/sbin/exim4";

pub struct Exim {
    pub dir: tempfile::TempDir,
    pub port: u16,
    daemon: Child,
}

impl Exim {
    /// Starts Exim on a free loopback port.
    ///
    /// # Errors
    /// Why Exim cannot run here, for the test to report as skipped.
    pub fn start(refusing: u16, dead: u16) -> Result<Exim, String> {
        if !Path::new(EXIM).exists() {
            return Err(format!(
                "Exim is not unpacked at {EXIM} (.ci/run: apt-get download exim4-daemon-light exim4-base exim4-config; dpkg-deb -x)"
            ));
        }
        let id = Command::new("id").arg("Debian-exim").output();
        if !id.is_ok_and(|o| o.status.success()) {
            return Err("the Debian-exim user Exim runs as does not exist".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("catchup-exim")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        for sub in ["spool", "log", "mail"] {
            std::fs::create_dir(root.join(sub)).map_err(|e| e.to_string())?;
            let status = Command::new("chown")
                .args(["Debian-exim:Debian-exim"])
                .arg(root.join(sub))
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("cannot give Exim its folders".into());
            }
        }
        let port = free_port()?;
        std::fs::write(root.join("exim.conf"), config(root, port, refusing, dead))
            .map_err(|e| e.to_string())?;
        let daemon = Command::new(EXIM)
            .arg("-C")
            .arg(root.join("exim.conf"))
            .args(["-bdf", "-q1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Exim: {e}"))?;
        let exim = Exim { dir, port, daemon };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!("Exim did not listen within 20 s:\n{}", exim.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(exim)
    }

    /// The Maildir every local delivery goes to (catchup's returns, and
    /// lee's copy).
    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("mail/inbox")
    }

    /// Waits until the inbox holds `count` new messages.
    pub fn wait_for_mail(&self, count: usize, limit: Duration) {
        let new = self.inbox().join("new");
        let start = Instant::now();
        loop {
            let found = std::fs::read_dir(&new).map_or(0, |entries| entries.count());
            if found >= count {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{found} of {count} messages reached Exim's inbox within {limit:?}; Exim said:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Exim's main log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/mainlog")).unwrap_or_default()
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn config(root: &Path, port: u16, refusing: u16, dead: u16) -> String {
    let root = root.display();
    format!(
        "keep_environment =
exim_path = {EXIM}
primary_hostname = mx.test.example
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
pid_file_path = {root}/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
qualify_domain = hsj.example
acl_smtp_rcpt = accept
delay_warning = 3s
delay_warning_condition = yes
host_lookup =
rfc1413_hosts =

begin routers
full:
  driver = redirect
  domains = nhs.example
  local_parts = full
  data = :fail: 552 5.2.2 Mailbox full
  allow_fail
refused:
  driver = manualroute
  domains = trust.example
  route_list = * 127.0.0.1::{refusing} byname
  self = send
  transport = remote
slow:
  driver = manualroute
  domains = slow.example
  route_list = * 127.0.0.1::{dead} byname
  self = send
  transport = remote
returns:
  driver = accept
  domains = hsj.example
  local_parts = catchup
  transport = maildir
known:
  driver = accept
  domains = nhs.example
  local_parts = lee
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {root}/mail/inbox
  maildir_format
  create_directory
  user = Debian-exim
  group = Debian-exim
  envelope_to_add
  return_path_add
remote:
  driver = smtp
  hosts_avoid_tls = *

begin retry
slow.example  *  F,1m,1s
*  *  F,1m,10s
"
    )
}
