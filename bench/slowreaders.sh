#!/bin/bash
# bench/slowreaders.sh BIN PORT (from the project root): start the demo, attack it, print RSS before, peak during, after.
bin=$1; port=$2; dir=$(mktemp -d)
$bin -addr 127.0.0.1:$port -db $dir/d.db >/dev/null 2>&1 &
pid=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.2; done
sleep 1
before=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
go run ./bench/cmd/slowreaders -url http://127.0.0.1:$port -hold 5s >/dev/null &
apid=$!
peak=0
while kill -0 $apid 2>/dev/null; do r=$(grep VmRSS /proc/$pid/status | awk '{print $2}'); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2; done
after=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
echo "$bin: RSS before $((before/1024)) MiB, peak during $((peak/1024)) MiB, after $((after/1024)) MiB"
kill $pid; wait $pid 2>/dev/null; rm -rf $dir
