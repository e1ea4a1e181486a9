//! DKIM: every message catchup sends (list sends, test sends, the `.eml`
//! preview) is signed, and dkimpy, a verifier this project did not write,
//! passes it with the one-click headers covered; a message altered after
//! signing fails; every bad key is a clear error. See: issue 11.

use crate::support::smtp::SmtpServer;
use crate::support::{Project, repo, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// What dkimpy says of a message: pass or not, and the signature's h=, c=,
/// a= and d= tags. `None` (with the test skipped, visibly) without dkimpy.
fn verify(test: &str, record: &str, message: &[u8]) -> Option<(bool, Vec<String>)> {
    let python = "/usr/bin/python3";
    let has_dkimpy = std::process::Command::new(python)
        .args(["-c", "import dkim"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_dkimpy {
        skip(test, "dkimpy is not installed (Debian: python3-dkim)");
        return None;
    }
    let mut child = std::process::Command::new(python)
        .arg(repo().join("tests/dkim/verify.py"))
        .arg(record)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dkimpy");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write");
    let out = child.wait_with_output().expect("verify.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    Some((lines[0] == "pass", lines[1..].to_vec()))
}

fn every_message_verifies(algorithm: &str) {
    let test = format!("dkim::every_message_verifies ({algorithm})");
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let record = project.sign_with_dkim(algorithm);
    project
        .expect(&["dkim", "check"])
        .code(0)
        .stdout_is(&format!(
            "The key is usable. DNS must publish this TXT record at cu1._domainkey.hsj.example:\n\n{record}\n"
        ));
    project.use_smtp(server.port, "");
    project.subscribers(3, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    project
        .expect(&["send", ISSUE, "--to", "ed@hsj.example"])
        .test_sent(1);
    project.expect(&["preview"]).previewed("2018-07-27");
    let mut messages: Vec<Vec<u8>> = server
        .deliveries()
        .iter()
        .map(|d| server.message(d.n))
        .collect();
    messages.push(std::fs::read(project.path().join("previews/2018-07-27.eml")).expect("eml"));
    assert_eq!(messages.len(), 5);
    for message in &messages {
        let Some((pass, tags)) = verify(&test, &record, message) else {
            return;
        };
        assert!(pass, "dkimpy failed a {algorithm} signature");
        let signed: Vec<&str> = tags[0].split(':').collect();
        for header in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "list-id",
            "feedback-id",
        ] {
            assert!(
                signed.contains(&header),
                "{header} is not signed: {signed:?}"
            );
        }
        assert_eq!(tags[1], "relaxed/relaxed");
        assert_eq!(tags[2], format!("{algorithm}-sha256"));
        assert_eq!(tags[3], "hsj.example");
    }

    // Altered after signing: a header, or one byte of the body.
    let message = String::from_utf8(messages[0].clone()).expect("ascii");
    let subject = message.replacen("Subject: Bold ambition", "Subject: Bald ambition", 1);
    assert_ne!(subject, message);
    let body_at = message.find("\r\n\r\n").expect("body") + 200;
    let mut body = message.clone().into_bytes();
    body[body_at] = if body[body_at] == b'a' { b'b' } else { b'a' };
    for tampered in [subject.into_bytes(), body] {
        let (pass, _) = verify(&test, &record, &tampered).expect("dkimpy");
        assert!(!pass, "an altered message verified");
    }
}

#[test]
fn every_message_is_signed_with_rsa_and_verifies_with_dkimpy() {
    every_message_verifies("rsa");
}

#[test]
fn every_message_is_signed_with_ed25519_and_verifies_with_dkimpy() {
    every_message_verifies("ed25519");
}

/// Writes an RSA key of `bits` bits, in PEM, mode 600.
fn rsa_key(project: &Project, name: &str, bits: usize) {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).expect("key");
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("pem");
    let path = project.write(name, pem.as_bytes());
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
}

#[test]
fn every_bad_key_is_a_clear_error_in_check() {
    let project = Project::example();
    let base = project.read("config/newsletter.toml");
    let with = |key: &str, extra: &str| {
        project.write(
            "config/newsletter.toml",
            format!(
                "{base}\n[dkim]\ndomain = \"hsj.example\"\nselector = \"cu1\"\nprivate_key = \"{key}\"\n{extra}"
            ),
        );
        project.expect(&["check"])
    };
    with("dkim/missing.pem", "").code(2).stderr_has(
        "error: the DKIM key: cannot read `dkim/missing.pem`: it does not exist (os error 2)",
    );
    std::fs::create_dir_all(project.path().join("dkim/folder.pem")).expect("mkdir");
    with("dkim/folder.pem", "")
        .code(2)
        .stderr_has("it is a folder, not a regular file");
    project.write(
        "dkim/junk.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n",
    );
    std::fs::set_permissions(
        project.path().join("dkim/junk.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    with("dkim/junk.pem", "")
        .code(2)
        .stderr_has("error: the DKIM key is not an RSA private key in PEM");
    rsa_key(&project, "dkim/small.pem", 512);
    with("dkim/small.pem", "")
        .code(2)
        .stderr_has("error: the RSA key has 512 bits; mail providers refuse signatures under 1024");
    rsa_key(&project, "dkim/short.pem", 1024);
    let line = base.lines().count() + 5;
    with("dkim/short.pem", "")
        .code(0)
        .stdout_matches("config/issues/2018-07-27.toml: [..]; 1 warning(s)\n")
        .stderr_is(&format!(
            "warning: the RSA key has 1024 bits; use 2048 or more
  --> config/newsletter.toml:{line}:15
   |
{line} | private_key = \"dkim/short.pem\"
   |               ^^^^^^^^^^^^^^^^
   |
   = help: make a new one with `catchup dkim keygen --selector S`

"
        ));
    rsa_key(&project, "dkim/open.pem", 1024);
    std::fs::set_permissions(
        project.path().join("dkim/open.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    with("dkim/open.pem", "")
        .code(2)
        .stderr_has("error: the DKIM key: cannot read `dkim/open.pem`: it holds a secret, but others can read it (mode 644); run chmod 600 on it");
    with("dkim/short.pem", "algorithm = \"ed25519\"\n")
        .code(2)
        .stderr_has("error: the DKIM key is not an Ed25519 private key in PEM");
    // Every one points at the key's line.
    with("dkim/missing.pem", "")
        .code(2)
        .stderr_has("--> config/newsletter.toml:");

    // A signing domain that does not align with From.
    project.write(
        "config/newsletter.toml",
        format!("{base}\n[dkim]\ndomain = \"elsewhere.example\"\nselector = \"cu1\"\nprivate_key = \"dkim/short.pem\"\n"),
    );
    project
        .expect(&["check"])
        .code(2)
        .stderr_has("error: the DKIM domain `elsewhere.example` does not align with the From domain `hsj.example`");
}

#[test]
fn keygen_never_overwrites_a_key() {
    let project = Project::example();
    project.keygen("k1", "ed25519");
    let before = project.read("dkim/k1.pem");
    project
        .expect(&[
            "dkim",
            "keygen",
            "--selector",
            "k1",
            "--algorithm",
            "ed25519",
        ])
        .code(2)
        .stderr_is("error: `dkim/k1.pem` exists already; keygen never overwrites a key\n");
    assert_eq!(project.read("dkim/k1.pem"), before);
}
