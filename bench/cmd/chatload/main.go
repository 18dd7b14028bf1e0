// Command chatload is shopchat's load generator. It runs the named
// scenarios of bench (idle, relay-1k, relay-10k, max, durable, storm,
// mixed) against the bare relay baseline and the full server, each started
// as a child process ("chatload serve ...") on loopback so its CPU, memory
// and goroutines are measured apart from the load:
//
//	go run ./bench/cmd/chatload -scenario relay-1k -repeat 3
package main

import (
	"os"

	"github.com/shopchat/chat/bench/internal/cli"
)

func main() { os.Exit(cli.Load(os.Args[1:])) }
