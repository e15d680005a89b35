# tests/bench/lib.sh — what every benchmark here shares, so that none can lie:
#   bench_needs PKG...   installs what the compared agents need (the anchors too: Filesystem exits 5
#                        at once without kmod's modprobe, and would look fast)
#   bench_floor          publishes an empty native-AOT program (built like the agents) and prints
#                        its path: every hyperfine run includes it, as the cost of starting anything
#   bench_report JSON PAIR...
#                        prints the table of a hyperfine JSON (run with -i, so exit codes are kept):
#                        medians, CPU, exit codes, ratio to the floor; then for each PAIR
#                        "ours|anchor" the ratio anchor/ours — but only after checking that every
#                        run of both answered with one and the same exit code (the same answer on
#                        the same resource); otherwise it says so and the script fails.
# Source it: . "$(dirname "$0")/lib.sh"

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_needs() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

bench_floor() {
  local out="$bench_top/build/bench/floor"
  if [ ! -x "$out/Floor" ]; then
    dotnet publish "$bench_top/tests/bench/dependencies/Floor" -c Release --nologo -v q -o "$out" >/dev/null
  fi
  echo "$out/Floor"
}

bench_report() {
  python3 - "$@" <<'PY'
import json, sys
results = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
pairs = [p.split("|") for p in sys.argv[2:]]
floor = next((x for n, x in results.items() if n.startswith("floor")), None)
codes = lambda x: sorted(set(x.get("exit_codes") or [0]))
print("| command | median wall | user CPU | system CPU | exit | × floor |\n|---|---|---|---|---|---|")
for name, x in results.items():
    times_floor = f"{x['median'] / floor['median']:.1f}" if floor else "-"
    print(f"| {name} | {x['median']*1e3:.2f} ms | {x['user']*1e3:.2f} ms | {x['system']*1e3:.2f} ms | {' '.join(map(str, codes(x)))} | {times_floor} |")
bad = False
for ours, anchor in pairs:
    o, a = results[ours], results[anchor]
    if len(codes(o)) != 1 or codes(o) != codes(a):
        print(f"NOT COMPARABLE: '{ours}' answered {codes(o)}, '{anchor}' answered {codes(a)}")
        bad = True
        continue
    print(f"{anchor} / {ours} = {a['median'] / o['median']:.1f}× (both exit {codes(o)[0]})")
if floor: print(f"floor (an empty AOT program): {floor['median']*1e3:.2f} ms")
sys.exit(1 if bad else 0)
PY
}
