package boundaries

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "corral/"

// pure lists the packages that must stay free of I/O.
var pure = []string{
	"corral/internal/acl",
	"corral/internal/suggest",
	"corral/kernel/resource",
	"corral/internal/healthcheck",
	"corral/kernel/allocator",
	"corral/kernel/master/internal/core",
	"corral/kernel/mesos",
	"corral/kernel/dnsrec",
	"corral/kernel/internal/agentproto",
	"corral/kernel/agent/task",
	"corral/kernel/agent/update",
	"corral/kernel/agent/health",
	"corral/frameworks/services/app",
	"corral/frameworks/services/plan",
	"corral/frameworks/internal/place",
	"corral/frameworks/internal/blank",
	"corral/frameworks/jobs/schedule",
	"corral/frameworks/jobs/job",
	"corral/frameworks/jobs/dag",
	"corral/frameworks/jobs/due",
	"corral/frameworks/jobs/run",
	"corral/frameworks/jobs/notify",
}

// ioPackages lists what a pure package may not import; a path ending in
// "/" forbids everything under it. (Third-party libraries that pure
// packages use, such as the cron parser, are not held to this.)
var ioPackages = []string{
	"os", "os/exec", "os/signal", "syscall", "golang.org/x/sys/unix",
	"net/http", "net/rpc", "database/sql", "log", "log/slog", "runtime/pprof",
	"github.com/jackc/", "github.com/go-zookeeper/", "github.com/containerd/",
	"github.com/prometheus/", "github.com/go-chi/",
}

// kernelForFrameworks is what a framework may import of the kernel.
var kernelForFrameworks = []string{"corral/kernel/sched", "corral/kernel/mesos", "corral/kernel/resource"}

type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// list runs `go list -deps -json` on patterns from the module's root.
func list(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	// The go command that runs the tests: GOROOT/bin/go, as go test sets
	// GOROOT in the environment, else the one on PATH.
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-json"}, patterns...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func matches(path string, list []string) bool {
	for _, l := range list {
		if path == l || (strings.HasSuffix(l, "/") && strings.HasPrefix(path, l)) {
			return true
		}
	}
	return false
}

func TestPurePackagesDoNoIO(t *testing.T) {
	pkgs := list(t, "./...")
	for _, name := range pure {
		p, ok := pkgs[name]
		if !ok {
			t.Errorf("pure package %s does not exist; update the list", name)
			continue
		}
		for _, imp := range p.Imports {
			if matches(imp, ioPackages) {
				t.Errorf("%s imports %s; a pure package does no I/O", name, imp)
			}
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, module) && !slices.Contains(pure, dep) {
				t.Errorf("%s depends on %s, which is not pure", name, dep)
			}
		}
	}
}

func TestLayers(t *testing.T) {
	pkgs := list(t, "./...")
	for name, p := range pkgs {
		if !strings.HasPrefix(name, module) {
			continue
		}
		rest := strings.TrimPrefix(name, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			irest := strings.TrimPrefix(imp, module)
			switch {
			case strings.HasPrefix(rest, "kernel/") && strings.HasPrefix(irest, "frameworks/"):
				t.Errorf("%s imports %s; the kernel knows no framework", name, imp)
			case strings.HasPrefix(rest, "frameworks/"):
				own := "frameworks/" + strings.SplitN(strings.TrimPrefix(rest, "frameworks/"), "/", 2)[0]
				switch {
				case strings.HasPrefix(irest, "kernel/") && !slices.Contains(kernelForFrameworks, imp):
					t.Errorf("%s imports %s; a framework uses only %v of the kernel, as a third-party one would", name, imp, kernelForFrameworks)
				case strings.HasPrefix(irest, "frameworks/") && irest != own && !strings.HasPrefix(irest, own+"/") &&
					!strings.HasPrefix(irest, "frameworks/internal/"):
					t.Errorf("%s imports %s; frameworks share code through packages of their own, not each other's", name, imp)
				}
			}
		}
	}
}
