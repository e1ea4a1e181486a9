//! Helpers shared by the integration tests: a scratch project and a runner
//! for the real `catchup` binary.

#![allow(dead_code)]

pub mod browser;
pub mod exim;
pub mod knot;
pub mod mime;
pub mod postfix;
pub mod sink;
pub mod smtp;
pub mod watch;
pub mod web;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The link secret every test run of catchup gets (`CATCHUP_SECRET`).
pub const SECRET: &str = "test secret: 0123456789abcdef0123456789abcdef";

/// The fixed key `preview` and `check` sign links with (README: "Links no
/// one can forge").
pub const PREVIEW_KEY: &str = "catchup preview key: links made with it work nowhere";

/// HMAC-SHA256 of a label and the lower-cased address under [`SECRET`],
/// computed here with the hmac crate, apart from catchup's own code.
fn hmac(label: &[u8], email: &str) -> Vec<u8> {
    hmac_with(SECRET, label, email)
}

fn hmac_with(key: &str, label: &[u8], email: &str) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(label);
    mac.update(email.to_lowercase().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A reader's id in Message-IDs under `key` ([`SECRET`] for sends,
/// [`PREVIEW_KEY`] for previews): 16 hex digits of HMAC, not of the address.
pub fn reader_id(key: &str, email: &str) -> String {
    hmac_with(key, b"catchup message-id v1\0", email)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reader's unsubscribe token: 16 bytes of HMAC, base64url.
pub fn token(email: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(&hmac(b"catchup unsubscribe v1\0", email)[..16])
}

/// A sign-up's confirmation token with its expiry at `expires` (Unix
/// seconds): `<id>.<expires>.<16 bytes of HMAC, base64url>`.
pub fn confirm_token(id: &str, expires: i64) -> String {
    use base64::Engine as _;
    let tag = hmac(b"catchup confirm v1\0", &format!("{id}\0{expires}"));
    format!(
        "{id}.{expires}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..16])
    )
}

/// A reader's token in a VERP return path: the same 16 bytes, in hex.
pub fn verp_token(email: &str) -> String {
    hmac(b"catchup unsubscribe v1\0", email)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The example newsletter's unsubscribe URL for a reader, as the example
/// issue's mail has it.
pub fn unsubscribe_url(email: &str) -> String {
    format!("https://news.hsj.example/u/{}?i=2018-07-27", token(email))
}

/// The example newsletter's mailto unsubscribe address for a reader.
pub fn unsubscribe_mailto(email: &str) -> String {
    format!("unsubscribe+{}@hsj.example", verp_token(email))
}

/// The unsubscribe URL a preview shows for a reader (signed with
/// [`PREVIEW_KEY`], so it works nowhere).
pub fn preview_unsubscribe_url(email: &str) -> String {
    use base64::Engine as _;
    let tag = hmac_with(PREVIEW_KEY, b"catchup unsubscribe v1\0", email);
    format!(
        "https://news.hsj.example/u/{}?i=2018-07-27",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..16])
    )
}

/// The mailto unsubscribe address a preview shows for a reader.
pub fn preview_unsubscribe_mailto(email: &str) -> String {
    let tag = hmac_with(PREVIEW_KEY, b"catchup unsubscribe v1\0", email);
    let hex: String = tag[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("unsubscribe+{hex}@hsj.example")
}

/// The repository root (where `seeds/` and `config/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A throwaway project folder, removed when dropped.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty folder.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The tests' own example project, `tests/fixtures/project/`: seeds,
    /// settings and one issue, as shipped. Never the working copy's
    /// `config/` or `seeds/`, which an operator edits (and fills with a
    /// real list and real keys).
    /// See: issue 18, item 15.
    pub fn example() -> Project {
        let project = Project::empty();
        copy_dir(&repo().join("tests/fixtures/project"), project.path());
        project
    }

    /// The fixture's seeds and settings, and `issue` as the only issue
    /// file, `config/issues/test.toml`.
    pub fn with_issue(issue: &str) -> Project {
        let project = Project::example();
        std::fs::remove_file(project.path().join("config/issues/2018-07-27.toml"))
            .expect("remove the example issue");
        project.write("config/issues/test.toml", issue);
        project
    }

    /// Runs `catchup` with `args`, for checking with [`Outcome`]'s methods.
    #[track_caller]
    pub fn expect(&self, args: &[&str]) -> Outcome {
        let (code, stdout, stderr) = self.run(args);
        Outcome::new(code, stdout, stderr)
    }

    /// Points `[smtp]` at a loopback server, with short delays so that
    /// retries are quick; `extra` adds or overrides settings.
    pub fn use_smtp(&self, port: u16, extra: &str) {
        let mut settings = self.read("config/newsletter.toml");
        settings.push_str(&format!(
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n{extra}\n"
        ));
        for (key, value) in [("retry_delay_ms", "20"), ("timeout_secs", "5")] {
            if !extra.contains(key) {
                settings.push_str(&format!("{key} = {value}\n"));
            }
        }
        self.write("config/newsletter.toml", settings);
    }

    /// Writes `config/subscribers.csv` with `n` readers
    /// (`reader<i>@nhs.example`, "Reader <i>"), then `extra` rows.
    pub fn subscribers(&self, n: usize, extra: &str) -> Vec<String> {
        let mut csv = String::from("email,name,team\n");
        let mut emails = Vec::new();
        for i in 1..=n {
            let email = format!("reader{i}@nhs.example");
            csv.push_str(&format!("{email},Reader {i},team{}\n", i % 7));
            emails.push(email);
        }
        csv.push_str(extra);
        self.write("config/subscribers.csv", csv);
        emails
    }

    /// Adds `seeds/009_long.txt`, one story (`009/a-very-long-story`) of
    /// 600 paragraphs: long enough for Gmail's clip.
    pub fn long_story(&self) {
        let paragraph =
            "Trusts reported a long list of pressures this week, and regulators responded. ";
        let body: String = (0..600)
            .map(|i| format!("{paragraph}Point {i}.\n\n"))
            .collect();
        self.write(
            "seeds/009_long.txt",
            format!("Title\n\nA very long story\n\n{body}"),
        );
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative`, creating folders.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        path
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// Runs `catchup` with `args`, returning (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.catchup().args(args).output().expect("run catchup");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).expect("utf8 stdout"),
            String::from_utf8(out.stderr).expect("utf8 stderr"),
        )
    }

    /// `catchup` run in this project with the test secret and nothing else
    /// from the caller's environment (an operator's shell may hold
    /// `CATCHUP_SMTP_URL`, passwords or keys). See: issue 18, item 15.
    pub fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("catchup"));
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.path())
            .env("CATCHUP_SECRET", SECRET);
        command
    }

    /// Runs `catchup` with its heap limited to `bytes` (`prlimit --data`),
    /// within `limit`: a run that needs more memory fails, one that hangs
    /// is killed.
    #[track_caller]
    pub fn run_bounded(&self, bytes: u64, limit: std::time::Duration, args: &[&str]) -> Outcome {
        let inner = self.command();
        let mut command = std::process::Command::new("prlimit");
        command
            .arg(format!("--data={bytes}"))
            .arg("--")
            .arg(inner.get_program())
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
        let out = assert_cmd::Command::from_std(command)
            .timeout(limit)
            .output()
            .expect("prlimit");
        Outcome::new(
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Makes a DKIM key with `dkim keygen`, checks its whole output, and
    /// returns the TXT record it says to publish.
    #[track_caller]
    pub fn keygen(&self, selector: &str, algorithm: &str) -> String {
        let k = if algorithm == "ed25519" {
            "ed25519"
        } else {
            "rsa"
        };
        let out = self
            .expect(&[
                "dkim",
                "keygen",
                "--selector",
                selector,
                "--algorithm",
                algorithm,
            ])
            .code(0)
            .stderr_is("")
            .stdout_matches(&format!(
                "wrote dkim/{selector}.pem (mode 600)

Publish this TXT record at {selector}._domainkey.<your domain>:

v=DKIM1; k={k}; p=[..]

Then add to config/newsletter.toml:

[dkim]
domain = \"<your From domain>\"
selector = \"{selector}\"
algorithm = \"{algorithm}\"
private_key = \"dkim/{selector}.pem\"
"
            ));
        out.stdout()
            .lines()
            .find(|l| l.starts_with("v=DKIM1; "))
            .expect("the record")
            .to_string()
    }

    /// `catchup` as a plain process, for tests that start it in the
    /// background and kill it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start catchup")
    }

    /// `catchup` as a plain process with its output piped, for tests that
    /// signal it and then read what it said.
    pub fn spawn_piped(&self, args: &[&str]) -> std::process::Child {
        self.command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start catchup")
    }

    /// Makes a DKIM key (selector `cu1`) and signs with it (`[dkim]`);
    /// returns the DNS record `dkim keygen` printed.
    /// Signs with a `[[dkim]]` key for each (selector, algorithm); the
    /// selectors and their records.
    pub fn sign_with_dkim_keys(&self, keys: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut settings = self.read("config/newsletter.toml");
        let mut records = Vec::new();
        for (selector, algorithm) in keys {
            records.push((selector.to_string(), self.keygen(selector, algorithm)));
            settings += &format!(
                "\n[[dkim]]\ndomain = \"hsj.example\"\nselector = \"{selector}\"\nalgorithm = \"{algorithm}\"\nprivate_key = \"dkim/{selector}.pem\"\n"
            );
        }
        self.write("config/newsletter.toml", settings);
        records
    }

    pub fn sign_with_dkim(&self, algorithm: &str) -> String {
        let record = self.keygen("cu1", algorithm);
        let settings = self.read("config/newsletter.toml")
            + &format!(
                "\n[dkim]\ndomain = \"hsj.example\"\nselector = \"cu1\"\nalgorithm = \"{algorithm}\"\nprivate_key = \"dkim/cu1.pem\"\n"
            );
        self.write("config/newsletter.toml", settings);
        record
    }

    /// `catchup` started in this project.
    pub fn catchup(&self) -> Command {
        Command::from_std(self.command())
    }
}

/// The README's ```text block whose output starts with `first`: the
/// command it shows (the words after `$ catchup`, if it shows one) and the
/// output, each line ending in a newline. A test compares the output whole,
/// so that what the README shows is what catchup prints.
pub fn readme_block(first: &str) -> (Vec<String>, String) {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let mut blocks = readme.split("```text\n").skip(1).map(|rest| {
        let block = rest.split("```").next().unwrap_or("");
        match block.strip_prefix("$ catchup ") {
            Some(shown) => {
                let (command, output) = shown.split_once('\n').unwrap_or((shown, ""));
                let words = command.split_whitespace().map(str::to_string).collect();
                (words, output.to_string())
            }
            None => (Vec::new(), block.to_string()),
        }
    });
    blocks
        .find(|(_, output)| output.starts_with(first))
        .unwrap_or_else(|| panic!("the README has no block starting {first:?}"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Makes a FIFO (named pipe) at `path`: what a hostile user plants where a
/// file belongs, so that a reader of it would wait for ever.
pub fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Files under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                for sub in files_under(&path) {
                    out.push(format!("{}/{sub}", entry.file_name().to_string_lossy()));
                }
            } else {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A finished run, checked fluently:
/// `project.expect(&["check"]).code(2).stderr_is("error: ...\n")`.
///
/// Whole outputs are the default: whatever a test does not check is
/// checked when the outcome is dropped, as exit code 0 and empty stdout and
/// stderr. So a run that prints a warning nobody expected, or fails where
/// the test only looked at its output, fails the test. A fragment check
/// (`stderr_has`), or reading a stream to check it some other way
/// (`stdout()`), is the explicit exception for that stream. Every failed
/// check prints the whole output.
#[derive(Debug)]
pub struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    checked: std::cell::Cell<Checked>,
    /// Where the test ran it, for the message about unchecked output.
    at: &'static std::panic::Location<'static>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Checked {
    code: bool,
    stdout: bool,
    stderr: bool,
}

impl Outcome {
    #[track_caller]
    pub fn new(code: i32, stdout: String, stderr: String) -> Outcome {
        Outcome {
            code,
            stdout,
            stderr,
            checked: std::cell::Cell::default(),
            at: std::panic::Location::caller(),
        }
    }

    fn mark(&self, f: impl FnOnce(&mut Checked)) {
        let mut checked = self.checked.get();
        f(&mut checked);
        self.checked.set(checked);
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Outcome {
        assert_eq!(self.code, expected, "exit code\n{self}");
        self.mark(|c| c.code = true);
        self
    }

    #[track_caller]
    pub fn stdout_is(self, expected: &str) -> Outcome {
        assert_eq!(self.stdout, expected, "stdout\n{self}");
        self.mark(|c| c.stdout = true);
        self
    }

    #[track_caller]
    pub fn stderr_is(self, expected: &str) -> Outcome {
        assert_eq!(self.stderr, expected, "stderr\n{self}");
        self.mark(|c| c.stderr = true);
        self
    }

    /// stdout is `pattern` whole, where `[..]` in a line stands for any
    /// text within that line (a time, a port, a rate) and a line `...`
    /// for any number of lines.
    #[track_caller]
    pub fn stdout_matches(self, pattern: &str) -> Outcome {
        assert!(
            matches(pattern, &self.stdout),
            "stdout is not\n{pattern}\n{self}"
        );
        self.mark(|c| c.stdout = true);
        self
    }

    /// stderr is `pattern` whole, as in [`Outcome::stdout_matches`].
    #[track_caller]
    pub fn stderr_matches(self, pattern: &str) -> Outcome {
        assert!(
            matches(pattern, &self.stderr),
            "stderr is not\n{pattern}\n{self}"
        );
        self.mark(|c| c.stderr = true);
        self
    }

    /// The whole output of a first list send that reached all `readers`
    /// with nothing skipped or failed.
    #[track_caller]
    pub fn sent_to_all(self, issue: &str, readers: usize) -> Outcome {
        self.sent_skipping(issue, readers, 0)
    }

    /// The whole output of a first list send that reached all `readers`,
    /// after `warning` (a pattern, as in [`Outcome::stderr_matches`]).
    #[track_caller]
    pub fn sent_with_warning(self, issue: &str, readers: usize, warning: &str) -> Outcome {
        self.sent_as(issue, readers, 0, &format!("{warning}\n"))
    }

    /// The whole output of a first list send that reached all `readers`
    /// but the `suppressed` it skipped.
    #[track_caller]
    pub fn sent_skipping(self, issue: &str, readers: usize, suppressed: usize) -> Outcome {
        self.sent_as(issue, readers, suppressed, "")
    }

    #[track_caller]
    fn sent_as(self, issue: &str, readers: usize, suppressed: usize, before: &str) -> Outcome {
        self.code(0)
            .stdout_matches(&format!(
                "{issue}: sent {readers}, failed 0, deferred 0, uncertain 0, not tried 0; skipped {suppressed} suppressed, 0 invalid row(s), 0 duplicate(s); 0 sent earlier; [..] s, [..] messages/s\n"
            ))
            .stderr_matches(&format!(
                "{before}[..] INFO send.start issue={issue} to_send={readers} already_sent=0 server=[..] connections=[..]\n\
                 [..] INFO send.done issue={issue} sent={readers} failed=0 uncertain=0 deferred=0 not_tried=0 seconds=[..] rate=[..]/s\n"
            ))
    }

    /// The whole output of a preview of the issue file named `name`.
    #[track_caller]
    pub fn previewed(self, name: &str) -> Outcome {
        self.code(0).stderr_is("").stdout_is(&format!(
            "wrote previews/{name}.html\nwrote previews/{name}.txt\nwrote previews/{name}.eml\nwrote previews/index.html\nopen previews/{name}.html in a browser to see the email\n"
        ))
    }

    /// The whole output of a `check` of `file` that found nothing wrong.
    #[track_caller]
    pub fn checked(self, file: &str) -> Outcome {
        self.code(0)
            .stderr_is("")
            .stdout_matches(&format!("{file}: [..]; 0 warning(s)\n"))
    }

    /// The whole output of a test send that reached all its `readers`.
    #[track_caller]
    pub fn test_sent(self, readers: usize) -> Outcome {
        self.code(0).stderr_is("").stdout_is(&format!(
            "test send: {readers} sent, 0 failed, 0 uncertain\n"
        ))
    }

    /// The exception: stdout holds `part`, and anything else.
    #[track_caller]
    pub fn stdout_has(self, part: &str) -> Outcome {
        assert!(self.stdout.contains(part), "stdout lacks {part:?}\n{self}");
        self.mark(|c| c.stdout = true);
        self
    }

    /// The exception: stderr holds `part`, and anything else.
    #[track_caller]
    pub fn stderr_has(self, part: &str) -> Outcome {
        assert!(self.stderr.contains(part), "stderr lacks {part:?}\n{self}");
        self.mark(|c| c.stderr = true);
        self
    }

    /// The exception: stderr lacks `part`, and holds anything else.
    #[track_caller]
    pub fn stderr_lacks(self, part: &str) -> Outcome {
        assert!(!self.stderr.contains(part), "stderr has {part:?}\n{self}");
        self.mark(|c| c.stderr = true);
        self
    }

    /// stdout, for a test that checks it another way (parses it, say).
    pub fn stdout(&self) -> &str {
        self.mark(|c| c.stdout = true);
        &self.stdout
    }

    /// stderr, for a test that checks it another way.
    pub fn stderr(&self) -> &str {
        self.mark(|c| c.stderr = true);
        &self.stderr
    }

    /// The exit code, for a test that checks it another way.
    pub fn exit_code(&self) -> i32 {
        self.mark(|c| c.code = true);
        self.code
    }
}

/// True if `text` is `pattern` whole: `[..]` in a pattern line matches any
/// text within one line, and a pattern line `...` any number of lines.
pub fn matches(pattern: &str, text: &str) -> bool {
    fn lines(pattern: &[&str], text: &[&str]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((&"...", rest)) => (0..=text.len()).any(|skip| lines(rest, &text[skip..])),
            Some((first, rest)) => text
                .split_first()
                .is_some_and(|(line, more)| line_matches(first, line) && lines(rest, more)),
        }
    }
    fn line_matches(pattern: &str, line: &str) -> bool {
        let mut parts = pattern.split("[..]");
        let first = parts.next().unwrap_or("");
        let Some(mut rest) = line.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                return rest.ends_with(part);
            }
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.is_empty()
    }
    let (p, t): (Vec<&str>, Vec<&str>) = (pattern.lines().collect(), text.lines().collect());
    pattern.ends_with('\n') == text.ends_with('\n') && lines(&p, &t)
}

#[test]
fn patterns_match_whole_outputs_only() {
    assert!(matches("sent 3 in [..] s\n", "sent 3 in 0.1 s\n"));
    assert!(matches("a [..] b [..]\n", "a x b y z\n"));
    assert!(matches("one\n...\nfour\n", "one\ntwo\nthree\nfour\n"));
    assert!(matches("one\n...\ntwo\n", "one\ntwo\n"));
    assert!(matches("", ""));
    assert!(!matches("sent 3 in [..] s\n", "sent 3 in 0.1 s\nmore\n"));
    assert!(!matches("sent 3\n", "sent 3"));
    assert!(!matches("sent [..] s\n", "resent 3 s\n"));
    assert!(!matches("a[..]b\n", "ab-\n"));
    assert!(!matches("x\n", ""));
}

impl Drop for Outcome {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let checked = self.checked.get();
        let unchecked = [
            (!checked.code && self.code != 0).then_some("exit code is not 0"),
            (!checked.stdout && !self.stdout.is_empty()).then_some("stdout is not empty"),
            (!checked.stderr && !self.stderr.is_empty()).then_some("stderr is not empty"),
        ];
        let unchecked: Vec<&str> = unchecked.into_iter().flatten().collect();
        assert!(
            unchecked.is_empty(),
            "unchecked output of the run at {}: {} (check it, or say it may be anything)\n{self}",
            self.at,
            unchecked.join(", ")
        );
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Says, where it cannot be missed, that a test could not run because a
/// real part it needs is not here, and records it for `.ci/run`'s summary.
/// libtest hides a passing test's `println!`, so this writes to the
/// process's stderr directly. Where every part should be here (`.ci/run`
/// installs them and sets `CATCHUP_TESTS_NEED_ALL_PARTS`), a missing part
/// fails the test instead: it never counts as passed.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    if std::env::var_os("CATCHUP_TESTS_NEED_ALL_PARTS").is_some() {
        panic!("{test} cannot run: {why} (.ci/run should have installed it)");
    }
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let record = repo().join("target/skipped-tests.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(record)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// catchup's log lines without their timestamp and `catchup[pid]`: what a
/// test can compare whole (`INFO due.nothing next_issue=...`).
pub fn events(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| match line.split_once("] ") {
            Some((stamp, event)) if stamp.contains(" catchup[") => event.to_string(),
            _ => line.to_string(),
        })
        .collect()
}

/// Sends a signal to a process, by name (`INT`, `TERM`, `KILL`).
pub fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits for a process to end, at most `limit`; its exit code (or -1 for
/// a signal) and output.
pub fn finish_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> (i32, String, String) {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("catchup did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A tmpfs of a few pages, mounted for one test, unmounted when dropped.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(size: &str) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(SmallDisk { dir })
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Bytes free.
    pub fn free(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.path())
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df output")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}
