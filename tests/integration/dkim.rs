//! DKIM: every message catchup sends (list sends, test sends, the `.eml`
//! preview) carries a signature for each `[[dkim]]` key, and two
//! verifiers this project did not write (dkimpy and Perl's Mail::DKIM)
//! pass them, with the one-click headers covered and oversigned; a message
//! altered after signing, or with a header added on top, fails; every bad
//! key is a clear error; OpenSSL reads every key `dkim keygen` writes.
//! See: issues 11 and 21.

use crate::support::smtp::SmtpServer;
use crate::support::{Project, repo, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// What a verifier said of each signature of a message, in order: its
/// result, then its tags (dkimpy: a, s, c, d, h; Mail::DKIM: a, s).
type Verdicts = Vec<Vec<String>>;

/// What dkimpy and Mail::DKIM say of `message`, given each selector's
/// record. `None` (with the test skipped, visibly; a failure in CI) when
/// either verifier is missing.
fn verify(
    test: &str,
    records: &[(String, String)],
    message: &[u8],
) -> Option<(Verdicts, Verdicts)> {
    let has = |program: &str, check: &str| {
        std::process::Command::new(program)
            .args(["-e", check])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import dkim, nacl"])
        .status()
        .is_ok_and(|s| s.success())
    {
        skip(
            test,
            "dkimpy is not installed (Debian: python3-dkim, python3-nacl)",
        );
        return None;
    }
    if !has("/usr/bin/perl", "use Mail::DKIM::Verifier") {
        skip(
            test,
            "Mail::DKIM is not installed (Debian: libmail-dkim-perl)",
        );
        return None;
    }
    let args: Vec<String> = records
        .iter()
        .map(|(selector, record)| format!("{selector}:{record}"))
        .collect();
    let run = |program: &str, script: &str| -> Verdicts {
        let mut child = std::process::Command::new(program)
            .arg(repo().join("tests/dkim").join(script))
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect(script);
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(message)
            .expect("write");
        let out = child.wait_with_output().expect(script);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect()
    };
    Some((
        run("/usr/bin/python3", "verify.py"),
        run("/usr/bin/perl", "verify.pl"),
    ))
}

/// Sends, test-sends and previews the example issue signed with `keys`
/// (selector, algorithm), and checks every message with both verifiers.
fn every_message_verifies(test: &str, keys: &[(&str, &str)]) {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let records = project.sign_with_dkim_keys(keys);
    let expected_check: Vec<String> = records
        .iter()
        .map(|(selector, record)| {
            format!("The key is usable. DNS must publish this TXT record at {selector}._domainkey.hsj.example:\n\n{record}\n")
        })
        .collect();
    project
        .expect(&["dkim", "check"])
        .code(0)
        .stdout_is(&expected_check.join("\n"));
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
        let Some((dkimpy, mail_dkim)) = verify(test, &records, message) else {
            return;
        };
        assert_eq!(dkimpy.len(), keys.len(), "{dkimpy:?}");
        for (verdict, (selector, algorithm)) in dkimpy.iter().zip(keys) {
            assert_eq!(
                verdict[..5],
                [
                    "pass",
                    &format!("{algorithm}-sha256"),
                    selector,
                    "relaxed/relaxed",
                    "hsj.example"
                ],
                "dkimpy: {verdict:?}"
            );
            let signed: Vec<&str> = verdict[5].split(':').collect();
            let text = String::from_utf8_lossy(message);
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            let has = |name: &str| {
                head.split("\r\n")
                    .filter(|line| {
                        line.split_once(':')
                            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
                    })
                    .count()
            };
            // Each header, named once more than the message has it
            // (oversigned); the one-click headers are there.
            assert_eq!(has("list-unsubscribe-post"), 1);
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
                // Never on catchup's mail, named once (adversarial run,
                // finding 11).
                "sender",
                "cc",
                "in-reply-to",
                "references",
                "content-transfer-encoding",
            ] {
                assert_eq!(
                    signed.iter().filter(|h| **h == header).count(),
                    has(header) + 1,
                    "{header} is not oversigned: {signed:?}"
                );
            }
        }
        assert_eq!(mail_dkim, mail_dkim_expects(keys), "Mail::DKIM");
    }

    // Altered after signing: a header, one byte of the body, or a second
    // Subject or List-Unsubscribe added on top.
    let message = String::from_utf8(messages[0].clone()).expect("ascii");
    let subject = message.replacen("Subject: Bold ambition", "Subject: Bald ambition", 1);
    assert_ne!(subject, message);
    let body_at = message.find("\r\n\r\n").expect("body") + 200;
    let mut body = message.clone().into_bytes();
    body[body_at] = if body[body_at] == b'a' { b'b' } else { b'a' };
    let added_subject = format!("Subject: Claim your prize\r\n{message}");
    let added_unsubscribe = format!("List-Unsubscribe: <https://evil.example/u>\r\n{message}");
    let added_cc = format!("Cc: friend@evil.example\r\n{message}");
    for (what, tampered) in [
        ("a header changed", subject.into_bytes()),
        ("a body byte changed", body),
        ("a Subject added", added_subject.into_bytes()),
        ("a List-Unsubscribe added", added_unsubscribe.into_bytes()),
        ("a Cc added", added_cc.into_bytes()),
    ] {
        let (dkimpy, mail_dkim) = verify(test, &records, &tampered).expect("verifiers");
        for verdict in dkimpy.iter().chain(&mail_dkim) {
            assert_ne!(verdict[0], "pass", "{what}: {verdict:?} still verifies");
        }
    }
}

/// What Mail::DKIM says of good signatures: Debian 12's Mail::DKIM cannot
/// check Ed25519, and says so (`invalid`), so an Ed25519 signature alone
/// does not pass there; beside an RSA one, the RSA one passes.
fn mail_dkim_expects(keys: &[(&str, &str)]) -> Verdicts {
    keys.iter()
        .map(|(selector, algorithm)| {
            let result = if *algorithm == "rsa" {
                "pass"
            } else {
                "invalid"
            };
            vec![
                result.to_string(),
                format!("{algorithm}-sha256"),
                selector.to_string(),
            ]
        })
        .collect()
}

#[test]
fn every_message_is_signed_with_rsa_and_verifies() {
    every_message_verifies(
        "dkim::every_message_is_signed_with_rsa_and_verifies",
        &[("cu1", "rsa")],
    );
}

#[test]
fn every_message_is_signed_with_ed25519_and_verifies() {
    every_message_verifies(
        "dkim::every_message_is_signed_with_ed25519_and_verifies",
        &[("cu1", "ed25519")],
    );
}

/// See: issue 21, "Signatures".
#[test]
fn every_message_is_signed_with_rsa_and_ed25519_together_and_both_verify() {
    every_message_verifies(
        "dkim::every_message_is_signed_with_rsa_and_ed25519_together_and_both_verify",
        &[("cu1", "rsa"), ("cu2", "ed25519")],
    );
}

/// See: issue 21: `openssl pkey` reads every key `dkim keygen` writes
/// (an Ed25519 key in PKCS#8 v2 it did not).
#[test]
fn openssl_reads_every_key_keygen_writes() {
    let project = Project::example();
    for (selector, algorithm) in [("k1", "rsa"), ("k2", "ed25519")] {
        project.keygen(selector, algorithm);
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-text", "-in"])
            .arg(project.path().join(format!("dkim/{selector}.pem")))
            .output();
        let Ok(out) = out else {
            return skip(
                "dkim::openssl_reads_every_key_keygen_writes",
                "openssl is not installed",
            );
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{algorithm}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kind = if algorithm == "rsa" {
            "Private-Key: (2048 bit"
        } else {
            "ED25519 Private-Key:"
        };
        assert!(text.contains(kind), "{text}");
    }
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
        .stdout_matches("config/issues/2018-07-27.toml: [..]; 2 warning(s)\n")
        .stderr_is(&format!(
            "warning: the RSA key has 1024 bits; use 2048 or more
  --> config/newsletter.toml:{line}:15
   |
{line} | private_key = \"dkim/short.pem\"
   |               ^^^^^^^^^^^^^^^^
   |
   = help: make a new one with `catchup dkim keygen --selector S`

warning: `catchup doctor` has not passed for the DKIM keys in use: receivers may not find their records
 |
 = help: publish what `catchup dkim check` prints, then run `catchup doctor`

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

/// A sign-up's confirmation and welcome carry every signature too, and
/// both verifiers pass them. See: issue 22.
#[test]
fn a_sign_ups_confirmation_and_welcome_are_signed_with_every_key() {
    use crate::signup::{confirmation_link, form_token, project, sign_up, wait_until};
    let (project, server, port) = project("welcome = \"Welcome aboard.\"");
    let records = project.sign_with_dkim_keys(&[("rsa1", "rsa"), ("ed1", "ed25519")]);
    let service = project.serve(port);
    sign_up(&service, "email=signed%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "signed@nhs.example");
    let page = crate::support::web::request("GET", &link, None, b"");
    let pressed = crate::support::web::request_with(
        "POST",
        &link,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("form={}", form_token(&page.body)).as_bytes(),
    );
    assert_eq!(pressed.status, 200);
    wait_until(|| server.deliveries().len() == 2);
    for delivery in server.deliveries() {
        let message = server.message(delivery.n);
        let Some((dkimpy, mail_dkim)) = verify(
            "dkim::a_sign_ups_confirmation_and_welcome_are_signed_with_every_key",
            &records,
            &message,
        ) else {
            return;
        };
        let results = |verdicts: &Verdicts| -> Vec<String> {
            verdicts
                .iter()
                .map(|v| format!("{} {}", v[0], v[1]))
                .collect()
        };
        assert_eq!(results(&dkimpy), ["pass rsa-sha256", "pass ed25519-sha256"]);
        assert_eq!(results(&mail_dkim)[0], "pass rsa-sha256", "{mail_dkim:?}");
    }
}
