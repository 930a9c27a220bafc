package fetcher

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// BenchmarkFetch64MB fetches a 64 MB artifact over loopback HTTP into a
// fresh sandbox per iteration, without and with the cache (a hit after
// the first), and reports MB/s as a task's launch would see it.
func BenchmarkFetch64MB(b *testing.B) {
	blob := make([]byte, 64<<20)
	_, _ = rand.Read(blob)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob.bin", time.Time{}, bytes.NewReader(blob))
	}))
	b.Cleanup(srv.Close)
	for _, tc := range []struct {
		name  string
		cache bool
	}{{"nocache", false}, {"cache", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := New(Config{CacheDir: filepath.Join(b.TempDir(), "cache"), CacheSize: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			no := false
			cache := tc.cache
			uri := mesos.CommandURI{Value: srv.URL + "/blob.bin", Extract: &no, Cache: &cache}
			b.SetBytes(int64(len(blob)))
			for b.Loop() {
				if err := f.Fetch(context.Background(), b.TempDir(), []mesos.CommandURI{uri}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
