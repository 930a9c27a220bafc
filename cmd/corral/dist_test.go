package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// make dist's script builds static binaries for linux/amd64 and arm64
// with the version compiled in, packs them, and writes checksums that
// match; built again, the archives are the same bytes.
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles corral twice")
	}
	out := t.TempDir()
	dist := func(dir string) {
		t.Helper()
		cmd := exec.Command("bash", "../../scripts/dist.sh", "v9.8.7-test", dir)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dist.sh: %v\n%s", err, b)
		}
	}
	dist(out)
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 2 {
		t.Fatalf("SHA256SUMS = %q; want two archives", sums)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, line := range lines {
		sum, name, _ := strings.Cut(line, "  ")
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: checksum %s does not match its bytes", name, sum)
		}
		arch := strings.TrimSuffix(strings.TrimPrefix(name, "corral-v9.8.7-test-linux-"), ".tar.gz")
		want, ok := machines[arch]
		if !ok {
			t.Errorf("unexpected archive %s", name)
			continue
		}
		dir := t.TempDir()
		if b, err := exec.Command("tar", "-xzf", filepath.Join(out, name), "-C", dir).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, b)
		}
		root := filepath.Join(dir, strings.TrimSuffix(name, ".tar.gz"))
		for _, bin := range []string{"corral", "corral-logger"} {
			f, err := elf.Open(filepath.Join(root, bin))
			if err != nil {
				t.Fatalf("%s/%s: %v", name, bin, err)
			}
			if f.Machine != want {
				t.Errorf("%s/%s is for %v; want %v", name, bin, f.Machine, want)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s/%s has a dynamic loader; want a static binary", name, bin)
				}
			}
			f.Close()
		}
		if arch == runtime.GOARCH {
			if b, err := exec.Command(filepath.Join(root, "corral"), "--version").Output(); err != nil || string(b) != "corral v9.8.7-test\n" {
				t.Errorf("corral --version = %q, %v; want corral v9.8.7-test", b, err)
			}
		}
	}
	again := t.TempDir()
	dist(again)
	if b, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS")); string(b) != string(sums) {
		t.Errorf("built again, the archives differ:\n%s\nthen\n%s", sums, b)
	}
}
