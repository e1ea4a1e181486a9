#!/usr/bin/env bash
# How often one run opens each input, and how many bytes it reads from it
# (strace -y), for a list send, a dry run, `status` and `bounces`. Issue 19
# asked that each input be read once per pass; this prints the figures.
#
# Needs: strace, postfix (smtp-sink).   Usage: bench/reads.sh [READERS]
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-2000}
root=$PWD
work=$root/target/bench/reads
rm -rf "$work" && mkdir -p "$work"
cargo build --quiet
catchup=$root/target/debug/catchup
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$port" 1024 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.3

cp -r tests/fixtures/project/seeds tests/fixtures/project/config "$work/"
cat >> "$work/config/newsletter.toml" <<TOML

[smtp]
host = "127.0.0.1"
port = $port
security = "none"
TOML
python3 -c "
import sys
print('email,name')
for i in range(int(sys.argv[1])): print(f'reader{i}@nhs.example,Reader {i}')" "$readers" > "$work/config/subscribers.csv"
printf 'email,reason,at,issue\nreader1@nhs.example,unsubscribe,2026-11-20T09:00:00Z,\n' > "$work/config/suppressed.csv"
mkdir -p "$work/mail"
printf 'From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\n550 5.1.1 user unknown\n' > "$work/mail/1.eml"
cd "$work"
export CATCHUP_SECRET=0123456789abcdef0123456789abcdef0123
issue=config/issues/2018-07-27.toml

# Opens and bytes read per file of interest, from an strace -y log.
tally() {
  python3 - "$1" <<'PY'
import re, sys, collections
opens = collections.Counter(); bytes_ = collections.Counter()
for line in open(sys.argv[1]):
    m = re.search(r'openat\([^"]*"([^"]+)"', line)
    if m and not line.rstrip().endswith('= -1 ENOENT (No such file or directory)'):
        opens[m.group(1)] += 1
    m = re.search(r'\b(?:read|pread64)\(\d+<([^>]+)>.*\) = (\d+)', line)
    if m:
        bytes_[m.group(1)] += int(m.group(2))
for name in ['subscribers.csv', 'suppressed.csv', '2018-07-27.toml', 'newsletter.toml', 'bounces.csv', 'ledger.jsonl', '1.eml']:
    o = sum(v for k, v in opens.items() if k.endswith(name))
    b = sum(v for k, v in bytes_.items() if k.endswith(name))
    if o or b:
        print(f'    {name:18} opened {o:3}   read {b:>11,} bytes')
PY
}

run() { # $1 = label, rest = catchup arguments
  local label=$1; shift
  strace -f -y -e trace=openat,read,pread64 -o "$work/$label.strace" "$catchup" "$@" > /dev/null 2>&1 || true
  echo "$label: catchup $*"
  tally "$work/$label.strace"
}

echo "$readers readers; list $(wc -c < config/subscribers.csv) bytes"
run dry-run send "$issue" --all --dry-run
run list-send send "$issue" --all
run status status "$issue"
run bounces bounces mail --dry-run
