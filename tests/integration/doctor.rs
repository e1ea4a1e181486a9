//! `catchup doctor` against a real authoritative DNS server (Knot) on
//! loopback, serving a correct zone and broken ones: no DMARC, SPF that
//! omits the relay, a stale DKIM key, a From that DMARC's strict alignment
//! refuses, and an SPF record of too many lookups. See: issue 21.

use crate::support::knot::Knot;
use crate::support::{Project, skip};

/// A project sending as `domain` (From, web, mailto), through a relay at
/// 127.0.0.1, signed with an RSA key under `cu1`; its DKIM record.
fn project(domain: &str, from_domain: &str) -> (Project, String) {
    let project = Project::example();
    let settings = project
        .read("config/newsletter.toml")
        .replace("catchup@hsj.example", &format!("catchup@{from_domain}"))
        .replace("hsj.example", domain);
    project.write("config/newsletter.toml", settings);
    let record = project.keygen("cu1", "rsa");
    let settings = project.read("config/newsletter.toml")
        + &format!(
            "\n[[dkim]]\ndomain = \"{domain}\"\nselector = \"cu1\"\nprivate_key = \"dkim/cu1.pem\"\n"
        );
    project.write("config/newsletter.toml", settings);
    project.use_smtp(25, "");
    (project, record)
}

/// A TXT record's text as a zone file writes it: quoted strings of at most
/// 255 characters, in parentheses.
fn txt(text: &str) -> String {
    let parts: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", std::str::from_utf8(c).expect("ascii")))
        .collect();
    format!("( {} )", parts.join(" "))
}

/// The zone of `domain`: the relay and web at 127.0.0.1, an MX, and the
/// records given (`None` leaves one out).
fn zone(
    domain: &str,
    dkim: Option<&str>,
    spf: &str,
    dmarc: Option<&str>,
    extra: &str,
) -> (String, String) {
    let mut text = format!(
        "$ORIGIN {domain}.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n@ A 127.0.0.1\n@ MX 10 mail\nmail A 127.0.0.1\nnews A 127.0.0.1\n@ TXT {}\n",
        txt(spf)
    );
    if let Some(record) = dkim {
        text += &format!("cu1._domainkey TXT {}\n", txt(record));
    }
    if let Some(record) = dmarc {
        text += &format!("_dmarc TXT {}\n", txt(record));
    }
    text += extra;
    (domain.to_string(), text)
}

#[test]
fn doctor_passes_a_correct_zone_and_names_what_is_wrong_in_each_broken_one() {
    let test = "doctor::doctor_passes_a_correct_zone_and_names_what_is_wrong_in_each_broken_one";
    let spf = "v=spf1 ip4:127.0.0.1 -all";
    let dmarc = "v=DMARC1; p=reject; rua=mailto:postmaster@x.example";
    let (good, good_key) = project("good.example", "good.example");
    let (no_dmarc, no_dmarc_key) = project("nodmarc.example", "nodmarc.example");
    let (wrong_spf, wrong_spf_key) = project("wrongspf.example", "wrongspf.example");
    let (stale, _) = project("stale.example", "stale.example");
    let (_, other_key) = project("other.example", "other.example");
    // From at a subdomain, signed and returned at its parent; DMARC asks
    // strict alignment.
    let (strict, strict_key) = project("strict.example", "news.strict.example");
    let (lookups, lookups_key) = project("lookups.example", "lookups.example");
    let includes: String = (1..=11)
        .map(|n| format!(" include:i{n}.lookups.example"))
        .collect();
    let include_records: String = (1..=11)
        .map(|n| format!("i{n} TXT \"v=spf1 -all\"\n"))
        .collect();
    // A record that includes itself, asked without end before.
    let (looping, looping_key) = project("loop.example", "loop.example");
    let zones = vec![
        zone(
            "loop.example",
            Some(&looping_key),
            "v=spf1 include:loop.example include:loop.example -all",
            Some(dmarc),
            "",
        ),
        zone("good.example", Some(&good_key), spf, Some(dmarc), ""),
        zone("nodmarc.example", Some(&no_dmarc_key), spf, None, ""),
        zone(
            "wrongspf.example",
            Some(&wrong_spf_key),
            "v=spf1 ip4:192.0.2.1 -all",
            Some(dmarc),
            "",
        ),
        zone("stale.example", Some(&other_key), spf, Some(dmarc), ""),
        zone(
            "strict.example",
            Some(&strict_key),
            spf,
            None,
            &format!(
                "news A 127.0.0.1\n_dmarc.news TXT {}\n",
                txt("v=DMARC1; p=reject; adkim=s; aspf=s")
            ),
        ),
        zone(
            "lookups.example",
            Some(&lookups_key),
            &format!("v=spf1 ip4:127.0.0.1{includes} -all"),
            Some(dmarc),
            &include_records,
        ),
    ];
    let knot = match Knot::start(&zones) {
        Ok(knot) => knot,
        Err(why) => return skip(test, &why),
    };
    let resolver = format!("127.0.0.1:{}", knot.port);
    let doctor = |project: &Project| project.expect(&["doctor", "--resolver", &resolver]);
    let warned = "`catchup doctor` has not passed for the DKIM keys in use";
    good.expect(&["check"])
        .code(0)
        .stdout_matches("[..]; 1 warning(s)\n")
        .stderr_has(warned);

    doctor(&good).code(0).stdout_is(
        "ok       DKIM: cu1._domainkey.good.example holds the key in use
ok       SPF: good.example has a record, 0 of 10 lookups
ok       SPF: good.example authorises the relay 127.0.0.1
ok       DMARC: _dmarc.good.example (p=reject) passes, aligned by DKIM and SPF
ok       return path: good.example takes mail (MX mail.good.example)
ok       web: news.good.example resolves

Receivers will find what they check: mail should be delivered.
",
    );
    // `check` warns until doctor has passed for the keys in use.
    good.expect(&["check"])
        .code(0)
        .stdout_matches("[..]; 0 warning(s)\n")
        .stderr_is("");
    no_dmarc
        .expect(&["check"])
        .code(0)
        .stdout_matches("[..]; 1 warning(s)\n")
        .stderr_has(warned);
    doctor(&no_dmarc)
        .code(8)
        .stdout_has("JUNK     DMARC: nodmarc.example has no DMARC record; Gmail and Yahoo require one of bulk senders\n         publish: _dmarc.nodmarc.example. TXT \"v=DMARC1; p=none; rua=mailto:postmaster@nodmarc.example\"\n");
    doctor(&wrong_spf)
        .code(8)
        .stdout_has("JUNK     SPF: wrongspf.example does not authorise the relay 127.0.0.1 (127.0.0.1): Fail\n         publish: wrongspf.example. TXT \"v=spf1 ip4:127.0.0.1 -all\"\n")
        // DKIM still aligns, so DMARC passes.
        .stdout_has("ok       DMARC: _dmarc.wrongspf.example (p=reject) passes, aligned by DKIM\n");
    doctor(&stale).code(8).stdout_has(
        "JUNK     DKIM: cu1._domainkey.stale.example holds another key than the one in use",
    );
    doctor(&strict)
        .code(9)
        .stdout_has("REFUSED  DMARC: _dmarc.news.strict.example (p=reject) fails: neither a good DKIM signature nor SPF aligns with news.strict.example (strict alignment)")
        .stdout_has("Mail would be refused");
    doctor(&looping)
        .code(8)
        .stdout_has(
            "JUNK     SPF: loop.example's record takes more than 10 DNS lookups (at least 11)",
        )
        .stdout_has(
            "JUNK     SPF: loop.example's SPF takes more than 10 DNS lookups to check an address",
        );
    doctor(&lookups).code(8).stdout_has(
        "JUNK     SPF: lookups.example's record takes more than 10 DNS lookups (at least 11); receivers stop at 10",
    );
}

/// Nothing answers: doctor says it could not check (exit 4), and does not
/// call the mail fine.
#[test]
fn doctor_says_when_dns_does_not_answer() {
    let (project, _) = project("good.example", "good.example");
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("port");
    let port = silent.local_addr().expect("addr").port();
    project
        .expect(&["doctor", "--resolver", &format!("127.0.0.1:{port}")])
        .code(4)
        .stdout_has("UNKNOWN  DKIM: cu1._domainkey.good.example:")
        .stdout_has("DNS did not answer every question");
}
