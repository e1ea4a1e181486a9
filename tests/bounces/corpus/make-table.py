#!/usr/bin/env python3
"""Writes expected.tsv: what each message in this corpus is, as Sisimai's
maintainers recorded it.

The reason of each recipient comes from the hand-written expectations in
p5-sisimai's own tests (t/*-lhost-*.t, t/*-rhost-*.t, t/*-arf.t, ...: the
`$isexpected` tables, one row per recipient: status, reply code, reason,
hard bounce). The recipient's address, which those tables do not give,
comes from running that same checkout's Sisimai on the message. catchup's
reason and outcome are Sisimai's reason translated (REASONS below).

Run by hand, not by the tests:

    git clone https://github.com/sisimai/p5-sisimai /tmp/p5   # 21cfb93...
    tests/bounces/corpus/make-table.py /tmp/p5 > tests/bounces/corpus/expected.tsv
"""
import glob
import json
import os
import re
import subprocess
import sys

# Sisimai's reason -> catchup's reason.
REASONS = {
    "userunknown": "user-unknown", "hostunknown": "host-unknown",
    "hasmoved": "moved", "suspend": "disabled", "notaccept": "not-accepting",
    "mailboxfull": "mailbox-full", "mesgtoobig": "too-big",
    "exceedlimit": "too-big", "expired": "expired",
    "blocked": "blocked", "requireptr": "blocked", "badreputation": "blocked",
    "norelaying": "blocked", "rejected": "blocked",
    "spamdetected": "spam", "virusdetected": "spam",
    "filtered": "policy", "policyviolation": "policy",
    "contenterror": "policy", "securityerror": "policy",
    "notcompliantrfc": "policy", "syntaxerror": "policy",
    "authfailure": "authentication",
    "toomanyconn": "rate-limit", "speeding": "rate-limit",
    "systemerror": "system-error", "systemfull": "system-error",
    "networkerror": "system-error", "mailererror": "system-error",
    "onhold": "unknown", "undefined": "unknown",
    "feedback": "complaint", "vacation": "none", "delivered": "none",
}

RECIPIENTS = r"""
use Sisimai; use JSON::PP;
my %out;
for my $f (@ARGV) {
  my $v = Sisimai->rise($f, 'delivered' => 1, 'vacation' => 1) || [];
  $out{$f} = [ map { $_->recipient->address } @$v ];
}
print JSON::PP->new->canonical->encode(\%out);
"""


# Where catchup reads a message otherwise than Sisimai, on purpose: the
# file name (in every folder), catchup's outcome and reason, and why.
DIFFERS = {
    name: ("not-a-bounce", "authentication",
           "an RFC 6591 authentication-failure report is about the sender's "
           "DKIM or SPF, not a reader's complaint (Sisimai: feedback)")
    for name in ("arf-18.eml", "arf-19.eml", "arf-20.eml")
}
DIFFERS["arf-26.eml"] = (
    "not-a-bounce", "none",
    "iCloud's unsubscribe request to another sender's mailto address: "
    "catchup honours only requests to its own [unsubscribe] mailto "
    "(Sisimai: feedback)")


def outcome(reason, hard):
    if reason == "feedback":
        return "complaint"
    if reason in ("vacation", "delivered"):
        return "not-a-bounce"
    return "hard" if hard == "1" else "soft"


def expectations(p5):
    """(file name, [(reason, hard)]) from the $isexpected tables."""
    for test in sorted(glob.glob(f"{p5}/t/*.t")):
        source = open(test, encoding="utf-8").read()
        engine = re.search(r"\$enginename\s*=\s*'([^']+)'", source)
        if not engine or "$isexpected" not in source:
            continue
        engine = engine.group(1).lower()
        prefixes = ["rhost-", "lhost-", ""] if "rhost" in test else ["lhost-", "rhost-", ""]
        table = source[source.index("$isexpected"):]
        for entry in re.finditer(r"'(\d+)'\s*=>\s*\[((?:\s*\[[^\]]*\],?)+)\s*\]", table):
            rows = re.findall(
                r"\[\s*'[^']*'\s*,\s*'[^']*'\s*,\s*'([^']*)'\s*,\s*(-?\d)", entry.group(2))
            index = int(entry.group(1))
            for prefix in prefixes:
                name = f"{prefix}{engine}-{index:02d}.eml"
                if os.path.exists(f"{p5}/set-of-emails/maildir/bsd/{name}"):
                    yield name, rows
                    break


def main(p5):
    expected = dict(expectations(p5))
    here = os.path.dirname(os.path.abspath(__file__))
    files = sorted(
        os.path.relpath(path, here)
        for folder in ("lf", "crlf", "cr", "not")
        for path in glob.glob(f"{here}/{folder}/*.eml"))
    lf = [f"{here}/{f}" for f in files if f.startswith("lf/")]
    found = json.loads(subprocess.run(
        ["perl", f"-I{p5}/lib", "-e", RECIPIENTS, *lf],
        check=True, capture_output=True, text=True).stdout)
    print("file\trecipient\tsisimai\treason\toutcome\tnote")
    for path in files:
        name = os.path.basename(path)
        if path.startswith("not/"):
            print(f"{path}\t\tnone\tnone\tnot-a-bounce\t")
            continue
        rows = expected.get(name)
        if rows is None:
            continue  # no hand-written expectation: left out of the corpus
        # The CRLF and CR copies are the LF file with other line endings
        # (make-table checks nothing of that; the copies were chosen so):
        # their recipients are the LF file's.
        addresses = found.get(f"{here}/lf/{name}", [])
        for i, (reason, hard) in enumerate(rows):
            address = addresses[i] if i < len(addresses) else ""
            ours, why = (REASONS[reason], outcome(reason, hard)), ""
            if name in DIFFERS:
                *ours, why = DIFFERS[name]
                ours = (ours[1], ours[0])
            print(f"{path}\t{address}\t{reason}\t{ours[0]}\t{ours[1]}\t{why}")


if __name__ == "__main__":
    main(sys.argv[1])
