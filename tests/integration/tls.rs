//! Sending over STARTTLS and implicit TLS with a login, against aiosmtpd
//! with a certificate from a throwaway CA (trusted through `ca_file`).

use crate::support::Project;
use crate::support::smtp::{SmtpServer, certificates};

const ISSUE: &str = "config/issues/2018-07-27.toml";
const PASSWORD_VAR: &str = "CATCHUP_TEST_SMTP_PASSWORD";

/// A project whose `[smtp]` uses `security`, `localhost`, a login whose
/// password is in an environment variable, and the test CA.
fn project(server: &SmtpServer, security: &str, ca: &std::path::Path) -> Project {
    let project = Project::example();
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(&format!(
        "\n[smtp]\nhost = \"localhost\"\nport = {}\nsecurity = \"{security}\"\nusername = \"catchup\"\npassword_env = \"{PASSWORD_VAR}\"\nca_file = \"{}\"\nretry_delay_ms = 20\nretries = 1\n",
        server.port,
        ca.display()
    ));
    project.write("config/newsletter.toml", settings);
    project.subscribers(5, "");
    project
}

fn send(project: &Project, password: &str) -> (i32, String, String) {
    let out = project
        .catchup()
        .env(PASSWORD_VAR, password)
        .args(["send", ISSUE, "--all"])
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn server(mode: &str, dir: &std::path::Path) -> (SmtpServer, std::path::PathBuf) {
    let (ca, cert, key) = certificates(dir);
    let server = SmtpServer::start(&[
        mode,
        "--tls-cert",
        cert.to_str().expect("utf8"),
        "--tls-key",
        key.to_str().expect("utf8"),
        "--auth",
        "catchup:s3cret pass",
    ]);
    (server, ca)
}

/// Every reader's message arrived over TLS, after logging in as `catchup`.
fn assert_all_encrypted_and_logged_in(server: &SmtpServer) {
    let deliveries = server.deliveries();
    assert_eq!(deliveries.len(), 5);
    for d in &deliveries {
        assert!(d.tls, "{} arrived unencrypted", d.rcpt);
        assert_eq!(d.login.as_deref(), Some("catchup"), "{}", d.rcpt);
    }
}

#[test]
fn starttls_with_a_login_delivers_encrypted_and_never_shows_the_password() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, ca) = server("--starttls", dir.path());
    let project = project(&server, "starttls", &ca);
    let (code, stdout, stderr) = send(&project, "s3cret pass");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_all_encrypted_and_logged_in(&server);
    for place in [&stdout, &stderr] {
        assert!(!place.contains("s3cret"), "the password leaked: {place}");
    }
    let state = std::fs::read_to_string(project.path().join("state/2018-07-27/ledger.jsonl"))
        .expect("ledger");
    assert!(!state.contains("s3cret"));
}

#[test]
fn implicit_tls_delivers_over_our_own_socket() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, ca) = server("--implicit-tls", dir.path());
    let project = project(&server, "tls", &ca);
    let (code, stdout, stderr) = send(&project, "s3cret pass");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_all_encrypted_and_logged_in(&server);
}

#[test]
fn a_wrong_password_stops_the_run_at_once_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, ca) = server("--starttls", dir.path());
    let project = project(&server, "starttls", &ca);
    let (code, stdout, stderr) = send(&project, "wrong");
    // See: issue 9. A refused login is a configuration error with a plain
    // message, not "run again to resume".
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("refused the login as `catchup`: 535 5.7.8 Authentication credentials invalid; check the username and the password in CATCHUP_TEST_SMTP_PASSWORD"),
        "{stdout}"
    );
    assert!(stdout.contains("5 reader(s) not delivered"), "{stdout}");
    assert!(server.deliveries().is_empty());
    // Nobody was marked in flight, so the next run (with the right
    // password) sends to everyone.
    let (code, _, _) = send(&project, "s3cret pass");
    assert_eq!(code, 0);
    assert_eq!(server.deliveries().len(), 5);
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, _) = server("--implicit-tls", dir.path());
    let other = tempfile::tempdir().expect("dir");
    let (other_ca, _, _) = certificates(other.path());
    let project = project(&server, "tls", &other_ca);
    let (code, stdout, stderr) = send(&project, "s3cret pass");
    assert_eq!(
        code, 2,
        "a certificate that does not verify is for the operator to fix\n{stdout}{stderr}"
    );
    assert!(
        stdout.contains("stopped early: TLS handshake failed with localhost:"),
        "{stdout}"
    );
    assert!(stdout.contains("invalid peer certificate"), "{stdout}");
    assert!(server.deliveries().is_empty());
}

/// See: issue 18, item 17. `security = "tls"` to a server that speaks plain
/// SMTP (or STARTTLS) was reported as rustls's `InvalidContentType`.
#[test]
fn tls_to_a_plain_server_says_what_to_set() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, ca) = server("--starttls", dir.path());
    let project = project(&server, "tls", &ca);
    let (code, stdout, stderr) = send(&project, "s3cret pass");
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "stopped early: localhost:{0} (tls) did not answer in TLS: it speaks plain SMTP on port {0}; if it offers STARTTLS (port 587, usually), set security = \"starttls\"",
            server.port
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("InvalidContentType"), "{stdout}");
}
