// Command chatload is shopchat's load generator. It runs the named
// scenarios of bench (idle, relay-1k, relay-10k, max, durable, storm,
// mixed) against the bare relay baseline and the full server, each started
// as a child process ("chatload serve ...") on loopback so its CPU, memory
// and goroutines are measured apart from the load:
//
//	go run ./bench/cmd/chatload -scenario relay-1k -repeat 3
//
// The fleet scenario (issue 19) is run alone: -nodes server processes
// sharing a fresh PostgreSQL schema ($SHOPCHAT_POSTGRES_DSN) and a broker
// (-broker redis, postgres or nats), each with proactive triggers, a cart
// hook and department routing (chatload serve -shop); -visitors connected
// visitors in total, the idle ones dialled by load-generator child
// processes ("chatload fleet-worker", -per-worker each, at -dial-rate in
// total) that say hello and report their page as the widget does;
// -operators spread over the nodes; -pairs active pairs whose visitor and
// operator are on different nodes and -local-pairs within one node (the
// same run's baseline), at -rate messages per second in total. Every
// process stays under its own open-files limit (20,000 here): 5 nodes ×
// 19,800 visitors + 40 operators each, by default:
//
//	go run ./bench/cmd/chatload -scenario fleet -nodes 5 -visitors 99000 -operators 200 \
//		-pairs 2000 -local-pairs 200 -rate 500 -idle 70s -duration 60s -broker redis -out dir
//	go run ./bench/cmd/chatload -scenario fleet -nodes 1 -visitors 19800 -operators 40 \
//		-pairs 400 -local-pairs 40 -rate 100 -out dir    # one node's share, for comparison
//
// It reports per node the heap+stack and goroutines per idle visitor
// (after a full GC, minus before), RSS, CPU in the idle and active phases,
// Broker publishes and deliveries per second, the visit loop's share of a
// core from a CPU profile over the idle phase (-out keeps each node's top
// lines), and for the pairs sent/acked/received/duplicated/lost and
// delivery percentiles across nodes and within one.
package main

import (
	"os"

	"github.com/shopchat/chat/bench/internal/cli"
)

func main() { os.Exit(cli.Load(os.Args[1:])) }
