#!/usr/bin/env bash
# A list of a million readers: peak memory and time of `send --dry-run`, of
# a list send to Postfix's smtp-sink on loopback that is killed with
# `kill -9` part way, of `status` on its ledger, and of the send that
# resumes it. The budget is 64 MB.
#
# Needs: postfix (smtp-sink) and GNU time:  apt-get install postfix time
# Usage: bench/million.sh [READERS] [KILL_AFTER_SECONDS]   (defaults: 1000000, 60)
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-1000000}
kill_after=${2:-60}
root=$PWD
work=$root/target/bench/million
rm -rf "$work" && mkdir -p "$work"

. bench/sink.sh

cp -r tests/fixtures/project/seeds tests/fixtures/project/config "$work/"
cat >> "$work/config/newsletter.toml" <<TOML

[smtp]
host = "127.0.0.1"
port = $port
security = "none"
connections = 4
TOML
python3 -c "
import sys
print('email,name')
for i in range(int(sys.argv[1])): print(f'reader{i}@nhs.example,Reader {i}')" "$readers" > "$work/config/subscribers.csv"
issue=config/issues/2018-07-27.toml
cd "$work"

measure() { # $1 = label, rest = command; prints "label: seconds s, peak MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/$label.out" 2> "$work/$label.err" || true
  read -r seconds kb < <(tail -1 "$work/time.txt")
  printf '%-28s %7.2f s   peak %6.1f MB\n' "$label" "$seconds" "$(echo "$kb / 1024" | bc -l)"
}

echo "$readers readers ($(du -h config/subscribers.csv | cut -f1) list)"
measure "send --dry-run" "$catchup" send "$issue" --all --dry-run
# The send, killed part way.
"$catchup" send "$issue" --all > "$work/killed.out" 2> "$work/killed.err" &
sender=$!
sleep "$kill_after"
kill -9 "$sender" || true
wait "$sender" || true
sent=$(grep -c '"event":"sent"' state/2018-07-27/ledger.jsonl || true)
echo "killed after ${kill_after} s with $sent readers sent ($(du -h state/2018-07-27/ledger.jsonl | cut -f1) ledger)"
measure "status" "$catchup" status "$issue"
measure "send --dry-run (resumed)" "$catchup" send "$issue" --all --dry-run
measure "send --all (resumed)" "$catchup" send "$issue" --all
tail -3 "$work/send --all (resumed).out"
total=$(grep -c '"event":"sent"' state/2018-07-27/ledger.jsonl || true)
echo "sent in all: $total of $readers"
# With every reader in the ledger: the most a run keeps.
measure "status (all sent)" "$catchup" status "$issue"
measure "send --all (all sent)" "$catchup" send "$issue" --all
