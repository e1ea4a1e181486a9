//! A private Postfix instance on loopback: its own configuration, queue and
//! mailboxes in a temporary folder, stopped when dropped. It needs root (the
//! Postfix master starts as root and drops to the `postfix` user) and the
//! Debian `postfix` package; without them, tests say so and skip.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// No log file for a Postfix that refuses every recipient: a burst of
/// reject lines overfills the postlog socket (10 datagrams), and postlogd,
/// logging its own warning to itself, then blocks for ever, and with it
/// `postfix abort`. Without `maillog_file` Postfix logs to syslog, which
/// drops what nobody reads.
const QUIET: &str = "maillog_file =\n";

/// The uid and gid Postfix's virtual delivery agent writes mailboxes as.
const MAILBOX_OWNER: u32 = 65534;

pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Postfix {
    /// Starts Postfix accepting mail for `hsj.example` and `nhs.example` on
    /// a free loopback port. `mailboxes` are the addresses that exist, each
    /// delivered to a Maildir; mail to anyone else in those domains is
    /// accepted, then bounced by the virtual delivery agent (a real DSN,
    /// sent to the envelope sender).
    ///
    /// # Errors
    /// Why Postfix cannot run here, for the test to report as skipped.
    pub fn start(mailboxes: &[&str]) -> Result<Postfix, String> {
        Postfix::start_with(mailboxes, "")
    }

    /// Starts Postfix as a relay: it accepts mail from loopback for any
    /// domain and hands it all to `127.0.0.1:next_hop`, as a relay tier in
    /// front of the internet would.
    pub fn relay_to(next_hop: u16) -> Result<Postfix, String> {
        Postfix::start_with(
            &[],
            &format!(
                "relayhost = [127.0.0.1]:{next_hop}\nvirtual_mailbox_domains =\nsmtp_tls_security_level = none\nsmtp_address_preference = ipv4\ndefault_destination_concurrency_limit = 4\n"
            ),
        )
    }

    /// Starts Postfix as a relay that will not relay for us: loopback is
    /// not among its networks, so every recipient gets Postfix's own
    /// `554 5.7.1 <...>: Relay access denied`, the answer of a relay whose
    /// allow-list lost the sending host.
    pub fn refusing_relay() -> Result<Postfix, String> {
        Postfix::start_with(
            &[],
            &format!(
                "virtual_mailbox_domains =\nmynetworks = 192.0.2.0/24\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n{QUIET}"
            ),
        )
    }

    /// Starts Postfix refusing our envelope sender at MAIL FROM (`553 5.7.1
    /// <...>: Sender address rejected: Access denied`), as a provider's
    /// relay does for a sending domain it has not verified.
    pub fn refusing_sender(domain: &str) -> Result<Postfix, String> {
        Postfix::start_with(
            &[],
            &format!(
                "virtual_mailbox_domains =\nsmtpd_delay_reject = no\nsmtpd_sender_restrictions = check_sender_access inline:{{ {domain}=REJECT }}\n{QUIET}"
            ),
        )
    }

    /// Starts Postfix as a receiving server that returns catchup's mail as
    /// it would the world's: `catchup@hsj.example` and `lee@nhs.example`
    /// exist, and anyone else at `nhs.example` is unknown; `trust.example`
    /// is relayed to `refusing`, `slow.example` to `dead` (nothing listens;
    /// a delay warning after 2 s). Two answers come from Postfix's `error`
    /// transport, in Postfix's own words, where this machine cannot give
    /// the cause: `full@nhs.example` is over quota (one mailbox's limit
    /// would need a filesystem of its own), and `nowhere.example` has no
    /// mail host (there is no DNS here to ask).
    pub fn returning(refusing: u16, dead: u16) -> Result<Postfix, String> {
        Postfix::start_with(
            &["catchup@hsj.example", "lee@nhs.example", "full@nhs.example"],
            &format!(
                "bounce_size_limit = 2000\nsmtp_tls_security_level = none\nsmtp_address_preference = ipv4\ndelay_warning_time = 2s\nqueue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\ntransport_maps = inline:{{ {{ full@nhs.example = error:5.2.2 Mailbox full: user is over quota }}, trust.example=smtp:[127.0.0.1]:{refusing}, slow.example=smtp:[127.0.0.1]:{dead}, {{ nowhere.example = error:5.4.4 Host or domain name not found. Name service error for name=nowhere.example type=MX: Host not found }} }}\n"
            ),
        )
    }

    fn start_with(mailboxes: &[&str], extra: &str) -> Result<Postfix, String> {
        if !Path::new("/usr/sbin/postfix").exists() {
            return Err("Postfix is not installed (apt-get install postfix)".into());
        }
        // Asked of `id`: the tests forbid the unsafe call to geteuid.
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("a private Postfix instance needs root".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("catchup-postfix")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        for sub in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir(root.join(sub)).map_err(|e| e.to_string())?;
        }
        chown(&root.join("data"), "postfix:postfix")?;
        chown(
            &root.join("mail"),
            &format!("{MAILBOX_OWNER}:{MAILBOX_OWNER}"),
        )?;
        let port = free_port()?;
        std::fs::write(root.join("conf/main.cf"), main_cf(root) + extra)
            .map_err(|e| e.to_string())?;
        std::fs::write(root.join("conf/master.cf"), master_cf(port)).map_err(|e| e.to_string())?;
        let map: String = mailboxes
            .iter()
            .map(|email| format!("{email} {}/\n", mailbox_path(email)))
            .collect();
        std::fs::write(root.join("conf/vmailbox"), map).map_err(|e| e.to_string())?;
        let postfix = Postfix { dir, port };
        let status = postfix.postfix("start")?;
        if !status.success() {
            return Err(format!("postfix start failed:\n{}", postfix.log()));
        }
        postfix.wait_until_listening()?;
        Ok(postfix)
    }

    fn postfix(&self, verb: &str) -> Result<std::process::ExitStatus, String> {
        Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg(verb)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| e.to_string())
    }

    fn wait_until_listening(&self) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "Postfix did not listen within 20 s:\n{}",
            self.log()
        ))
    }

    /// The Maildir of an address in `mailboxes`.
    pub fn maildir(&self, email: &str) -> PathBuf {
        self.dir.path().join("mail").join(mailbox_path(email))
    }

    /// Waits until the Maildir of `email` holds `count` new messages.
    pub fn wait_for_mail(&self, email: &str, count: usize, limit: Duration) -> Vec<PathBuf> {
        let new = self.maildir(email).join("new");
        let start = Instant::now();
        loop {
            let found: Vec<PathBuf> = std::fs::read_dir(&new)
                .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            if found.len() >= count {
                return found;
            }
            assert!(
                start.elapsed() < limit,
                "{} of {count} messages reached {email} within {limit:?}; Postfix said:\n{}",
                found.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops Postfix at once (`postfix abort`), as a relay that dies.
    pub fn stop(&self) {
        let _ = self.postfix("abort");
    }

    /// Postfix's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    /// `postfix abort`, and if the master is still there after 5 s (a
    /// Postfix wedged on its own log), SIGKILL to its process group.
    fn drop(&mut self) {
        let pid_file = self.dir.path().join("queue/pid/master.pid");
        let master = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let abort = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg("abort")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let start = Instant::now();
        while pid_file.exists() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(master) = master.filter(|_| pid_file.exists()) {
            let _ = Command::new("kill")
                .args(["-KILL", &master.to_string()])
                .status();
        }
        if let Ok(mut abort) = abort {
            let _ = abort.kill();
            let _ = abort.wait();
        }
    }
}

fn mailbox_path(email: &str) -> String {
    let (user, domain) = email.split_once('@').expect("an address");
    format!("{domain}/{user}")
}

fn chown(path: &Path, owner: &str) -> Result<(), String> {
    let status = Command::new("chown")
        .arg(owner)
        .arg(path)
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("chown {owner} {} failed", path.display()))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn main_cf(root: &Path) -> String {
    let root = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = hsj.example nhs.example
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/conf/vmailbox
virtual_uid_maps = static:{MAILBOX_OWNER}
virtual_gid_maps = static:{MAILBOX_OWNER}
smtpd_reject_unlisted_recipient = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
smtputf8_enable = yes
alias_maps =
alias_database =
biff = no
"
    )
}

fn master_cf(port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
    )
}
