#!/bin/bash
# usage: loops.sh DIR funcs... : per 2-node trace, time each loop goroutine spent blocked on network, syscalls, and idle (channel wait)
dir=$1; shift
cd $dir
for f in nodes-2nodes-*-trace.out; do
  b=${f%.out}
  for k in net syscall sync; do [ -s $b.$k.pprof ] || go tool trace -pprof=$k $f > $b.$k.pprof 2>/dev/null; done
  printf "%s\n" "$b"
  for fn in "$@"; do
    printf "   %-14s" "$fn"
    for k in net syscall sync; do
      v=$(go tool pprof -top -focus="$fn" $b.$k.pprof 2>/dev/null | grep "^Showing nodes" | awk "{print \$5}" | tr -d ,)
      [ $k = sync ] && k="chan-wait"
      printf " %s %-9s" $k "${v:-0}"
    done
    echo
  done
done
