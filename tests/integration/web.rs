//! `catchup serve` driven over HTTP on loopback, as a mail provider and a
//! reader meet it: RFC 8058 one-click POSTs from the links in real sent
//! messages, the pages, forged tokens, bad requests, the archive and its
//! feed. See: issue 10.

use std::time::Duration;

use crate::support::smtp::SmtpServer;
use crate::support::web::{one_click, request};
use crate::support::{Project, SECRET, mime, skip, token};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// The example issue list-sent to `readers` readers, with the service's
/// base URL on loopback; the service is not started yet.
fn sent(readers: usize) -> (Project, SmtpServer, u16) {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.subscribers(readers, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", readers);
    (project, server, port)
}

/// The http link in a delivered message's `List-Unsubscribe`.
fn link_for(server: &SmtpServer, reader: &str) -> String {
    let delivery = server
        .deliveries()
        .into_iter()
        .find(|d| d.rcpt == reader)
        .expect("delivered");
    let message = mime::parse(&server.message(delivery.n));
    let header = message.header("List-Unsubscribe").to_string();
    header
        .split(',')
        .map(|part| part.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|part| part.starts_with("http://"))
        .expect("an http link first")
        .to_string()
}

fn suppressed(project: &Project) -> String {
    std::fs::read_to_string(project.path().join("config/suppressed.csv")).unwrap_or_default()
}

#[test]
fn a_one_click_post_from_a_real_message_unsubscribes_and_the_next_send_skips_the_reader() {
    let (project, server, port) = sent(3);
    let link = link_for(&server, "reader2@nhs.example");
    assert_eq!(
        link,
        format!(
            "http://127.0.0.1:{port}/u/{}?i=2018-07-27",
            token("reader2@nhs.example")
        ),
        "the link is the reader's HMAC token under the base URL, and the issue it came in"
    );
    let _service = project.serve(port);
    let answer = one_click(&link);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("You are unsubscribed"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("r***@nhs.example"), "{}", answer.body);
    let list = suppressed(&project);
    assert!(
        list.starts_with("email,reason,at,issue\nreader2@nhs.example,unsubscribe,20"),
        "{list}"
    );
    assert!(
        list.trim_end().ends_with(",2018-07-27"),
        "the unsubscribe is counted against the issue it came from: {list}"
    );

    // The next send (a new issue) skips the reader.
    project.write(
        "config/issues/2018-08-03.toml",
        "date = 2018-08-03\nsubject = \"Next\"\n[[sections]]\ntitle = \"T\"\nstories = [\"000/workforce-upgrade\"]\n",
    );
    project
        .expect(&["send", "config/issues/2018-08-03.toml", "--all"])
        .sent_skipping("2018-08-03", 2, 1);
    let second: Vec<String> = server.deliveries()[3..]
        .iter()
        .map(|d| d.rcpt.clone())
        .collect();
    assert!(
        !second.contains(&"reader2@nhs.example".to_string()),
        "{second:?}"
    );
}

#[test]
fn a_get_shows_a_masked_address_and_one_button_and_never_unsubscribes() {
    let (project, server, port) = sent(2);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    for _ in 0..3 {
        let page = request("GET", &link, None, b"");
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("Unsubscribe from HSJ Catch Up?"),
            "{}",
            page.body
        );
        assert!(page.body.contains("r***@nhs.example"));
        assert!(
            !page.body.contains("reader1@nhs.example"),
            "the address is masked"
        );
        assert_eq!(page.body.matches("<form method=\"post\"").count(), 1);
        assert_eq!(page.header("Cache-Control"), Some("no-store"));
        assert_eq!(page.header("Referrer-Policy"), Some("same-origin"));
        assert_eq!(page.header("X-Frame-Options"), Some("DENY"));
    }
    assert_eq!(
        suppressed(&project),
        "email,reason,at,issue\n",
        "a GET changes nothing"
    );
}

#[test]
fn resubscribing_takes_the_reader_off_the_suppression_list() {
    let (project, server, port) = sent(2);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    assert_eq!(one_click(&link).status, 200);
    let page = request("GET", &link, None, b"");
    assert!(
        page.body.contains("You are already unsubscribed"),
        "{}",
        page.body
    );
    let again = resubscribe(&link, &form_token(&page.body), None);
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("You are subscribed again"));
    let rows: Vec<String> = suppressed(&project)
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        rows,
        [
            "reader1@nhs.example,unsubscribe",
            "reader1@nhs.example,resubscribed"
        ]
    );
    // The list is as it was: a dry run would send to both again.
    project.write(
        "config/issues/2018-08-03.toml",
        "date = 2018-08-03\nsubject = \"Next\"\n[[sections]]\ntitle = \"T\"\nstories = [\"000/workforce-upgrade\"]\n",
    );
    project
        .expect(&[
            "send",
            "config/issues/2018-08-03.toml",
            "--all",
            "--dry-run",
        ])
        .code(0)
        .stdout_has("would send 2; 0 already sent, 0 refused earlier, 0 uncertain, 0 suppressed");
}

/// The form token in a page's resubscribe button.
fn form_token(page: &str) -> String {
    let html = scraper::Html::parse_document(page);
    let field = scraper::Selector::parse("form input[name=form]").expect("selector");
    html.select(&field)
        .next()
        .and_then(|input| input.value().attr("value"))
        .unwrap_or_else(|| panic!("no resubscribe form in {page}"))
        .to_string()
}

/// POSTs the resubscribe form with `form` as its token, from `origin`.
fn resubscribe(link: &str, form: &str, origin: Option<&str>) -> crate::support::web::Answer {
    crate::support::web::request_with(
        "POST",
        // The page's own form posts to the link without the issue.
        &format!("{}/resubscribe", link.split('?').next().unwrap_or(link)),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", origin.unwrap_or("")),
        ],
        format!("form={form}").as_bytes(),
    )
}

/// See: issue 18, items 7 and 8. Anyone holding one link grew the list
/// without bound, and a bare cross-site POST undid a complaint that
/// `suppressed remove` refuses to lift without --force.
#[test]
fn a_link_neither_grows_the_list_nor_undoes_what_is_not_its_own() {
    let (project, server, port) = sent(3);
    let ann = link_for(&server, "reader1@nhs.example");
    let cat = link_for(&server, "reader3@nhs.example");
    project.write(
        "config/suppressed.csv",
        "email,reason,at,issue\nreader3@nhs.example,complaint,2026-11-20T09:00:00Z,2018-07-27\n",
    );
    let _service = project.serve(port);
    for _ in 0..20 {
        assert_eq!(one_click(&ann).status, 200);
    }
    let rows = || suppressed(&project).lines().count();
    assert_eq!(
        rows(),
        3,
        "the header, cat's complaint, ann's one unsubscribe"
    );
    let page = request("GET", &ann, None, b"");
    let form = form_token(&page.body);
    // No form token, a forged one, another origin: nothing changes.
    for (token, origin, why) in [
        ("", None, "empty"),
        ("AAAAAAAAAAAAAAAAAAAAAA", None, "forged"),
        (
            form.as_str(),
            Some("https://evil.example"),
            "another origin",
        ),
    ] {
        let answer = resubscribe(&ann, token, origin);
        assert_eq!(answer.status, 403, "{why}: {}", answer.body);
    }
    assert_eq!(rows(), 3);
    // The page's own form, from the service's origin, works once; a repeat
    // writes nothing.
    for _ in 0..3 {
        let answer = resubscribe(&ann, &form, Some(&format!("http://127.0.0.1:{port}")));
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(rows(), 4);
    // Cat complained: the page offers no button, and a well-formed POST
    // with cat's own form token is refused.
    let page = request("GET", &cat, None, b"");
    assert!(
        page.body.contains("You are already unsubscribed"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("name=\"form\""), "{}", page.body);
    let cat_form = {
        let after = one_click(&cat);
        form_token(&after.body)
    };
    let answer = resubscribe(&cat, &cat_form, None);
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(
        answer.body.contains("this page cannot undo"),
        "{}",
        answer.body
    );
    let rows: Vec<String> = suppressed(&project)
        .lines()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        rows,
        [
            "email,reason",
            "reader3@nhs.example,complaint",
            "reader1@nhs.example,unsubscribe",
            "reader1@nhs.example,resubscribed",
            "reader3@nhs.example,unsubscribe",
        ],
        "cat's complaint stands"
    );
}

/// A forged token and a valid-looking token for someone not on the list
/// get the same answer: the service is no oracle for who is subscribed.
#[test]
fn a_forged_or_unknown_token_is_refused_and_nothing_is_written() {
    let (project, server, port) = sent(2);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    let (base, real) = link.rsplit_once('/').expect("token");
    let mut forged: Vec<char> = real.chars().collect();
    forged[5] = if forged[5] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let stranger = token("stranger@nhs.example");
    let mut answers = Vec::new();
    for t in [
        forged.as_str(),
        stranger.as_str(),
        "not-a-token",
        "AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let url = format!("{base}/{t}");
        let post = one_click(&url);
        let get = request("GET", &url, None, b"");
        assert_eq!((post.status, get.status), (404, 404), "{t}");
        answers.push(post.body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer for all"
    );
    assert!(answers[0].contains("This link is not valid"));
    assert_eq!(suppressed(&project), "email,reason,at,issue\n");
}

#[test]
fn a_bad_body_an_oversized_body_or_a_wrong_method_changes_nothing() {
    let (project, server, port) = sent(1);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    let form = Some("application/x-www-form-urlencoded");
    assert_eq!(request("POST", &link, form, b"").status, 400);
    assert_eq!(
        request("POST", &link, form, b"List-Unsubscribe=Yes").status,
        400
    );
    assert_eq!(
        request("POST", &link, Some("text/plain"), b"hello").status,
        400
    );
    let huge = vec![b'a'; 64 * 1024];
    assert_eq!(request("POST", &link, form, &huge).status, 413);
    assert_eq!(
        request("PUT", &link, form, b"List-Unsubscribe=One-Click").status,
        405
    );
    assert_eq!(request("DELETE", &link, None, b"").status, 405);
    assert_eq!(
        request("GET", &format!("http://127.0.0.1:{port}/nope"), None, b"").status,
        404
    );
    assert_eq!(suppressed(&project), "email,reason,at,issue\n");
    // The one-click form in multipart encoding works.
    let multipart = request(
        "POST",
        &link,
        Some("multipart/form-data; boundary=XyZ"),
        b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n",
    );
    assert_eq!(multipart.status, 200, "{}", multipart.body);
}

/// A send that is running when a reader unsubscribes skips them once it
/// re-reads the list (every 2 s); the service and the send share the file
/// without losing or tearing a row.
#[test]
fn a_running_send_sees_an_unsubscribe_made_while_it_runs() {
    let server = SmtpServer::start(&["--delay", "0.1"]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "connections = 1\n");
    project.subscribers(60, "");
    let _service = project.serve(port);
    let child = project.spawn_piped(&["send", ISSUE, "--all"]);
    server.wait_for(3, Duration::from_secs(20));
    let link = format!(
        "http://127.0.0.1:{port}/u/{}",
        token("reader55@nhs.example")
    );
    assert_eq!(one_click(&link).status, 200);
    let (code, stdout, stderr) = crate::support::finish_within(child, Duration::from_secs(60));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rcpts: Vec<String> = server.deliveries().into_iter().map(|d| d.rcpt).collect();
    assert!(!rcpts.contains(&"reader55@nhs.example".to_string()));
    assert_eq!(rcpts.len(), 59, "{stdout}");
    // See: adversarial run, defect 8. The summary accounts for the reader.
    assert!(
        stdout.contains("skipped 1 suppressed (1 while sending)"),
        "{stdout}"
    );
}

/// See: issue 18, item 10. An unsubscribe made during a send was honoured
/// only after up to 2 s (26 of 78 readers were still mailed), and never for
/// the send's retries.
#[test]
fn every_unsubscribe_made_during_a_send_is_honoured_from_the_next_reader_on() {
    let server = SmtpServer::start(&["--delay", "0.05", "--rcpt-451", "reader5@*:2"]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "connections = 1\nretry_delay_ms = 800\n");
    project.subscribers(40, "");
    let _service = project.serve(port);
    let child = project.spawn_piped(&["send", ISSUE, "--all"]);
    // reader5 has been refused for now once and waits for its retry.
    server.wait_for(5, Duration::from_secs(20));
    let leaving: Vec<String> = std::iter::once(5)
        .chain(25..=40)
        .map(|i| format!("reader{i}@nhs.example"))
        .collect();
    for email in &leaving {
        let link = format!("http://127.0.0.1:{port}/u/{}", token(email));
        assert_eq!(one_click(&link).status, 200);
    }
    let (code, stdout, stderr) = crate::support::finish_within(child, Duration::from_secs(60));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rcpts: Vec<String> = server.deliveries().into_iter().map(|d| d.rcpt).collect();
    let mailed: Vec<&String> = leaving.iter().filter(|e| rcpts.contains(e)).collect();
    assert!(mailed.is_empty(), "mailed after they left: {mailed:?}");
    assert_eq!(rcpts.len(), 40 - leaving.len(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "skipped {0} suppressed ({0} while sending)",
            leaving.len()
        )),
        "{stdout}"
    );
}

/// See: issue 18, item 11. A full disk during unsubscribes left a torn row
/// in `suppressed.csv`, and 11 rows whose requests were answered "nothing
/// was changed".
#[test]
fn a_full_disk_loses_no_acknowledged_unsubscribe_and_records_no_refused_one() {
    let disk = match crate::support::SmallDisk::mount("64k") {
        Ok(disk) => disk,
        Err(why) => {
            return crate::support::skip(
                "web::a_full_disk_loses_no_acknowledged_unsubscribe",
                &format!("cannot mount a small tmpfs to fill ({why}); run the tests as root"),
            );
        }
    };
    let project = Project::example();
    let port = project.use_web();
    let list = disk.path().join("suppressed.csv");
    let settings = project.read("config/newsletter.toml").replace(
        "suppressed = \"config/suppressed.csv\"",
        &format!("suppressed = \"{}\"", list.display()),
    );
    project.write("config/newsletter.toml", settings);
    let readers = project.subscribers(400, "");
    let _service = project.serve(port);
    // Room for a few dozen rows, not 400.
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0u8; (disk.free() - 2 * 4096) as usize]).expect("fill");
    let answers: Vec<(String, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = readers
            .chunks(40)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|email| {
                            let link = format!("http://127.0.0.1:{port}/u/{}", token(email));
                            (email.clone(), one_click(&link).status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let text = std::fs::read_to_string(&list).expect("the list");
    assert!(
        text.ends_with('\n'),
        "a torn last row: {:?}",
        &text[text.len().saturating_sub(80)..]
    );
    let recorded: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("email"))
        .collect();
    let ok: Vec<&str> = answers
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(e, _)| e.as_str())
        .collect();
    let refused: Vec<&str> = answers
        .iter()
        .filter(|(_, s)| *s == 503)
        .map(|(e, _)| e.as_str())
        .collect();
    assert_eq!(
        ok.len() + refused.len(),
        400,
        "only 200 or 503: {answers:?}"
    );
    assert!(
        !ok.is_empty() && !refused.is_empty(),
        "the disk filled part way: {}",
        ok.len()
    );
    for email in &ok {
        assert!(
            recorded.contains(email),
            "{email} was told it was unsubscribed"
        );
    }
    for email in &refused {
        assert!(
            !recorded.contains(email),
            "{email} was told nothing changed"
        );
    }
    // With room again, the refused ones can try again and are recorded.
    std::fs::remove_file(&filler).expect("free the disk");
    let again = format!("http://127.0.0.1:{port}/u/{}", token(refused[0]));
    assert_eq!(one_click(&again).status, 200);
}

#[test]
fn serve_refuses_to_start_without_a_secret_it_can_trust() {
    let project = Project::example();
    let out = project
        .catchup()
        .env_remove("CATCHUP_SECRET")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the link secret variable `CATCHUP_SECRET` is not set; generate one with `openssl rand -hex 32` and add `CATCHUP_SECRET=...` to `config/catchup.env` (mode 600)\n"
    );
    let out = project
        .catchup()
        .env("CATCHUP_SECRET", "short")
        .args(["serve"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs at least 32"));

    let secret = project.write("secret.key", format!("{SECRET}\n"));
    let settings = project.read("config/newsletter.toml").replace(
        "secret_env = \"CATCHUP_SECRET\"",
        "secret_file = \"secret.key\"",
    );
    project.write("config/newsletter.toml", settings);
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    project
        .expect(&["serve", "--listen", "127.0.0.1:0"])
        .code(2)
        .stderr_is("error: the link secret: cannot read `secret.key`: it holds a secret, but others can read it (mode 644); run chmod 600 on it\n");
}

#[test]
fn the_archive_shows_sent_issues_only_with_no_reader_in_them_and_a_feed() {
    let (project, server, port) = sent(2);
    // A preview of another issue publishes nothing.
    project.write(
        "config/issues/2018-08-03.toml",
        "date = 2018-08-03\nsubject = \"A draft\"\n[[sections]]\ntitle = \"T\"\nstories = [\"004/personal-budgets-expanded-for-nhs-patients\"]\n",
    );
    project
        .expect(&["preview", "config/issues/2018-08-03.toml"])
        .previewed("2018-08-03");
    let service = project.serve(port);

    let index = request("GET", &service.url("/"), None, b"");
    assert_eq!(index.status, 200);
    assert!(
        index
            .body
            .contains("Bold ambition for mental health, and the debt mountain")
    );
    assert!(!index.body.contains("A draft"), "drafts are not published");

    // The email's "View in your browser" link is the issue's page.
    let message = mime::parse(&server.message(1));
    let view = format!("http://127.0.0.1:{port}/issues/2018-07-27.html");
    assert!(
        message.html.contains(&format!("href=\"{view}\"")),
        "the email links its web version"
    );
    assert!(
        message
            .text
            .replace("\r\n", "\n")
            .starts_with(&format!("View in your browser: {view}\n"))
    );
    let page = request("GET", &view, None, b"");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    for reader in ["reader1@nhs.example", "reader2@nhs.example"] {
        assert!(!page.body.contains(reader));
        assert!(!page.body.contains(&token(reader)), "no reader's link");
    }
    assert!(
        page.body
            .contains(&format!("href=\"http://127.0.0.1:{port}/u/\""))
    );
    // A web page, not the raw email (issue 23): a way back to the archive,
    // a main landmark, the newsletter's language; no preheader, no "View
    // in your browser" pointing at itself, no Outlook comments.
    let document = scraper::Html::parse_document(&page.body);
    let select = |css: &str| scraper::Selector::parse(css).expect("selector");
    assert_eq!(
        document
            .select(&select("nav a"))
            .map(|a| (
                a.value().attr("href").unwrap_or(""),
                a.text().collect::<String>()
            ))
            .collect::<Vec<_>>(),
        [("../", "← All issues".to_string())]
    );
    assert_eq!(document.select(&select("main h1.name")).count(), 1);
    assert!(page.body.contains("<html lang=\"en-GB\">"));
    for absent in ["preheader", "View in your browser", "[if mso]", "xmlns:o"] {
        assert!(!page.body.contains(absent), "the page has {absent:?}");
    }
    assert_eq!(
        request("GET", &service.url("/issues/2018-08-03.html"), None, b"").status,
        404
    );

    let feed = request("GET", &service.url("/feed.xml"), None, b"");
    assert_eq!(feed.status, 200);
    assert_eq!(
        feed.header("Content-Type"),
        Some("application/atom+xml; charset=utf-8")
    );
    check_feed(&feed.body, &view);
    // Each entry holds only the issue's content, and says its language.
    assert!(
        feed.body
            .contains("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en-GB\">")
    );
    for absent in [
        "preheader",
        "View in your browser",
        "[if mso]",
        "All issues",
    ] {
        assert!(!feed.body.contains(absent), "the feed has {absent:?}");
    }

    // The static export is the same pages, byte for byte.
    let out = project.path().join("public");
    project
        .expect(&["archive", "--out", out.to_str().expect("utf8")])
        .code(0)
        .stdout_is(&format!(
            "wrote 1 issue(s), the index and the feed to {}/ (3 files)\n",
            out.display()
        ));
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).expect("index"),
        index.body
    );
    assert_eq!(
        std::fs::read_to_string(out.join("issues/2018-07-27.html")).expect("page"),
        page.body
    );
    assert_eq!(
        std::fs::read_to_string(out.join("feed.xml")).expect("feed"),
        feed.body
    );
}

/// Checks the feed with feedparser, a real feed parser.
fn check_feed(xml: &str, link: &str) {
    let python = "/usr/bin/python3";
    let has_feedparser = std::process::Command::new(python)
        .args(["-c", "import feedparser"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_feedparser {
        skip(
            "web::the_archive_shows_sent_issues_only (feed check)",
            "Python's feedparser is not installed (Debian: python3-feedparser)",
        );
        return;
    }
    let script = r#"
import sys, feedparser
d = feedparser.parse(sys.stdin.read())
assert not d.bozo, d.bozo_exception
assert d.version == "atom10", d.version
e = d.entries
print(len(e), e[0].title, e[0].link, len(e[0].content[0].value), d.feed.title)
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(xml.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("feedparser");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&str> = said.trim().splitn(2, ' ').collect();
    assert_eq!(fields[0], "1", "one entry: {said}");
    assert!(
        said.contains("Bold ambition for mental health, and the debt mountain"),
        "{said}"
    );
    assert!(said.contains(link), "{said}");
    assert!(said.trim_end().ends_with("HSJ Catch Up"), "{said}");
}

/// Rotating the secret: with the old one as `previous_secret_env`, links
/// already in inboxes keep working; once it is dropped, they do not.
#[test]
fn links_made_before_a_secret_rotation_work_while_the_old_secret_is_kept() {
    let (project, server, port) = sent(2);
    let old_link = link_for(&server, "reader1@nhs.example");
    let settings = project.read("config/newsletter.toml").replace(
        "secret_env = \"CATCHUP_SECRET\"",
        "secret_env = \"CATCHUP_NEW_SECRET\"\nprevious_secret_env = \"CATCHUP_SECRET\"",
    );
    project.write("config/newsletter.toml", settings);
    let new_secret = [(
        "CATCHUP_NEW_SECRET",
        "a brand new secret, 0123456789abcdef0123",
    )];
    let (service, line) = project.serve_with(port, &new_secret);
    assert!(
        line.contains("(4 index entries)"),
        "both keys indexed: {line}"
    );
    assert_eq!(
        request("GET", &old_link, None, b"").status,
        200,
        "an old link works"
    );
    drop(service);

    let settings = project
        .read("config/newsletter.toml")
        .replace("previous_secret_env = \"CATCHUP_SECRET\"\n", "");
    project.write("config/newsletter.toml", settings);
    let (_service, _) = project.serve_with(port, &new_secret);
    assert_eq!(
        request("GET", &old_link, None, b"").status,
        404,
        "rotated out"
    );
}

/// See: adversarial run, defect 1. An address may start with `#`; its
/// unsubscribe was written but read back as a comment.
#[test]
fn an_address_starting_with_a_hash_is_unsubscribed_for_real() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.write(
        "config/subscribers.csv",
        "email,name\n#news@nhs.example,Hash\nann@nhs.example,Ann\n",
    );
    let _service = project.serve(port);
    let link = format!("http://127.0.0.1:{port}/u/{}", token("#news@nhs.example"));
    assert_eq!(one_click(&link).status, 200);
    assert!(
        request("GET", &link, None, b"")
            .body
            .contains("already unsubscribed")
    );
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_skipping("2018-07-27", 1, 1);
}

/// See: adversarial run, defects 2 and 3. A list replaced while the
/// service ran swallowed later unsubscribes; a hand-added last row without
/// its newline merged with the next one.
#[test]
fn unsubscribes_reach_the_list_as_it_is_now_even_if_replaced_or_hand_edited() {
    let (project, _server, port) = sent(3);
    let _service = project.serve(port);
    let link = |email: &str| format!("http://127.0.0.1:{port}/u/{}", token(email));
    assert_eq!(one_click(&link("reader1@nhs.example")).status, 200);
    // An editor saves by writing a new file and renaming it over the old.
    let list = project.path().join("config/suppressed.csv");
    let edited = suppressed(&project) + "gone@nhs.example,removed by hand,2026-11-25T10:00:00Z,\n";
    std::fs::write(project.path().join("config/suppressed.csv.new"), edited).expect("write");
    std::fs::rename(project.path().join("config/suppressed.csv.new"), &list).expect("rename");
    assert_eq!(one_click(&link("reader2@nhs.example")).status, 200);
    // A row added by hand, without its newline.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&list)
        .expect("open");
    std::io::Write::write_all(
        &mut file,
        b"hand@nhs.example,complaint,2026-11-25T10:00:00Z,",
    )
    .expect("append");
    drop(file);
    assert_eq!(one_click(&link("reader3@nhs.example")).status, 200);
    let rows: Vec<String> = suppressed(&project)
        .lines()
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        rows,
        [
            "email",
            "reader1@nhs.example",
            "gone@nhs.example",
            "reader2@nhs.example",
            "hand@nhs.example",
            "reader3@nhs.example"
        ]
    );
}

/// See: adversarial run, defect 6. A list that went bad while the service
/// ran made it tell real readers their link was not valid.
#[test]
fn a_list_that_cannot_be_read_now_gets_try_again_not_a_bad_link() {
    let (project, server, port) = sent(3);
    let link = link_for(&server, "reader2@nhs.example");
    let _service = project.serve(port);
    assert_eq!(request("GET", &link, None, b"").status, 200);
    let list = project.read("config/subscribers.csv");
    project.write(
        "config/subscribers.csv",
        list.replacen("\n", "\n\"broken,quote\n", 1),
    );
    let answer = one_click(&link);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("Please try again"));
    project.write("config/subscribers.csv", list);
    assert_eq!(one_click(&link).status, 200, "fixed, it works again");
}

/// See: adversarial run, defect 5. Idle or half-sent requests were held
/// open for ever; now the service closes them and keeps serving others.
#[test]
fn a_connection_that_sends_nothing_is_closed_and_others_are_served() {
    let (project, server, port) = sent(1);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::io::Write::write_all(&mut idle, b"GET / HTTP/1.1\r\nHost: x\r\n").expect("half");
    assert_eq!(
        request("GET", &link, None, b"").status,
        200,
        "served meanwhile"
    );
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let read = std::io::Read::read(&mut idle, &mut buf).unwrap_or(0);
    assert_eq!(read, 0, "closed without an answer");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// See: adversarial run, defect 10.
#[test]
fn serve_refuses_a_fifo_as_the_suppression_list() {
    let project = Project::example();
    let fifo = project.path().join("config/suppressed.csv");
    crate::support::mkfifo(&fifo);
    project
        .expect(&["serve", "--listen", "127.0.0.1:0"])
        .code(2)
        .stderr_is("error: cannot write the list `config/suppressed.csv`: it is a FIFO (named pipe), not a regular file\n");
}

/// A connection to the service from `from` (any 127/8 address is this
/// machine), as a second client would make it.
fn connect_from(from: [u8; 4], port: u16) -> std::net::TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&std::net::SocketAddr::from((from, 0)).into())
        .expect("bind");
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    socket.into()
}

/// See: issue 18, item 6. With 600 connections held open, 0 of 30 normal
/// requests were answered.
#[test]
fn connections_held_open_by_others_do_not_stop_a_reader_being_answered() {
    let (project, server, port) = sent(1);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    // 900 connections that send nothing, from three other addresses: more
    // than one client's share, and more than the service holds in all.
    let mut held = Vec::new();
    for from in [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]] {
        for _ in 0..300 {
            held.push(connect_from(from, port));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let answered = (0..30)
        .filter(|_| request("GET", &link, None, b"").status == 200)
        .count();
    assert_eq!(answered, 30, "of 30 normal requests");
    drop(held);
}

/// See: issue 18, item 6. Clients that never read their responses were
/// never timed out (20 such connections held after 70 s, 74.7 MB queued).
#[test]
fn a_client_that_never_reads_is_closed_and_holds_little() {
    let (project, _server, port) = sent(1);
    let service = project.serve(port);
    let pid = service.child().id();
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
    };
    let before = rss();
    let requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
    let mut readers: Vec<std::net::TcpStream> = (0..20)
        .map(|_| {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.set_recv_buffer_size(4096).expect("small window");
            socket
                .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
                .expect("connect");
            let mut stream: std::net::TcpStream = socket.into();
            stream
                .set_write_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let _ = std::io::Write::write_all(&mut stream, requests.as_bytes());
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let during = rss();
    assert!(
        during < before + 20 * 1024,
        "the service grew by {} kB for 20 clients that do not read",
        during - before
    );
    // The write timeout closes them: each now reads to its end.
    std::thread::sleep(crate::support::web::WRITE_TIMEOUT + Duration::from_secs(3));
    for stream in &mut readers {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut sink = Vec::new();
        // Its end, or a reset (the service closed with requests unread).
        let still_open = std::io::Read::read_to_end(stream, &mut sink).is_err_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        });
        assert!(!still_open, "a connection that never read is still open");
    }
    // And the service answers as before.
    assert_eq!(request("GET", &service.url("/"), None, b"").status, 200);
}

/// See: issue 18, item 6. After SIGTERM, new connections hung through the
/// 5 s drain instead of being refused.
#[test]
fn after_sigterm_new_connections_are_refused_at_once() {
    let project = Project::example();
    let port = project.use_web();
    let service = project.serve(port);
    let mut busy = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::io::Write::write_all(&mut busy, b"GET / HTTP/1.1\r\nHost: x\r\n").expect("half");
    crate::support::signal(service.child(), "TERM");
    let started = std::time::Instant::now();
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "still accepting connections after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    drop(busy);
}

/// See: issue 18 (adversarial re-run, N2). Connections sending their POST
/// bodies a byte a second counted as busy, were never closed to make room,
/// and 0 of 30 normal requests were answered.
#[test]
fn slow_request_bodies_do_not_stop_a_reader_being_answered() {
    let (project, server, port) = sent(1);
    let link = link_for(&server, "reader1@nhs.example");
    let _service = project.serve(port);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let head = b"POST /u/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n";
            let open = |i: usize| {
                let from = if i.is_multiple_of(2) {
                    [127, 0, 0, 2]
                } else {
                    [127, 0, 0, 3]
                };
                let mut stream = connect_from(from, port);
                let _ = std::io::Write::write_all(&mut stream, head);
                stream.set_nonblocking(true).expect("nonblocking");
                stream
            };
            let mut streams: Vec<std::net::TcpStream> = (0..520).map(open).collect();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, stream) in streams.iter_mut().enumerate() {
                    if std::io::Write::write_all(stream, b"a").is_err() {
                        *stream = open(i);
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let answered = (0..30)
        .filter(|_| request("GET", &link, None, b"").status == 200)
        .count();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    attacker.join().expect("attacker");
    assert_eq!(answered, 30, "of 30 normal requests");
}

/// The unsubscribe form's action on the page a link shows.
fn page_action(page: &str) -> String {
    let html = scraper::Html::parse_document(page);
    let form = scraper::Selector::parse("form").expect("selector");
    html.select(&form)
        .find_map(|f| f.value().attr("action"))
        .unwrap_or_else(|| panic!("no form in {page}"))
        .to_string()
}

/// See: issue 20, "What each issue cost the list": counted from the
/// returned mail and the service, each way of leaving apart.
#[test]
fn what_an_issue_cost_the_list_is_counted_from_returned_mail_and_the_service() {
    let (project, server, port) = sent(10);
    let reader = |n: usize| format!("reader{n}@nhs.example");
    {
        let _service = project.serve(port);
        assert_eq!(one_click(&link_for(&server, &reader(1))).status, 200);
        // Reader 2 uses the page's button, twice: one unsubscribe.
        let page = request("GET", &link_for(&server, &reader(2)), None, b"");
        let action = page_action(&page.body);
        assert!(action.ends_with("?i=2018-07-27&via=page"), "{action}");
        for _ in 0..2 {
            assert_eq!(one_click(&action).status, 200);
        }
    }
    let hard = "550 5.1.1 Recipient address rejected: User unknown";
    for n in [3, 4] {
        project.write(
            &format!("mail/hard{n}.eml"),
            crate::bounces::refusal(&reader(n), "2018-07-27", "5.1.1", hard),
        );
    }
    project.write(
        "mail/soft.eml",
        crate::bounces::refusal(&reader(6), "2018-07-27", "4.2.2", "452 4.2.2 Mailbox full"),
    );
    project.write(
        "mail/complaint.eml",
        format!(
            "From: feedback@isp.example\nSubject: complaint\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n--b\nContent-Type: text/rfc822-headers\n\nTo: {}\nMessage-ID: <2018-07-27.{}@hsj.example>\n\n--b--\n",
            reader(5),
            crate::support::reader_id(SECRET, &reader(5))
        ),
    );
    project.write(
        "mail/mailto.eml",
        format!(
            "From: {}\nTo: {}\nSubject: unsubscribe\nReferences: <2018-07-27.{}@hsj.example>\n\n",
            reader(7),
            crate::support::unsubscribe_mailto(&reader(7)),
            crate::support::reader_id(SECRET, &reader(7))
        ),
    );
    project.expect(&["bounces", "mail"]).code(0).stdout_is(
        "mail/complaint.eml: suppressed reader5@nhs.example (complaint, issue 2018-07-27)
mail/hard3.eml: suppressed reader3@nhs.example (hard-bounce 5.1.1 user-unknown, issue 2018-07-27)
mail/hard4.eml: suppressed reader4@nhs.example (hard-bounce 5.1.1 user-unknown, issue 2018-07-27)
mail/mailto.eml: unsubscribed reader7@nhs.example (their request by mail, issue 2018-07-27)
mail/soft.eml: soft bounce (mailbox-full 4.2.2) for reader6@nhs.example: 1 of 3 issues before suppression
5 message(s): 4 reader(s) suppressed, 1 soft bounce(s) counted, 0 refusal(s) of the sender, 0 with nothing to do, 0 not understood, 0 read before
",
    );
    project.expect(&["status", ISSUE]).stdout_matches(
        "2018-07-27: sent 10, failed 0, deferred 0, uncertain 0, pending 0
1 list send run(s), from [..] to [..]; finished
cost to the list: 2 hard bounce(s) (20.00%, keep under 2% OVER), 1 soft bounce(s), 1 complaint(s) (10.00%, Gmail asks under 0.3% OVER), 3 unsubscribe(s) (1 one-click, 1 page, 1 mail), 0 refusal(s) of the sender, 0 provider block(s)
",
    );
    let json = project.expect(&["status", ISSUE, "--json"]);
    let status: serde_json::Value = serde_json::from_str(json.stdout()).expect("json");
    assert_eq!(
        status["cost"],
        serde_json::json!({
            "hard_bounces": 2, "soft_bounces": 1, "complaints": 1, "refused": 0,
            "provider_blocks": 0,
            "unsubscribes": {"one_click": 1, "page": 1, "mailto": 1},
            "hard_bounce_rate": 0.2, "hard_bounce_limit": 0.02,
            "complaint_rate": 0.1, "complaint_limit": 0.003,
        })
    );
    project
        .expect(&["issues"])
        .stdout_has("\n  cost: 2 hard, 1 soft, 1 complaint(s), 3 unsubscribe(s), 0 block(s)\n");
}

/// Now, by the wall clock: what the service checks a notification's age
/// against.
#[expect(
    clippy::disallowed_methods,
    reason = "the service under test reads the wall clock"
)]
fn wall() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// A signing key and its self-signed certificate, made by openssl (an
/// implementation of RSA signing this project did not write), standing in
/// for SNS's.
fn sns_signer(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let key = dir.join("sns-key.pem");
    let cert = dir.join("sns-cert.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sns.eu-west-2.amazonaws.com",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    made.status.success().then_some((key, cert))
}

/// `text` signed by `key` with openssl: SHA-256 (SNS's version 2) or SHA-1
/// (version 1), base64.
fn openssl_sign(key: &std::path::Path, text: &str, version: &str) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", digest, "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success());
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

const TOPIC: &str = "arn:aws:sns:eu-west-2:111122223333:catchup-bounces";
const CERT_URL: &str = "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-0000.pem";

/// An SNS Notification carrying `message`, signed by `key` as SNS signs.
fn sns_notification(
    key: &std::path::Path,
    id: &str,
    message: &str,
    timestamp: &str,
    version: &str,
) -> serde_json::Value {
    let text = format!(
        "Message\n{message}\nMessageId\n{id}\nTimestamp\n{timestamp}\nTopicArn\n{TOPIC}\nType\nNotification\n"
    );
    serde_json::json!({
        "Type": "Notification",
        "MessageId": id,
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": version,
        "Signature": openssl_sign(key, &text, version),
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-west-2.amazonaws.com/?Action=Unsubscribe",
    })
}

fn ses_bounce(email: &str) -> String {
    serde_json::json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-12-02T08:00:00.000Z", "feedbackId": "x"
        },
        "mail": {"headers": [{"name": "Message-ID", "value": "<2018-07-27.0000000000000000@hsj.example>"}]}
    })
    .to_string()
}

fn post_json(
    url: &str,
    body: &serde_json::Value,
    auth: Option<&str>,
) -> crate::support::web::Answer {
    crate::support::web::request_with(
        "POST",
        url,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", auth.unwrap_or("")),
        ],
        body.to_string().as_bytes(),
    )
}

/// See: issue 20, "Provider webhooks": SES through SNS and Postmark, well
/// signed, badly signed and replayed.
#[test]
fn provider_webhooks_record_what_is_signed_once_and_nothing_else() {
    let (project, _server, port) = sent(4);
    let Some((key, cert)) = sns_signer(project.path()) else {
        return skip(
            "provider_webhooks_record_what_is_signed_once_and_nothing_else",
            "openssl is not installed",
        );
    };
    std::fs::create_dir_all(project.path().join("config/sns")).expect("folder");
    std::fs::copy(
        &cert,
        project
            .path()
            .join("config/sns/SimpleNotificationService-0000.pem"),
    )
    .expect("cert");
    let settings = project.read("config/newsletter.toml")
        + &format!(
            "\n[bounces.ses]\ntopic_arn = \"{TOPIC}\"\ncertificates = \"config/sns\"\n\n[bounces.postmark]\nuser = \"postmark\"\npassword_env = \"POSTMARK_HOOK\"\n"
        );
    project.write("config/newsletter.toml", settings);
    let (_service, _) = project.serve_with(port, &[("POSTMARK_HOOK", "s3cret")]);
    let ses = format!("http://127.0.0.1:{port}/hooks/ses");
    let now = wall().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows = || suppressed(&project).lines().count();

    let good = sns_notification(&key, "id-1", &ses_bounce("reader1@nhs.example"), &now, "2");
    let answer = post_json(&ses, &good, None);
    assert_eq!((answer.status, answer.body.as_str()), (200, "Recorded\n"));
    assert!(
        suppressed(&project).contains("reader1@nhs.example,hard-bounce 5.1.1 user-unknown,"),
        "{}",
        suppressed(&project)
    );
    assert_eq!(rows(), 2);
    // The same notification again (SNS retries, or someone replays it).
    assert_eq!(post_json(&ses, &good, None).status, 200);
    assert_eq!(rows(), 2, "a replay records nothing");

    // Forged: the message changed after signing; no signature; another
    // topic; an old one, well signed; a certificate from elsewhere.
    let mut changed = sns_notification(&key, "id-2", &ses_bounce("reader2@nhs.example"), &now, "2");
    changed["Message"] = serde_json::json!(ses_bounce("reader3@nhs.example"));
    let mut unsigned =
        sns_notification(&key, "id-3", &ses_bounce("reader2@nhs.example"), &now, "2");
    unsigned["Signature"] = serde_json::json!("");
    let mut topic = sns_notification(&key, "id-4", &ses_bounce("reader2@nhs.example"), &now, "2");
    topic["TopicArn"] = serde_json::json!("arn:aws:sns:eu-west-2:999999999999:other");
    let old = sns_notification(
        &key,
        "id-5",
        &ses_bounce("reader2@nhs.example"),
        "2026-01-01T00:00:00.000Z",
        "2",
    );
    let mut elsewhere =
        sns_notification(&key, "id-6", &ses_bounce("reader2@nhs.example"), &now, "2");
    elsewhere["SigningCertURL"] =
        serde_json::json!("https://evil.example/SimpleNotificationService-0000.pem");
    // A notification signed with a Subject, its Subject moved into its
    // MessageId: the same signed text under another id (issue 20,
    // adversarial run, finding 7).
    let message = ses_bounce("reader2@nhs.example");
    let text = format!(
        "Message\n{message}\nMessageId\nid-8\nSubject\nX\nTimestamp\n{now}\nTopicArn\n{TOPIC}\nType\nNotification\n"
    );
    let shifted = serde_json::json!({
        "Type": "Notification", "MessageId": "id-8\nSubject\nX", "TopicArn": TOPIC,
        "Message": message, "Timestamp": now, "SignatureVersion": "2",
        "Signature": openssl_sign(&key, &text, "2"), "SigningCertURL": CERT_URL,
    });
    for (what, forged) in [
        ("shifted", shifted),
        ("changed", changed),
        ("unsigned", unsigned),
        ("topic", topic),
        ("old", old),
        ("elsewhere", elsewhere),
    ] {
        let answer = post_json(&ses, &forged, None);
        assert_eq!(answer.status, 403, "{what}: {}", answer.body);
    }
    assert_eq!(rows(), 2, "nothing forged was recorded");

    // A complaint, signed the old way (SHA-1).
    let complaint = serde_json::json!({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "reader2@nhs.example"}], "complaintFeedbackType": "abuse"},
        "mail": {"headers": []}
    })
    .to_string();
    let answer = post_json(
        &ses,
        &sns_notification(&key, "id-7", &complaint, &now, "1"),
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(suppressed(&project).contains("reader2@nhs.example,complaint,"));

    // Postmark: the credentials in its webhook URL. Its address in other
    // capitals is recorded as the list spells it (issue 20, adversarial
    // run, finding 7).
    let postmark = format!("http://127.0.0.1:{port}/hooks/postmark");
    let basic = |password: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("postmark:{password}"))
        )
    };
    let bounce = serde_json::json!({
        "RecordType": "Bounce", "ID": 4323372036854775807u64, "Type": "HardBounce", "TypeCode": 1,
        "Email": "Reader3@NHS.example", "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483"
    });
    assert_eq!(
        post_json(&postmark, &bounce, Some(&basic("wrong"))).status,
        401
    );
    assert_eq!(post_json(&postmark, &bounce, None).status, 401);
    assert_eq!(rows(), 3);
    for _ in 0..2 {
        assert_eq!(
            post_json(&postmark, &bounce, Some(&basic("s3cret"))).status,
            200
        );
    }
    // The scheme in any case (issue 20, adversarial run, finding 7).
    let lower = basic("s3cret").replacen("Basic", "basic", 1);
    assert_eq!(post_json(&postmark, &bounce, Some(&lower)).status, 200);
    let list = suppressed(&project);
    assert_eq!(list.matches("reader3@nhs.example").count(), 1, "{list}");
    assert!(
        list.contains("reader3@nhs.example,hard-bounce - user-unknown,"),
        "{list}"
    );
    let spam = serde_json::json!({
        "RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "TypeCode": 512,
        "Email": "reader4@nhs.example", "Description": "", "Details": ""
    });
    assert_eq!(
        post_json(&postmark, &spam, Some(&basic("s3cret"))).status,
        200
    );
    assert!(suppressed(&project).contains("reader4@nhs.example,complaint,"));
}
