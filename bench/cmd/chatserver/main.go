// Command chatserver runs the bench server under test on loopback: the full
// chat.Server over a store, or with -baseline the bare coder/websocket
// relay. It prints "LISTEN addr" once listening and serves GET
// /debug/stats and /debug/pprof/ beside /chat/.
package main

import (
	"os"

	"github.com/shopchat/chat/bench/internal/cli"
)

func main() { os.Exit(cli.Serve(os.Args[1:])) }
