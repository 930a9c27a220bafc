package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestZZOneLocal(t *testing.T) {
	lg, _ := exec.LookPath("corral-logger")
	if lg == "" {
		lg = "/tmp/corral-logger"
	}
	for _, withLogger := range []bool{false, true} {
		r, err := New(Config{Cgroups: "auto", CgroupParent: "/corral/zzlocal"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			for d := filepath.Dir(dir); d != "/"; d = filepath.Dir(d) { os.Chmod(d, 0o755) }
			nobody, _ := LookupUser("nobody")
			spec := Spec{ID: "t", Argv: []string{"/bin/sh", "-c", "true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir, ExitFile: filepath.Join(dir, "exit"), User: nobody}
			if withLogger {
				spec.Logger = &Logger{Exe: lg}
				spec.Logger.Stdout.MaxSize, spec.Logger.Stdout.MaxFiles = 1<<20, 2
				spec.Logger.Stderr = spec.Logger.Stdout
			}
			t0 := time.Now()
			if _, err := r.Start(spec); err != nil {
				t.Fatal(err)
			}
			ex := <-r.Exits()
			t.Logf("logger=%v exit %+v after %v", withLogger, ex.Exit, time.Since(t0))
			os.RemoveAll(dir)
		}
		r.Close()
	}
}
