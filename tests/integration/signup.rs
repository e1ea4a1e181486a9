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
    for _ in 0..1000 {
        let answer = sign_up(&service, "email=target%40nhs.example&consent=yes");
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
    for i in 0..1000 {
        let answer = sign_up(
            &service,
            &format!("email=victim{i}%40nhs.example&consent=yes"),
        );
        assert_eq!(answer.status, 200);
    }
    wait_until(|| confirmations(&server).len() >= 5);
    std::thread::sleep(Duration::from_millis(500));
    let expected: Vec<String> = (0..5).map(|i| format!("victim{i}@nhs.example")).collect();
    let mut got = confirmations(&server);
    got.sort();
    assert_eq!(got, expected);
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
