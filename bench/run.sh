#!/usr/bin/env bash
# Runs every bench scenario (baseline relay and full server, each on a fresh
# server process on loopback, median of REPEAT runs) and the hot-path Go
# benchmarks, writing bench/results/<date>/{summary.txt,results.json,gobench.txt}.
# Usage: bench/run.sh [scenario,...]   (default all)
#   REPEAT=3  SHOPCHAT_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   PIN=1     every server on CPU 0 and the load generator on CPU 1 (as max always
#             is), so the figures are the server's, not the load generator's
#   GOBENCH=0 skip the hot-path Go benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export SHOPCHAT_POSTGRES_DSN=${SHOPCHAT_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
out=bench/results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
bin=$(mktemp -d)/chatload
go build -o "$bin" ./bench/cmd/chatload
{
  echo "date: $(date -u)"; echo "nproc: $(nproc)"; free -g | head -2; go version
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/summary.txt"
scenarios=${1:-idle,relay-1k,relay-10k,max,durable,storm,nodes,mixed}
for sc in ${scenarios//,/ }; do
  pin=() flags=()
  # max: the server is pinned to CPU 0 (chatload runs it under taskset -c 0);
  # the load generator gets CPU 1. PIN=1 does that for every scenario.
  [ "$sc" = max ] && pin=(taskset -c 1)
  [ "${PIN:-0}" = 1 ] && pin=(taskset -c 1) flags=(-server-cpus 0)
  echo "== $sc: ${pin[*]} chatload -scenario $sc -repeat ${REPEAT:-3} ${flags[*]}  (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/summary.txt"
  "${pin[@]}" "$bin" -scenario "$sc" -repeat "${REPEAT:-3}" "${flags[@]}" -json "$out/results.json" 2>>"$out/runs.log" | tee -a "$out/summary.txt"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/summary.txt"
if [ "${GOBENCH:-1}" = 1 ]; then
  go test -run '^$' -bench . -benchmem -benchtime 2s ./bench/ | tee "$out/gobench.txt"
  go test -run '^$' -bench HubPublish -benchmem . | tee -a "$out/gobench.txt"
fi
echo "results in $out"
