#!/usr/bin/env bash
# List-send throughput against Postfix's smtp-sink on loopback, beside
# smtp-source (Postfix's own load generator, the practical limit) sending the
# same number of messages of the same size over the same number of
# connections, in the same run; and the same send DKIM-signed (RSA-2048,
# Ed25519, and both together), to show what signing costs: the rate
# against the unsigned send's, and the CPU an RSA signature costs against
# `openssl speed rsa2048`'s sign time, measured in the same run. Then peak
# memory for 10,000 and 100,000 readers.
#
# Needs: postfix (smtp-sink, smtp-source), GNU time and openssl:
#   apt-get install postfix time openssl
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
sign_with() { # $1 = folder, $2 = algorithm
  (cd "$1" && "$catchup" dkim keygen --selector "bench-$2" --algorithm "$2" >/dev/null &&
    printf '\n[[dkim]]\ndomain = "hsj.example"\nselector = "bench-%s"\nalgorithm = "%s"\nprivate_key = "dkim/bench-%s.pem"\n' "$2" "$2" "$2" \
      >> config/newsletter.toml)
}
for algorithm in rsa ed25519; do
  project "$work/$algorithm" "$messages"
  sign_with "$work/$algorithm" $algorithm
done
project "$work/both" "$messages"
sign_with "$work/both" rsa
sign_with "$work/both" ed25519
issue=config/issues/2018-07-27.toml
(cd "$work/p" && "$catchup" preview "$issue" --out "$work/sample" >/dev/null)
sample=$work/sample/2018-07-27.eml
size=$(stat -c %s "$sample")

seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
# Elapsed and CPU (user + system) seconds, as `elapsed:cpu`.
timed() { /usr/bin/time -f '%e:%U:%S' "$@" 2>&1 >/dev/null | tail -1 | awk -F: '{ printf "%s:%.2f", $1, $2 + $3 }'; }
catchup_times=(); source_times=(); rsa_times=(); ed25519_times=(); both_times=(); nopipe_times=()
for run in $(seq "$runs"); do
  rm -rf "$work"/{p,rsa,ed25519,both,nopipe}/state
  catchup_times+=("$(cd "$work/p" && timed "$catchup" send "$issue" --all)")
  nopipe_times+=("$(cd "$work/nopipe" && seconds "$catchup" send "$issue" --all)")
  rsa_times+=("$(cd "$work/rsa" && timed "$catchup" send "$issue" --all)")
  ed25519_times+=("$(cd "$work/ed25519" && timed "$catchup" send "$issue" --all)")
  both_times+=("$(cd "$work/both" && timed "$catchup" send "$issue" --all)")
  source_times+=("$(seconds smtp-source -d -s "$connections" -m "$messages" -F "$sample" \
    -f catchup@hsj.example -t reader@example.com "127.0.0.1:$port")")
done

peak_kb() { # $1 = readers
  project "$work/m$1" "$1"
  (cd "$work/m$1" && /usr/bin/time -f %M "$catchup" send "$issue" --all 2>&1 >/dev/null | tail -1)
}
# OpenSSL's RSA-2048 sign time on one core, the reference for a signature's
# CPU: the 4th field of its `rsa 2048 bits` line, in seconds.
openssl_sign=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $4 }')
peak_10k=$(peak_kb 10000)
peak_100k=$(peak_kb 100000)

python3 - "$messages" "$size" "$connections" "${catchup_times[*]}" "${source_times[*]}" "$peak_10k" "$peak_100k" "${rsa_times[*]}" "${ed25519_times[*]}" "${nopipe_times[*]}" "${both_times[*]}" "$openssl_sign" <<'PY'
import statistics, sys
n, size, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pairs = lambda arg: [tuple(float(v) for v in x.split(":")) for x in arg.split()]
unsigned = pairs(sys.argv[4])
c = [e for e, _ in unsigned]
s = [float(x) for x in sys.argv[5].split()]
p10, p100 = int(sys.argv[6]), int(sys.argv[7])
signed = {"rsa-2048": pairs(sys.argv[8]), "ed25519": pairs(sys.argv[9]), "rsa+ed25519": pairs(sys.argv[11])}
nopipe = [float(x) for x in sys.argv[10].split()]
openssl_sign_ms = 1000 * float(sys.argv[12].rstrip("s"))
cm, sm = statistics.median(c), statistics.median(s)
print(f"\n{n} messages of {size} bytes over {conns} connections to smtp-sink on loopback, {len(c)} interleaved runs")
print(f"  catchup send --all : median {cm:6.2f} s  -> {n/cm:7.0f} messages/s   (runs: {', '.join(f'{x:.2f}' for x in c)})")
print(f"  smtp-source        : median {sm:6.2f} s  -> {n/sm:7.0f} messages/s   (runs: {', '.join(f'{x:.2f}' for x in s)})")
print(f"  catchup / smtp-source rate: {sm/cm:.2f}   (target: at least 0.90)")
npm = statistics.median(nopipe)
print(f"  catchup, no pipelining : median {npm:6.2f} s  -> {n/npm:7.0f} messages/s   ({sm/npm:.2f} of smtp-source)")
unsigned_cpu = statistics.median(cpu for _, cpu in unsigned)
for name, times in signed.items():
    m = statistics.median(e for e, _ in times)
    cpu = statistics.median(cpu for _, cpu in times)
    print(f"  catchup, DKIM {name:11}: median {m:6.2f} s  -> {n/m:7.0f} messages/s   ({cm/m:.2f} of unsigned; {1000*(m-cm)/n:.3f} ms more a message; {1000*(cpu-unsigned_cpu)/n:.3f} ms more CPU a message)")
rsa_cpu = 1000 * (statistics.median(cpu for _, cpu in signed["rsa-2048"]) - unsigned_cpu) / n
ed_cpu = 1000 * (statistics.median(cpu for _, cpu in signed["ed25519"]) - unsigned_cpu) / n
print(f"  an RSA-2048 signature: {rsa_cpu - ed_cpu:.3f} ms of CPU (RSA's extra CPU a message less Ed25519's, which hashes the body alike); openssl speed signs in {openssl_sign_ms:.3f} ms: {(rsa_cpu - ed_cpu)/openssl_sign_ms:.2f} of it (target: at most 1.2)")
print(f"peak memory of catchup send --all:  10,000 readers {p10/1024:.1f} MB   100,000 readers {p100/1024:.1f} MB")
PY
