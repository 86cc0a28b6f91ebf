// scrape_target: the Go program tests/integration/test_scrape.py scrapes.
// Standard library only. It serves net/http/pprof on 127.0.0.1 (port 0:
// the kernel picks; the address is printed as the first line of stdout)
// and keeps two named functions busy, so their names must show up in
// hearth's flame graphs: cpuHog burns CPU, allocHog allocates.
package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

// sink keeps allocations reachable for a while, so they are real heap
// allocations (not stack) and the heap profile's inuse values move too.
var sink [][]byte

//go:noinline
func cpuHog(d time.Duration) {
	end := time.Now().Add(d)
	buf := make([]byte, 4096)
	for time.Now().Before(end) {
		sum := sha256.Sum256(buf)
		buf[0] = sum[0]
	}
}

// allocHog allocates n buffers of one fixed size: Go scales heap samples by
// the average allocation size, and a fixed size keeps every counter of this
// stack monotonic, so scrape deltas equal `pprof -diff_base` exactly.
//
//go:noinline
func allocHog(n int) {
	for i := 0; i < n; i++ {
		b := make([]byte, 64<<10)
		sink = append(sink, b)
		if len(sink) > 32 {
			sink = sink[:0]
		}
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "listening %s\n", ln.Addr())
	w.Flush()
	go func() {
		for {
			cpuHog(40 * time.Millisecond)
			allocHog(40)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
