// demo-app: a small Go service for the hearth lab stack that hearth scrapes
// (the pull model, docs/scrape.md). It burns a little CPU in a few named
// functions so its flame graph has a recognisable shape, allocates (heap
// profile), contends on a mutex (mutex and block profiles), and serves
//
//	/debug/pprof/*  net/http/pprof, scraped by hearth's scrape_configs
//	/metrics        process_cpu_seconds_total and demo_work_items_total in the
//	                Prometheus text format, scraped by Prometheus
//
// Standard library only, so it builds offline (GOPROXY=off).
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type order struct {
	ID    int       `json:"id"`
	Items []string  `json:"items"`
	Price []float64 `json:"price"`
}

// shared is what the workers contend on, so the mutex and block profiles
// are not empty.
type shared struct {
	mu    sync.Mutex
	total uint64
}

var itemsDone atomic.Uint64

func hashBlocks(rng *rand.Rand, buf []byte) [32]byte {
	rng.Read(buf)
	sum := sha256.Sum256(buf)
	for i := 0; i < 64; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum
}

func encodeOrders(rng *rand.Rand) int {
	orders := make([]order, 50)
	for i := range orders {
		orders[i] = order{ID: rng.Int(), Items: []string{"tea", "cake", "bread"}, Price: []float64{rng.Float64(), rng.Float64()}}
	}
	raw, err := json.Marshal(orders)
	if err != nil {
		log.Fatal(err)
	}
	var back []order
	if err := json.Unmarshal(raw, &back); err != nil {
		log.Fatal(err)
	}
	return len(back)
}

func sortPrices(rng *rand.Rand) float64 {
	prices := make([]float64, 4096)
	for i := range prices {
		prices[i] = rng.Float64()
	}
	sort.Float64s(prices)
	return prices[len(prices)/2]
}

// worker does one round of each job, then rests, so the whole program uses
// a fraction of a core.
func worker(seed int64, s *shared, busy, rest time.Duration) {
	rng := rand.New(rand.NewSource(seed))
	buf := make([]byte, 16<<10)
	for {
		start := time.Now()
		n := uint64(0)
		for time.Since(start) < busy {
			sum := hashBlocks(rng, buf)
			n += uint64(sum[0]) + uint64(encodeOrders(rng))
			_ = sortPrices(rng)
			s.mu.Lock()
			s.total += n
			s.mu.Unlock()
			itemsDone.Add(1)
		}
		time.Sleep(rest)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP process_cpu_seconds_total User and system CPU time of the process.\n")
	fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\n")
	fmt.Fprintf(w, "process_cpu_seconds_total %g\n", cpuSeconds())
	fmt.Fprintf(w, "# HELP demo_work_items_total Work items the demo's workers finished.\n")
	fmt.Fprintf(w, "# TYPE demo_work_items_total counter\n")
	fmt.Fprintf(w, "demo_work_items_total %d\n", itemsDone.Load())
}

func main() {
	listen := flag.String("listen", ":6060", "address of the pprof and /metrics server")
	workers := flag.Int("workers", 2, "worker goroutines")
	busy := flag.Duration("busy", 20*time.Millisecond, "how long a worker works per round")
	rest := flag.Duration("rest", 60*time.Millisecond, "how long a worker rests per round")
	flag.Parse()

	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	s := &shared{}
	for i := 0; i < *workers; i++ {
		go worker(int64(i+1), s, *busy, *rest)
	}
	http.HandleFunc("/metrics", metrics)
	log.Printf("demo-app: pprof and metrics on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
