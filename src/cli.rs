//! The command line: what each subcommand accepts. Parsing only; the work is
//! in [`crate::command`].

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Compose an HSJ Catch Up-style weekly email from plain-text news, preview it
/// and send it.
#[derive(Debug, Parser)]
#[command(name = "catchup", version, about)]
pub struct Cli {
    /// Run as if started in DIR (where `config/`, `seeds/` and `previews/` live).
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The newsletter settings file.
    #[arg(long, global = true, value_name = "FILE", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every story parsed from the seeds.
    Stories(StoriesArgs),
    /// Start the next issue: a skeleton file for the next send date.
    New(NewArgs),
    /// List every issue: its date, send moment and where it stands.
    Issues(IssuesArgs),
    /// What went out for one issue: sent, failed, deferred, uncertain, pending.
    Status(StatusArgs),
    /// Check an issue without writing anything.
    Check(CheckArgs),
    /// Write an issue's HTML, text and .eml previews, and the archive index.
    Preview(PreviewArgs),
    /// Send an issue: a test to a few addresses, or to the whole list; or,
    /// with --due, every issue whose moment has come (for cron).
    Send(SendArgs),
    /// Print a crontab line (or systemd units) for weekly sends.
    Cron(CronArgs),
    /// Run the web side: one-click unsubscribes and the public archive.
    Serve(ServeArgs),
    /// Write the public archive (index, issue pages, feed) as static files.
    Archive(ArchiveArgs),
    /// Make a DKIM key, or say what DNS must publish for the one in use.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// Check SPF, DKIM and DMARC through real DNS, as receivers will.
    Doctor(DoctorArgs),
    /// Read returned mail (bounces, complaints) into the suppression list.
    Bounces(BouncesArgs),
    /// List who is never sent to and why, or take an address off.
    Suppressed(SuppressedArgs),
    /// List the readers and where each stands; import a CSV; show, export
    /// or erase everything held about one reader.
    Readers(ReadersArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The DNS resolver to ask (default: the system's, /etc/resolv.conf).
    #[arg(long, value_name = "ADDR:PORT")]
    pub resolver: Option<std::net::SocketAddr>,
    /// Also check that each relay's address has reverse DNS that resolves
    /// back to it.
    #[arg(long)]
    pub reverse: bool,
}

#[derive(Debug, Args)]
pub struct BouncesArgs {
    /// Maildirs, mbox files, message files or folders of `.eml` files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Say what would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Say what each message is (its recipients, the reason, the outcome,
    /// the status and the words it was decided by, and whether it carries
    /// catchup's mark), without the list and without changing anything.
    #[arg(long, conflicts_with = "dry_run")]
    pub explain: bool,
    /// With --explain: one JSON object per message, a line each.
    #[arg(long, requires = "explain")]
    pub json: bool,
    /// The subscriber list the mail was sent to [default: the newsletter's].
    #[arg(long, value_name = "FILE")]
    pub subscribers: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SuppressedArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<SuppressedCommand>,
}

#[derive(Debug, Subcommand)]
pub enum SuppressedCommand {
    /// Take an address off the suppression list (an operator's correction,
    /// recorded as `removed`).
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub address: String,
    /// Also when the reader unsubscribed or complained themselves (only if
    /// they asked to be sent to again).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReadersArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<ReadersCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ReadersCommand {
    /// Add the readers in a CSV (an `email` column, optionally `name`),
    /// never bringing back anyone who left, was suppressed or erased.
    Import(ImportArgs),
    /// Everything catchup holds about one reader, file by file.
    Show(AddressArgs),
    /// The same, as JSON, for an access request.
    Export(AddressArgs),
    /// Remove one reader from every file catchup keeps, leaving only a
    /// keyed hash so that no import brings them back.
    Erase(AddressArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV to read.
    pub file: PathBuf,
    /// How these readers consented, kept in each one's consent record
    /// (e.g. "event sign-up sheet, NHS Confed 2026") [default: the file's
    /// name].
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Say what would be added and skipped, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct AddressArgs {
    pub address: String,
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Write a new private key (PEM, mode 0600) and print its DNS record.
    Keygen(KeygenArgs),
    /// Check `[dkim]`'s key and print the DNS record it needs.
    Check,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The selector the key will be published under.
    #[arg(long)]
    pub selector: String,
    /// `rsa` (2048 bits, what every receiver checks) or `ed25519` (RFC 8463).
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa)]
    pub algorithm: KeyAlgorithm,
    /// Where to write the key [default: dkim/<selector>.pem].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    Rsa,
    Ed25519,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (behind a reverse proxy that does TLS).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Print a systemd unit that runs the service, and exit.
    #[arg(long)]
    pub systemd: bool,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The folder to write into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct StoriesArgs {
    /// The folder of seed documents [default: the newsletter's, or `seeds`].
    #[arg(long, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
    /// Print a JSON array of the stories instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only the stories no issue has picked yet.
    #[arg(long)]
    pub unused: bool,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The issue's date [default: the next send date on the schedule].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct IssuesArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The issue file [default: the newest in the issues folder].
    pub issue: Option<PathBuf>,
    /// One reader's records instead: each attempt, the relay that took it
    /// and its reply (with the relay's queue id).
    #[arg(long, value_name = "EMAIL")]
    pub reader: Option<String>,
    /// Print a JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where ledgers and locks live [default: the newsletter's, `state/`],
    /// as for `send --state`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The issue file [default: the newest in the issues folder].
    pub issue: Option<PathBuf>,
    /// Exit 1 when there are warnings.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The issue file [default: the newest in the issues folder].
    pub issue: Option<PathBuf>,
    /// Where to write [default: the newsletter's previews folder].
    #[arg(long, value_name = "DIR", conflicts_with = "watch")]
    pub out: Option<PathBuf>,
    /// Serve a live preview on a local web page that updates as files are
    /// saved, instead of writing files.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: the address to listen on [default: 127.0.0.1 and a
    /// free port].
    #[arg(long, value_name = "ADDR", requires = "watch")]
    pub listen: Option<std::net::SocketAddr>,
    /// With --watch: open the page in your browser.
    #[arg(long, requires = "watch")]
    pub open: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).args(["to", "all", "due"])))]
pub struct SendArgs {
    /// The issue file (not with --due).
    #[arg(required_unless_present = "due", conflicts_with = "due")]
    pub issue: Option<PathBuf>,
    /// A test send to these addresses only (comma-separated), subject
    /// prefixed `[TEST]`, nothing recorded.
    #[arg(long, value_name = "ADDRESSES", value_delimiter = ',')]
    pub to: Vec<String>,
    /// The list send: every subscriber not yet sent this issue.
    #[arg(long)]
    pub all: bool,
    /// List-send every issue whose send moment has come and that is not yet
    /// completely sent. Safe to run from cron every few minutes.
    #[arg(long)]
    pub due: bool,
    /// With --due: send an issue even if its moment passed more than the
    /// grace period ago.
    #[arg(long, requires = "due")]
    pub late_ok: bool,
    /// Say who would get what, and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The subscriber CSV [default: the newsletter's].
    #[arg(long, value_name = "FILE")]
    pub subscribers: Option<PathBuf>,
    /// Where ledgers and locks live [default: the newsletter's, `state/`].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Send through this server for one run instead of `[smtp]`:
    /// smtp://host:port, smtp://host:587?tls=required, smtps://user@host.
    /// Repeat it for several relays. The password comes from the
    /// environment, never the URL. Without it, `CATCHUP_SMTP_URL` (from the
    /// environment or the environment file) stands in the same way.
    #[arg(long, value_name = "URL")]
    pub smtp: Vec<String>,
    /// Allow an unencrypted `--smtp` URL to a host that is not loopback.
    #[arg(long)]
    pub insecure: bool,
    /// `file` writes each message into previews/outbox/<issue>/ instead.
    #[arg(long, value_enum, default_value_t = Transport::Smtp)]
    pub transport: Transport,
    /// Send again to readers whose delivery an earlier run left uncertain.
    #[arg(long)]
    pub resend_uncertain: bool,
    /// Send again to readers an earlier run was refused for (5xx).
    #[arg(long)]
    pub retry_failed: bool,
    /// Send even though an earlier list send, under another name, carried
    /// the same subject and stories, or most of the stories.
    #[arg(long)]
    pub force: bool,
    /// Act as if it were this moment (RFC 3339): decides what is due and
    /// sets the `Date` header.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
pub struct CronArgs {
    /// Print a systemd service and timer instead of a crontab line.
    #[arg(long)]
    pub systemd: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Smtp,
    File,
}
