#!/usr/bin/env bash
# List-send throughput against Postfix's smtp-sink on loopback, beside
# smtp-source (Postfix's own load generator, the practical limit) sending the
# same number of messages of the same size over the same number of
# connections, in the same run; and the same send DKIM-signed (RSA-2048,
# Ed25519), to show what signing costs. Then peak memory for 10,000 and
# 100,000 readers.
#
# Needs: postfix (smtp-sink, smtp-source) and GNU time:
#   apt-get install postfix time
# Usage: bench/send.sh [MESSAGES] [RUNS]     (defaults: 10000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
runs=${2:-5}
connections=4
root=$PWD
work=$root/target/bench/send
rm -rf "$work" && mkdir -p "$work"

. bench/sink.sh

# A project whose [smtp] points at the sink.
project() { # $1 = folder, $2 = readers
  mkdir -p "$1"
  cp -r tests/fixtures/project/seeds tests/fixtures/project/config "$1/"
  cat >> "$1/config/newsletter.toml" <<TOML

[smtp]
host = "127.0.0.1"
port = $port
security = "none"
connections = $connections
TOML
  python3 -c "
import sys
print('email,name')
for i in range(int(sys.argv[1])): print(f'reader{i}@nhs.example,Reader {i}')" "$2" > "$1/config/subscribers.csv"
}
project "$work/p" "$messages"
# The same send with PIPELINING (and CHUNKING) turned off.
project "$work/nopipe" "$messages"
printf 'pipelining = false\n' >> "$work/nopipe/config/newsletter.toml"
for algorithm in rsa ed25519; do
  project "$work/$algorithm" "$messages"
  (cd "$work/$algorithm" && "$catchup" dkim keygen --selector bench --algorithm $algorithm >/dev/null &&
    printf '\n[dkim]\ndomain = "hsj.example"\nselector = "bench"\nalgorithm = "%s"\nprivate_key = "dkim/bench.pem"\n' $algorithm \
      >> config/newsletter.toml)
done
issue=config/issues/2018-07-27.toml
(cd "$work/p" && "$catchup" preview "$issue" --out "$work/sample" >/dev/null)
sample=$work/sample/2018-07-27.eml
size=$(stat -c %s "$sample")

seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
catchup_times=(); source_times=(); rsa_times=(); ed25519_times=(); nopipe_times=()
for run in $(seq "$runs"); do
  rm -rf "$work"/{p,rsa,ed25519,nopipe}/state
  catchup_times+=("$(cd "$work/p" && seconds "$catchup" send "$issue" --all)")
  nopipe_times+=("$(cd "$work/nopipe" && seconds "$catchup" send "$issue" --all)")
  rsa_times+=("$(cd "$work/rsa" && seconds "$catchup" send "$issue" --all)")
  ed25519_times+=("$(cd "$work/ed25519" && seconds "$catchup" send "$issue" --all)")
  source_times+=("$(seconds smtp-source -d -s "$connections" -m "$messages" -F "$sample" \
    -f catchup@hsj.example -t reader@example.com "127.0.0.1:$port")")
done

peak_kb() { # $1 = readers
  project "$work/m$1" "$1"
  (cd "$work/m$1" && /usr/bin/time -f %M "$catchup" send "$issue" --all 2>&1 >/dev/null | tail -1)
}
peak_10k=$(peak_kb 10000)
peak_100k=$(peak_kb 100000)

python3 - "$messages" "$size" "$connections" "${catchup_times[*]}" "${source_times[*]}" "$peak_10k" "$peak_100k" "${rsa_times[*]}" "${ed25519_times[*]}" "${nopipe_times[*]}" <<'PY'
import statistics, sys
n, size, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = [float(x) for x in sys.argv[4].split()]
s = [float(x) for x in sys.argv[5].split()]
p10, p100 = int(sys.argv[6]), int(sys.argv[7])
signed = {"rsa-2048": [float(x) for x in sys.argv[8].split()], "ed25519": [float(x) for x in sys.argv[9].split()]}
nopipe = [float(x) for x in sys.argv[10].split()]
cm, sm = statistics.median(c), statistics.median(s)
print(f"\n{n} messages of {size} bytes over {conns} connections to smtp-sink on loopback, {len(c)} interleaved runs")
print(f"  catchup send --all : median {cm:6.2f} s  -> {n/cm:7.0f} messages/s   (runs: {', '.join(f'{x:.2f}' for x in c)})")
print(f"  smtp-source        : median {sm:6.2f} s  -> {n/sm:7.0f} messages/s   (runs: {', '.join(f'{x:.2f}' for x in s)})")
print(f"  catchup / smtp-source rate: {sm/cm:.2f}   (target: at least 0.90)")
npm = statistics.median(nopipe)
print(f"  catchup, no pipelining : median {npm:6.2f} s  -> {n/npm:7.0f} messages/s   ({sm/npm:.2f} of smtp-source)")
for name, times in signed.items():
    m = statistics.median(times)
    print(f"  catchup, DKIM {name:9}: median {m:6.2f} s  -> {n/m:7.0f} messages/s   ({cm/m:.2f} of unsigned; {1000*(m-cm)/n:.3f} ms more a message)")
print(f"peak memory of catchup send --all:  10,000 readers {p10/1024:.1f} MB   100,000 readers {p100/1024:.1f} MB")
PY
