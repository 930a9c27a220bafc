// Package dockertest gives tests a Docker engine and a small image to run
// on it, built from the host's static busybox (Debian's busybox-static):
// no registry is needed. It is for tests only.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Image is the name of the test image: a root file system holding
// /bin/busybox and a link to it for each of its applets (sh, sleep, cat,
// httpd, ...), and /tmp.
const Image = "corral-test/busybox:latest"

// Busybox is where the static busybox is looked for.
const Busybox = "/bin/busybox"

var (
	once     sync.Once
	cli      *client.Client
	setupErr error
)

// Engine returns a client of the local Docker engine with Image loaded,
// skipping the test when no engine answers (failing it under CI=true,
// where the engine must be there), and failing it when the image cannot
// be made.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	once.Do(func() { cli, setupErr = setup() })
	if cli == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine (CI=true needs one): %v", setupErr)
		}
		t.Skipf("no Docker engine: %v", setupErr)
	}
	if setupErr != nil {
		t.Fatalf("dockertest: %v", setupErr)
	}
	return cli
}

// setup connects and imports Image unless it is there.
func setup() (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.ImageInspect(ctx, Image); err == nil {
		return c, nil
	}
	rootfs, err := rootFS()
	if err != nil {
		return c, err
	}
	rc, err := c.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, Image,
		image.ImportOptions{Changes: []string{`CMD ["/bin/sh"]`}})
	if err != nil {
		return c, err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return c, err
}

// rootFS is the image's file system as a tar.
func rootFS() ([]byte, error) {
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"bin/", "tmp/", "etc/", "proc/", "sys/", "dev/", "www/"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, app := range strings.Fields("sh cat echo sleep ls head tail tr dd true false env id httpd nc wget printf test mkdir rm sha256sum date") {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + app, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, err
		}
	}
	for name, body := range map[string]string{
		"etc/passwd":     "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
		"etc/group":      "root:x:0:\nnogroup:x:65534:\n",
		"www/index.html": "hello from a container\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
