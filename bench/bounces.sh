#!/usr/bin/env bash
# How fast `catchup bounces` reads returned mail, against Sisimai (Debian's
# libsisimai-perl), the well-known classifier, on the same 685 real
# messages of tests/bounces/corpus, in the same run: each reads every
# message and says what it is; the figure is the ratio of their best times.
#
# Needs: libsisimai-perl.   Usage: bench/bounces.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
perl -MSisimai -e 1 2>/dev/null || {
  echo "bench/bounces.sh: Sisimai is not installed (apt-get install libsisimai-perl)" >&2
  exit 1
}
cargo build --release --quiet
catchup=$PWD/target/release/catchup
corpus=$PWD/tests/bounces/corpus
folders=("$corpus"/lf "$corpus"/crlf "$corpus"/cr "$corpus"/not)
messages=$(ls "${folders[@]}" | grep -c '\.eml$')
best() {
  local best=999999
  for _ in $(seq "$runs"); do
    local start end took
    start=$(date +%s%N)
    "$@" > /dev/null 2>&1 || { echo "bench/bounces.sh: failed: $*" >&2; exit 1; }
    end=$(date +%s%N)
    took=$(( (end - start) / 1000000 ))
    (( took < best )) && best=$took
  done
  echo "$best"
}
cd tests/fixtures/project
ours=$(best "$catchup" bounces --explain --json "${folders[@]}")
theirs=$(best perl -MSisimai -e 'for my $d (@ARGV) { my $v = Sisimai->make($d) || [] }' "${folders[@]}")
echo "messages: $messages"
echo "catchup bounces --explain: ${ours} ms (best of $runs)"
echo "Sisimai $(perl -MSisimai -e 'print $Sisimai::VERSION'): ${theirs} ms (best of $runs)"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "catchup takes %.2f of Sisimai'"'"'s time\n", a / b }'
