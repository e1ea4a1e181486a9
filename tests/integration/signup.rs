//! Readers joining: the form, the confirmation message and its page, the
//! limits, mail scanners, and the join surviving `kill -9`. See: issue 22.

use std::time::Duration;

use crate::support::smtp::SmtpServer;
use crate::support::web::{Answer, Service, request, request_with};
use crate::support::{Project, mime};

const ISSUE: &str = "config/issues/2018-07-27.toml";

pub const CONSENT: &str = "Send me HSJ Catch Up every Friday. I can unsubscribe at any time.";

/// The example project with `[subscribe]` (`extra` adds settings), an SMTP
/// server for its confirmations, and two readers on the list; the service
/// is not started.
pub fn project(extra: &str) -> (Project, SmtpServer, u16) {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(&format!(
        "\n[subscribe]\nconsent = \"{CONSENT}\"\n{extra}\n"
    ));
    project.write("config/newsletter.toml", settings);
    (project, server, port)
}

/// The form's POST, as a browser sends it.
pub fn sign_up(service: &Service, fields: &str) -> Answer {
    request(
        "POST",
        &service.url("/subscribe"),
        Some("application/x-www-form-urlencoded"),
        fields.as_bytes(),
    )
}

/// The confirmation link in the message the server got for `to` (the
/// last one, if several).
pub fn confirmation_link(server: &SmtpServer, to: &str) -> String {
    server.wait_for_rcpt(to, Duration::from_secs(10));
    let delivery = server
        .deliveries()
        .into_iter()
        .rfind(|d| d.rcpt == to)
        .expect("a confirmation");
    let message = mime::parse(&server.message(delivery.n));
    message
        .text
        .split_whitespace()
        .find(|w| w.contains("/confirm/"))
        .expect("a confirmation link")
        .to_string()
}

/// The form token on a confirmation page.
pub fn form_token(page: &str) -> String {
    let document = scraper::Html::parse_document(page);
    let selector = scraper::Selector::parse("form input[name=form]").expect("selector");
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the page's form token")
        .to_string()
}

fn press(link: &str, form: &str) -> Answer {
    request_with(
        "POST",
        link,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("form={form}").as_bytes(),
    )
}

fn signups(project: &Project) -> Vec<serde_json::Value> {
    std::fs::read_to_string(project.path().join("state/signups.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn events(project: &Project) -> Vec<String> {
    signups(project)
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["event"].as_str().unwrap_or(""),
                r["email"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_reader_signs_up_confirms_with_the_button_and_gets_the_next_send() {
    let (project, server, port) = project("");
    let service = project.serve(port);
    let form = request("GET", &service.url("/subscribe"), None, b"");
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(CONSENT),
        "the consent wording: {}",
        form.body
    );

    let answer = sign_up(
        &service,
        "email=New.Reader%40nhs.example&name=New+Reader&consent=yes&website=",
    );
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("Check your inbox"), "{}", answer.body);
    let link = confirmation_link(&server, "New.Reader@nhs.example");
    let confirmation = mime::parse(
        &server.message(
            server
                .deliveries()
                .iter()
                .find(|d| d.rcpt == "New.Reader@nhs.example")
                .expect("sent")
                .n,
        ),
    );
    assert_eq!(
        confirmation.subject,
        "Confirm your subscription to HSJ Catch Up"
    );
    assert_eq!(
        events(&project)[..1],
        ["asked New.Reader@nhs.example".to_string()]
    );

    // Opening the link (twice, and its HEAD) confirms nobody.
    for method in ["GET", "HEAD", "GET"] {
        let seen = request(method, &link, None, b"");
        assert_eq!(seen.status, 200, "{method}");
    }
    let page = request("GET", &link, None, b"");
    assert!(page.body.contains("One more step"), "{}", page.body);
    assert!(!events(&project).iter().any(|e| e.starts_with("confirmed")));
    assert!(
        !project
            .read("config/subscribers.csv")
            .contains("New.Reader")
    );

    // A POST without the page's form token is refused.
    assert_eq!(press(&link, "forged").status, 403);
    let done = press(&link, &form_token(&page.body));
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You are subscribed"), "{}", done.body);
    wait_until(|| {
        project
            .read("config/subscribers.csv")
            .contains("New.Reader@nhs.example")
    });
    assert_eq!(
        project.read("config/subscribers.csv"),
        "email,name,team\n\
         reader1@nhs.example,Reader 1,team1\n\
         reader2@nhs.example,Reader 2,team2\n\
         New.Reader@nhs.example,New Reader,\n"
    );
    let record = &signups(&project)[0];
    assert_eq!(record["wording"], CONSENT);
    assert_eq!(record["source"], "form");
    assert!(
        record.get("client").is_none(),
        "no client address by default"
    );
    wait_until(|| events(&project).iter().any(|e| e.starts_with("joined")));
    let kinds: Vec<String> = events(&project);
    assert_eq!(
        kinds,
        [
            "asked New.Reader@nhs.example",
            "mailed New.Reader@nhs.example",
            "confirmed New.Reader@nhs.example",
            "joined New.Reader@nhs.example"
        ]
    );
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    assert!(
        server
            .deliveries()
            .iter()
            .any(|d| d.rcpt == "New.Reader@nhs.example"
                && mime::parse(&server.message(d.n)).subject != confirmation.subject)
    );

    // Once an issue has gone out, confirming shows it, under a line that
    // says the reader is subscribed.
    sign_up(&service, "email=later%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "later@nhs.example");
    let page = request("GET", &link, None, b"");
    let shown = press(&link, &form_token(&page.body));
    assert_eq!(shown.status, 200);
    let document = scraper::Html::parse_document(&shown.body);
    let text = |css: &str| {
        document
            .select(&scraper::Selector::parse(css).expect("selector"))
            .next()
            .map(|e| e.text().collect::<String>())
            .unwrap_or_default()
    };
    assert_eq!(
        text("div[role=status]"),
        "You are subscribed. l***@nhs.example will get HSJ Catch Up from the next issue. Here is the latest:"
    );
    assert_eq!(text("h1.name"), "HSJ Catch Up", "the issue's masthead");
    let archived = request("GET", &service.url("/issues/2018-07-27.html"), None, b"");
    assert!(
        shown.body.ends_with(
            &archived.body[archived.body.find("<body").expect("body")..]
                .split_once('>')
                .expect(">")
                .1
        ),
        "the archive's page, whole"
    );
}

/// `n` sign-ups, the `i`th with `fields(i)`, from 20 connections at once
/// (every answer takes at least 100 ms, so that its timing says nothing).
fn in_parallel(
    service: &Service,
    n: usize,
    fields: impl Fn(usize) -> String + Sync,
) -> Vec<Answer> {
    let url = service.url("/subscribe");
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..20)
            .map(|w| {
                let (url, fields) = (&url, &fields);
                scope.spawn(move || {
                    (w..n)
                        .step_by(20)
                        .map(|i| {
                            request(
                                "POST",
                                url,
                                Some("application/x-www-form-urlencoded"),
                                fields(i).as_bytes(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    })
}

pub fn wait_until(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(15), "not within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn confirmations(server: &SmtpServer) -> Vec<String> {
    server
        .deliveries()
        .iter()
        .filter(|d| {
            mime::parse(&server.message(d.n))
                .subject
                .starts_with("Confirm your subscription")
        })
        .map(|d| d.rcpt.clone())
        .collect()
}

#[test]
fn a_thousand_sign_ups_of_one_address_send_three_confirmations() {
    let (project, server, port) = project("per_client = 10000");
    let service = project.serve(port);
    for answer in in_parallel(&service, 1000, |_| {
        "email=target%40nhs.example&consent=yes".into()
    }) {
        assert_eq!(answer.status, 200);
        assert!(answer.body.contains("Check your inbox"));
    }
    wait_until(|| confirmations(&server).len() >= 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(confirmations(&server), vec!["target@nhs.example"; 3]);
    assert_eq!(
        events(&project)
            .iter()
            .filter(|e| e.starts_with("asked"))
            .count(),
        3,
        "nothing is recorded past the limit"
    );
}

#[test]
fn a_thousand_sign_ups_from_one_client_are_held_to_its_limit() {
    let (project, server, port) = project("per_client = 5");
    let service = project.serve(port);
    for answer in in_parallel(&service, 1000, |i| {
        format!("email=victim{i}%40nhs.example&consent=yes")
    }) {
        assert_eq!(answer.status, 200);
    }
    wait_until(|| confirmations(&server).len() >= 5);
    std::thread::sleep(Duration::from_millis(500));
    let got = confirmations(&server);
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got.iter().all(|to| to.starts_with("victim")));
}

#[test]
fn a_confirmed_reader_submitted_again_stays_as_they_are_and_the_page_says_nothing() {
    let (project, server, port) = project("");
    let service = project.serve(port);
    let list = project.read("config/subscribers.csv");
    let known = sign_up(&service, "email=reader1%40nhs.example&consent=yes");
    let unknown = sign_up(&service, "email=someone%40nhs.example&consent=yes");
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.body, unknown.body, "the same page for both");
    wait_until(|| confirmations(&server).len() == 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(confirmations(&server), ["someone@nhs.example"]);
    assert_eq!(project.read("config/subscribers.csv"), list);
    assert_eq!(
        events(&project),
        ["asked someone@nhs.example", "mailed someone@nhs.example"]
    );
    // The hidden field filled in: a bot, answered alike, nothing done.
    let bot = sign_up(
        &service,
        "email=bot%40nhs.example&consent=yes&website=http%3A%2F%2Fspam.example",
    );
    assert_eq!(bot.body, unknown.body);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(confirmations(&server).len(), 1);
}

#[test]
fn a_forged_changed_or_expired_link_confirms_nobody() {
    let (project, server, port) = project("");
    let service = project.serve(port);
    sign_up(&service, "email=new%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "new@nhs.example");
    let token = link.rsplit('/').next().expect("token").to_string();
    let (id, rest) = token.split_once('.').expect("id.");
    let (expires, mac) = rest.split_once('.').expect("expires.mac");
    let later: i64 = expires.parse::<i64>().expect("expiry") + 86_400 * 30;
    let forged = [
        format!("{id}.{later}.{mac}"),
        format!("{}.{expires}.{mac}", "0".repeat(32)),
        format!("{id}.{expires}.{}", "A".repeat(mac.len())),
        format!("{id}.{expires}"),
        format!("{id}.+{expires}.{mac}"),
        format!("{id}.0{expires}.{mac}"),
        format!("{}.{expires}.{mac}", id.to_uppercase()),
        "x".into(),
    ];
    for token in &forged {
        let url = service.url(&format!("/confirm/{token}"));
        let page = request("GET", &url, None, b"");
        assert_eq!(page.status, 404, "{token}: {}", page.body);
        assert!(page.body.contains("This link is not valid"));
        let form = crate::support::web::request_with(
            "POST",
            &url,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"form=x",
        );
        assert_ne!(form.status, 200, "{token}");
    }
    assert!(!events(&project).iter().any(|e| e.starts_with("confirmed")));

    // A link rightly made for the sign-up whose day has passed.
    let past = crate::support::confirm_token(id, 1_600_000_000);
    let fresh = crate::support::confirm_token(id, expires.parse().expect("expiry"));
    assert_eq!(
        format!("{}/confirm/{fresh}", service.url("")).replace("//confirm", "/confirm"),
        link,
        "the test makes tokens as catchup does"
    );
    let page = request("GET", &service.url(&format!("/confirm/{past}")), None, b"");
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.body.contains("This link has expired"));
    assert!(!events(&project).iter().any(|e| e.starts_with("confirmed")));
}

#[test]
fn kill_9_under_sign_ups_and_confirmations_loses_none_that_was_answered() {
    let (project, server, port) = project("per_client = 10000\nper_hour = 100000");
    let mut service = project.serve(port);
    let first: Vec<String> = (0..30).map(|i| format!("early{i}@nhs.example")).collect();
    for email in &first {
        sign_up(
            &service,
            &format!("email={}&consent=yes", email.replace('@', "%40")),
        );
    }
    let presses: Vec<(String, String, String)> = first
        .iter()
        .map(|email| {
            let link = confirmation_link(&server, email);
            let form = form_token(&request("GET", &link, None, b"").body);
            (email.clone(), link, form)
        })
        .collect();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let confirmer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut confirmed = Vec::new();
            for (email, link, form) in presses {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let answer = crate::support::web::try_request(
                    "POST",
                    &link,
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    format!("form={form}").as_bytes(),
                );
                if answer.is_some_and(|a| a.body.contains("You are subscribed")) {
                    confirmed.push(email);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            confirmed
        })
    };
    let url = service.url("/subscribe");
    let signer = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut answered = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let email = format!("load{i}@nhs.example");
                let answer = crate::support::web::try_request(
                    "POST",
                    &url,
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    format!("email=load{i}%40nhs.example&consent=yes").as_bytes(),
                );
                if answer.is_some_and(|a| a.body.contains("Check your inbox")) {
                    answered.push(email);
                }
            }
            answered
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    service.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let confirmed = confirmer.join().expect("confirmer");
    let answered = signer.join().expect("signer");
    assert!(
        !answered.is_empty() && !confirmed.is_empty(),
        "the load ran"
    );
    eprintln!(
        "kill -9 after {} sign-ups and {} confirmations answered",
        answered.len(),
        confirmed.len()
    );

    let records = events(&project);
    for email in &answered {
        assert!(
            records.contains(&format!("asked {email}")),
            "{email} was answered but not kept"
        );
    }
    let confirmed_emails = confirmed;
    for email in &confirmed_emails {
        assert!(
            records.contains(&format!("confirmed {email}")),
            "{email} was told it was subscribed but is not"
        );
    }
    // Started again, the service puts every confirmed reader on the list.
    let _again = project.serve(port);
    wait_until(|| {
        let list = project.read("config/subscribers.csv");
        confirmed_emails.iter().all(|e| list.contains(e.as_str()))
    });
}

#[test]
fn a_reader_who_left_joins_again_with_a_new_consent_record_and_a_welcome() {
    let (project, server, port) =
        project("welcome = \"Thanks for joining. Catch Up comes every Friday.\"");
    // reader1 unsubscribed last month.
    project.write(
        "config/suppressed.csv",
        "email,reason,at,issue\nreader1@nhs.example,unsubscribe,2026-11-01T10:00:00Z,2018-07-27\n",
    );
    let service = project.serve(port);
    // Suppressed, they are not "on the list": they may ask again.
    sign_up(&service, "email=reader1%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "reader1@nhs.example");
    let page = request("GET", &link, None, b"");
    assert_eq!(press(&link, &form_token(&page.body)).status, 200);
    wait_until(|| events(&project).iter().any(|e| e.starts_with("joined")));
    let suppressed = project.read("config/suppressed.csv");
    assert!(
        suppressed
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("reader1@nhs.example,joined,")),
        "the new consent lifts their unsubscribe: {suppressed}"
    );
    assert_eq!(
        project
            .read("config/subscribers.csv")
            .matches("reader1@nhs.example")
            .count(),
        1,
        "already on the list: not added twice"
    );
    // The welcome, with their own working unsubscribe link.
    server.wait_for(2, Duration::from_secs(10));
    let welcome = mime::parse(&server.message(server.deliveries()[1].n));
    assert_eq!(welcome.subject, "Welcome to HSJ Catch Up");
    assert!(
        welcome
            .text
            .starts_with("Thanks for joining. Catch Up comes every Friday."),
        "{}",
        welcome.text
    );
    assert_eq!(
        welcome.header("List-Unsubscribe"),
        format!(
            "<{}/u/{}>",
            service.url(""),
            crate::support::token("reader1@nhs.example")
        )
        .replace("//u/", "/u/")
    );
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 2);
    let unsubscribe = request(
        "POST",
        &service.url(&format!(
            "/u/{}",
            crate::support::token("reader1@nhs.example")
        )),
        Some("application/x-www-form-urlencoded"),
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(unsubscribe.status, 200);
    assert!(
        project
            .read("config/suppressed.csv")
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("reader1@nhs.example,unsubscribe,"))
    );
}

#[test]
fn the_client_address_is_kept_only_when_the_operator_asks() {
    let (project, server, port) = project("record_client = true");
    let service = project.serve(port);
    sign_up(&service, "email=kept%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "kept@nhs.example");
    let page = request("GET", &link, None, b"");
    assert_eq!(press(&link, &form_token(&page.body)).status, 200);
    let records = signups(&project);
    assert_eq!(records[0]["client"], "127.0.0.1");
    assert_eq!(records[2]["event"], "confirmed");
    assert_eq!(records[2]["client"], "127.0.0.1");
    project
        .expect(&["readers", "--json"])
        .code(0)
        .stdout_matches(
            r#"[
  {
    "email": "reader1@nhs.example",
    "name": "Reader 1",
    "state": "subscribed",
    "source": "list"
  },
  {
    "email": "reader2@nhs.example",
    "name": "Reader 2",
    "state": "subscribed",
    "source": "list"
  },
  {
    "email": "kept@nhs.example",
    "name": null,
    "state": "[..]",
    "source": "form"
  }
]
"#,
        );
}

#[test]
fn a_bad_address_or_no_tick_gets_the_form_again_and_nothing_is_kept() {
    let (project, server, port) = project("checkbox = true");
    let service = project.serve(port);
    let bad = sign_up(&service, "email=not+an+address&consent=yes");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("That does not look like an email address"),
        "{}",
        bad.body
    );
    let unticked = sign_up(&service, "email=someone%40nhs.example");
    assert_eq!(unticked.status, 400);
    assert!(unticked.body.contains("Tick the box to agree"));
    let injected = sign_up(
        &service,
        "email=a%40nhs.example%0d%0aBcc%3a+x%40evil.example&consent=yes",
    );
    assert_eq!(injected.status, 400, "a line break is no address");
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.deliveries().is_empty());
    assert!(events(&project).is_empty());
}

/// A sign-up's POST from a given loopback address, written by hand.
fn sign_up_from(from: [u8; 4], port: u16, fields: &str) -> String {
    use std::io::{Read as _, Write as _};
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&std::net::SocketAddr::from((from, 0)).into())
        .expect("bind");
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    let mut stream: std::net::TcpStream = socket.into();
    write!(
        stream,
        "POST /subscribe HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
        fields.len()
    )
    .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// One client over its limit does not use up the hour for everyone
/// (adversarial run, issue 22).
#[test]
fn one_client_over_its_limit_leaves_the_hour_to_the_others() {
    let (project, server, port) = project("per_client = 5\nper_hour = 10");
    let _service = project.serve(port);
    for i in 0..50 {
        sign_up_from(
            [127, 0, 0, 1],
            port,
            &format!("email=flood{i}%40nhs.example&consent=yes"),
        );
    }
    let answer = sign_up_from(
        [127, 0, 0, 2],
        port,
        "email=someone%40nhs.example&consent=yes",
    );
    assert!(answer.contains("Check your inbox"), "{answer}");
    wait_until(|| {
        confirmations(&server)
            .iter()
            .any(|to| to == "someone@nhs.example")
    });
    assert_eq!(confirmations(&server).len(), 6);
}

/// Every answer to the form takes at least 100 ms, whether it wrote a
/// sign-up and fsynced it or found the address subscribed and wrote
/// nothing (adversarial run: 3.3 ms against 7.1 ms told them apart).
#[test]
fn the_answer_takes_as_long_whether_the_address_is_subscribed_or_not() {
    let (project, _server, port) = project("");
    let service = project.serve(port);
    for fields in [
        "email=reader1%40nhs.example&consent=yes",
        "email=newcomer%40nhs.example&consent=yes",
    ] {
        let started = std::time::Instant::now();
        let answer = sign_up(&service, fields);
        assert_eq!(answer.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(100), "{fields}");
    }
}

/// A confirmation recorded just before a crash, before the reader's old
/// unsubscribe was lifted: the restarted service finishes the whole join
/// (adversarial run: the row was added, the unsubscribe stayed).
#[test]
fn a_confirmation_recorded_before_a_crash_is_joined_whole_on_restart() {
    let (project, server, port) = project("welcome = \"Welcome back.\"");
    project.write(
        "config/suppressed.csv",
        "email,reason,at,issue\ndee@nhs.example,unsubscribe,2026-11-01T10:00:00Z,\n",
    );
    let mut service = project.serve(port);
    sign_up(&service, "email=dee%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "dee@nhs.example");
    service.kill();
    // What the service had written when it was killed: the confirmation,
    // and nothing after it.
    let id = link
        .rsplit('/')
        .next()
        .expect("token")
        .split('.')
        .next()
        .expect("id");
    let mut file = project.read("state/signups.jsonl");
    file.push_str(&format!(
        "{{\"event\":\"confirmed\",\"id\":\"{id}\",\"email\":\"dee@nhs.example\",\"at\":\"{}\"}}\n",
        wall().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ));
    project.write("state/signups.jsonl", file);
    let _again = project.serve(port);
    wait_until(|| {
        events(&project)
            .iter()
            .any(|e| e == "joined dee@nhs.example")
    });
    assert!(
        project
            .read("config/suppressed.csv")
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("dee@nhs.example,joined,")),
        "{}",
        project.read("config/suppressed.csv")
    );
    project
        .expect(&["readers"])
        .code(0)
        .stdout_has("dee@nhs.example      subscribed");
}

/// An old confirmation link of a reader who has left since says so; it
/// does not say "You are subscribed" (adversarial run).
#[test]
fn a_used_link_of_a_reader_who_left_since_does_not_say_subscribed() {
    let (project, server, port) = project("");
    let service = project.serve(port);
    sign_up(&service, "email=gone%40nhs.example&consent=yes");
    let link = confirmation_link(&server, "gone@nhs.example");
    let page = request("GET", &link, None, b"");
    assert_eq!(press(&link, &form_token(&page.body)).status, 200);
    wait_until(|| {
        events(&project)
            .iter()
            .any(|e| e == "joined gone@nhs.example")
    });
    let left = request(
        "POST",
        &service.url(&format!("/u/{}", crate::support::token("gone@nhs.example"))),
        Some("application/x-www-form-urlencoded"),
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(left.status, 200);
    let again = request("GET", &link, None, b"");
    assert!(
        again.body.contains("You are already unsubscribed"),
        "{}",
        again.body
    );
    assert!(!again.body.contains("You are subscribed"));
}

/// Now, by the wall clock the service under test reads.
#[expect(
    clippy::disallowed_methods,
    reason = "the service under test reads the wall clock"
)]
fn wall() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
