// demo-pusher: the push model for the hearth lab stack, as a Pyroscope SDK
// does it. Every interval it records its own CPU profile with runtime/pprof
// while doing some work, then POSTs the pprof to hearth's /ingest
// (docs/api.md) with the window it covers:
//
//	POST $URL/ingest?name=demo-pusher{env=lab}&format=pprof&from=S&until=S
//
// A failed push is logged and the next interval carries on (a profiling
// agent never stops the program it profiles). Standard library only.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// parseRecords and checksumRecords are the workload whose frames show up in
// the flame graph.
func parseRecords(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		fields := strings.Split("2026-11-26,checkout,eu-west,"+strconv.Itoa(i)+",ok", ",")
		v, err := strconv.Atoi(fields[3])
		if err == nil {
			total += v
		}
	}
	return total
}

func checksumRecords(n int) byte {
	var sum [16]byte
	buf := make([]byte, 4096)
	for i := 0; i < n; i++ {
		buf[i%len(buf)] = byte(i)
		sum = md5.Sum(buf)
	}
	return sum[0]
}

// work keeps the process busy about a quarter of the time until ctx ends.
func work(ctx context.Context) {
	for ctx.Err() == nil {
		start := time.Now()
		for time.Since(start) < 25*time.Millisecond {
			_ = parseRecords(200)
			_ = checksumRecords(50)
		}
		time.Sleep(75 * time.Millisecond)
	}
}

func push(client *http.Client, base, name string, from, until time.Time, profile []byte) error {
	q := url.Values{}
	q.Set("name", name)
	q.Set("format", "pprof")
	q.Set("spyName", "gospy")
	q.Set("from", strconv.FormatInt(from.Unix(), 10))
	q.Set("until", strconv.FormatInt(until.Unix(), 10))
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(base, "/")+"/ingest?"+q.Encode(), bytes.NewReader(profile))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

func isGzip(b []byte) bool {
	return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b
}

func main() {
	defURL := os.Getenv("HEARTH_URL")
	if defURL == "" {
		defURL = "http://localhost:4040"
	}
	base := flag.String("url", defURL, "hearth base URL (default $HEARTH_URL, else http://localhost:4040)")
	name := flag.String("name", "demo-pusher{env=lab}", "application name and labels sent as ?name=")
	interval := flag.Duration("interval", 10*time.Second, "length of each profile and time between pushes")
	count := flag.Int("count", 0, "stop after this many pushes (0 = run until SIGTERM)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go work(ctx)

	client := &http.Client{Timeout: 30 * time.Second}
	failures := 0
	for n := 0; *count == 0 || n < *count; n++ {
		var buf bytes.Buffer
		if err := pprof.StartCPUProfile(&buf); err != nil {
			log.Fatalf("demo-pusher: %v", err)
		}
		from := time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
		pprof.StopCPUProfile()
		until := time.Now()
		if !isGzip(buf.Bytes()) {
			// runtime/pprof writes gzip; keep the body honest if that changes.
			var gz bytes.Buffer
			w := gzip.NewWriter(&gz)
			_, _ = w.Write(buf.Bytes())
			_ = w.Close()
			buf = gz
		}
		if err := push(client, *base, *name, from, until, buf.Bytes()); err != nil {
			failures++
			log.Printf("demo-pusher: push failed: %v", err)
		} else {
			log.Printf("demo-pusher: pushed %d bytes covering %s", buf.Len(), until.Sub(from).Round(time.Millisecond))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if failures > 0 && *count > 0 {
		os.Exit(1)
	}
}
