// Package faultproxy is a TCP proxy on loopback that tests and benchmarks
// put between the nodes and a broker to simulate its faults: Down closes
// every connection and refuses new ones (the broker stopped), Blackhole
// stops forwarding without closing anything (a partition: the peers see
// silence, no reset), Restore forwards again.
package faultproxy

import (
	"net"
	"sync"
)

// Proxy forwards connections from its address to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	down   bool
	gate   chan struct{} // closed while forwarding; open (blocking) while black-holed
	conns  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup
}

type pair struct {
	client, server net.Conn
}

func (p *pair) close() {
	p.client.Close()
	p.server.Close()
}

// New starts a proxy on 127.0.0.1 that forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, gate: make(chan struct{}), conns: make(map[*pair]struct{})}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Down closes every connection and refuses new ones until Restore.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.cutLocked()
}

// Blackhole stops forwarding bytes, in both directions and on new
// connections too, without closing anything, until Restore.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // black-holed already
	}
}

// Restore forwards again: after Down, new connections; after Blackhole,
// what waited on the held connections too.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cutLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.Restore() // releases held copies
	p.wg.Wait()
	return err
}

func (p *Proxy) cutLocked() {
	for c := range p.conns {
		c.close()
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.down || p.closed
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &pair{client: client, server: server}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			c.close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(c, server, client)
		go p.copy(c, client, server)
	}
}

// copy forwards src to dst, waiting at the gate before each write.
func (p *Proxy) copy(c *pair, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a cut: closing the pair tells the other side
		}
	}
}
