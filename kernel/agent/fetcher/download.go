package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"corral/kernel/mesos"
)

// download copies the artifact at loc to w: at most MaxSize bytes, within
// ctx, and for http(s) aborting when nothing arrives for StallTimeout.
// Only HTTP 200 counts as success, as in Mesos.
func (f *Fetcher) download(ctx context.Context, loc mesos.Location, w io.Writer) error {
	switch loc.Source {
	case mesos.SourceFile:
		src, err := os.Open(loc.URL)
		if err != nil {
			return err
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", loc.URL)
		}
		return f.copyCapped(w, src)
	case mesos.SourceHTTP:
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.URL, nil)
		if err != nil {
			return err
		}
		resp, err := f.cfg.Client.Do(req)
		if err != nil {
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
				return c
			}
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("server answered %s", resp.Status)
		}
		if resp.ContentLength > f.cfg.MaxSize {
			return fmt.Errorf("artifact of %d bytes is larger than the limit of %d", resp.ContentLength, f.cfg.MaxSize)
		}
		stall := errors.New("download stalled: nothing received for " + f.cfg.StallTimeout.String())
		t := time.AfterFunc(f.cfg.StallTimeout, func() { cancel(stall) })
		defer t.Stop()
		err = f.copyCapped(w, &watchdog{r: resp.Body, t: t, d: f.cfg.StallTimeout})
		if err != nil {
			if c := context.Cause(ctx); c != nil {
				return c
			}
		}
		return err
	}
	return fmt.Errorf("unknown source %d", loc.Source)
}

// copyCapped copies r to w, failing if r holds more than MaxSize bytes.
func (f *Fetcher) copyCapped(w io.Writer, r io.Reader) error {
	n, err := io.Copy(w, io.LimitReader(r, f.cfg.MaxSize+1))
	if err != nil {
		return err
	}
	if n > f.cfg.MaxSize {
		return fmt.Errorf("artifact is larger than the limit of %d bytes", f.cfg.MaxSize)
	}
	return nil
}

// watchdog resets its timer whenever a read returns bytes.
type watchdog struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.t.Reset(w.d)
	}
	return n, err
}
