// Command brokerfault measures what a black-holed broker does to the acks
// of two node processes: visitors on one node write to an operator on the
// other at a steady pace while the broker is healthy, black-holed (a proxy
// stops forwarding without resetting) and restored; it prints each phase's
// ack latency and whether every message arrived.
package main

import (
	"os"

	"github.com/shopchat/chat/bench/internal/cli"
)

func main() { os.Exit(cli.BrokerFault(os.Args[1:])) }
