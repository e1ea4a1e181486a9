#!/usr/bin/env bash
# Whole-process time and peak memory of `catchup preview` on the example
# issue, next to the MJML 5 command-line compiler on a comparable issue, in
# the same run on the same machine. Prints a table and the ratios.
#
# Needs: hyperfine and GNU time (apt-get install hyperfine time), Node.js and
# npm (mjml@5 is installed into bench/compose/node_modules), python3 >= 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/bench/compose
mkdir -p "$out"
issue=config/issues/2018-07-27.toml

cargo build --release --quiet
[ -x bench/compose/node_modules/.bin/mjml ] || (cd bench/compose && npm install --no-audit --no-fund --silent)
mjml="node bench/compose/node_modules/mjml/bin/mjml"
catchup=target/release/catchup

# The same issue, written as MJML.
$catchup stories --json > "$out/stories.json"
python3 bench/compose/mjml_issue.py "$out/stories.json" config/newsletter.toml "$issue" > "$out/issue.mjml"
$mjml "$out/issue.mjml" -o "$out/mjml.html"
$catchup preview "$issue" --out "$out/previews" > /dev/null

hyperfine --style basic --warmup 3 --runs "${RUNS:-30}" --export-json "$out/times.json" \
  -n "catchup preview" "$catchup preview $issue --out $out/previews" \
  -n "mjml 5 (CLI)" "$mjml $out/issue.mjml -o $out/mjml.html"

peak_kb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
catchup_kb=$(peak_kb $catchup preview $issue --out $out/previews)
mjml_kb=$(peak_kb $mjml $out/issue.mjml -o $out/mjml.html)

python3 - "$out/times.json" "$catchup_kb" "$mjml_kb" "$out/previews/2018-07-27.html" "$out/mjml.html" <<'PY'
import json, os, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
c, m = times["catchup preview"], times["mjml 5 (CLI)"]
ckb, mkb = int(sys.argv[2]), int(sys.argv[3])
print()
print(f"{'':18} {'median':>10} {'mean ± sd':>20} {'peak RSS':>10} {'HTML':>9}")
for name, r, kb, html in [("catchup preview", c, ckb, sys.argv[4]), ("mjml 5 (CLI)", m, mkb, sys.argv[5])]:
    print(f"{name:18} {r['median']*1000:8.1f}ms {r['mean']*1000:10.1f} ± {r['stddev']*1000:5.1f}ms {kb/1024:8.1f}MB {os.path.getsize(html)/1024:7.1f}KB")
ratio = c["median"] / m["median"]
print(f"\ncatchup / mjml wall time (medians): {ratio:.4f}  (1/{1/ratio:.0f}; target 1/100 or better)")
print(f"catchup peak memory: {ckb/1024:.1f} MB (target 10 MB or less)")
PY
