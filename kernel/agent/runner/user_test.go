package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/kernel/agent/task"
)

func TestCredential(t *testing.T) {
	nobody := &User{Name: "nobody", UID: 65534, GID: 65534, Groups: []uint32{65534, 100}}
	me := &User{Name: "me", UID: 1000, GID: 1000, Groups: []uint32{1000}}
	tests := []struct {
		name    string
		u       *User
		euid    int
		want    *syscall.Credential
		wantErr string
	}{
		{"no user", nil, 0, nil, ""},
		{"no user, not root", nil, 1000, nil, ""},
		{"root switches", nobody, 0, &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 100}}, ""},
		{"root as root sets groups too", &User{Name: "root", Groups: []uint32{0}}, 0, &syscall.Credential{Groups: []uint32{0}}, ""},
		{"own user, not root", me, 1000, nil, ""},
		{"other user, not root", nobody, 1000, nil, `cannot run the task as user "nobody" (uid 65534): the agent runs as uid 1000, not as root`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := credential(tt.u, tt.euid)
			if tt.wantErr != "" {
				var se *SwitchError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("credential() = %v, %v; want a *SwitchError containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("credential() = %v", err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && (got.Uid != tt.want.Uid || got.Gid != tt.want.Gid ||
				!slices.Equal(got.Groups, tt.want.Groups) || got.NoSetGroups) {
				t.Errorf("credential() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestLookupUser(t *testing.T) {
	u, err := LookupUser("root")
	if err != nil || u.UID != 0 || u.GID != 0 || u.Name != "root" || u.Home == "" {
		t.Errorf(`LookupUser("root") = %+v, %v; want uid 0, gid 0 and a home`, u, err)
	}
	_, err = LookupUser("corral-no-such-user")
	var nu *NoUserError
	if !errors.As(err, &nu) || err.Error() != `user "corral-no-such-user" does not exist on this agent` {
		t.Errorf(`LookupUser(missing) = %v; want user "corral-no-such-user" does not exist on this agent`, err)
	}
}

// rootRequired skips a test that switches users when not run as root (CI
// and the dev container run the tests as root).
func rootRequired(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root; run the tests as root to cover it")
	}
}

// searchableDir returns a new directory that every user may search, as an
// agent's sandboxes are (t.TempDir's are root's alone).
func searchableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartAsUser(t *testing.T) {
	rootRequired(t)
	nobody, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody on this host: %v", err)
	}
	r := newTestRunner(t, "auto")
	sandbox := filepath.Join(searchableDir(t), "sandbox")
	if err := os.Mkdir(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	// The exit file's directory is root's alone, as the agent's
	// checkpoint may be: the wrapper writes through the open file it got.
	meta := t.TempDir()
	s := Spec{
		ID: "as-nobody",
		Argv: []string{"/bin/sh", "-c", `id -u; id -g; echo made > file; cat /proc/self/cgroup
			if { true >&3; } 2>/dev/null || { true >&4; } 2>/dev/null; then echo "leaked fd"; fi`},
		Env: []string{"PATH=/usr/bin:/bin"}, Dir: sandbox, ExitFile: filepath.Join(meta, "exit"),
		Cgroup: "as-nobody", MemMB: 64, User: nobody,
	}
	if _, err := r.Start(s); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if ex := waitExit(t, r, 10*time.Second); ex.Exit != (task.Exit{Kind: task.Exited}) {
		t.Fatalf("exit = %+v; want code 0 (stderr: %s)", ex, readFile(filepath.Join(sandbox, "stderr")))
	}
	lines := strings.Split(readFile(filepath.Join(sandbox, "stdout")), "\n")
	if len(lines) < 2 || lines[0] != fmt.Sprint(nobody.UID) || lines[1] != fmt.Sprint(nobody.GID) {
		t.Errorf("id -u, id -g = %q; want %d, %d", lines, nobody.UID, nobody.GID)
	}
	if out := readFile(filepath.Join(sandbox, "stdout")); strings.Contains(out, "leaked fd") {
		t.Errorf("the command inherited the release pipe or the exit file: %q", out)
	}
	if mode, _ := r.Cgroups(); mode != "none" && !strings.Contains(readFile(filepath.Join(sandbox, "stdout")), "as-nobody") {
		t.Errorf("task not in its cgroup: %q", readFile(filepath.Join(sandbox, "stdout")))
	}
	for _, name := range []string{".", "file", "stdout", "stderr"} {
		if uid := ownerOf(t, filepath.Join(sandbox, name)); uid != nobody.UID {
			t.Errorf("owner of sandbox %s = %d; want nobody (%d)", name, uid, nobody.UID)
		}
	}
	if uid := ownerOf(t, s.ExitFile); uid != 0 {
		t.Errorf("owner of exit file = %d; want root", uid)
	}
}

// TestStartAsUserChownsNoSymlink: giving the sandbox to the user changes
// the directory itself, never what a symlink there points to.
func TestStartAsUserChownsNoSymlink(t *testing.T) {
	rootRequired(t)
	nobody, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody on this host: %v", err)
	}
	r := newTestRunner(t, "none")
	base := searchableDir(t)
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	s := Spec{ID: "link", Argv: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: link,
		ExitFile: filepath.Join(t.TempDir(), "exit"), User: nobody}
	if _, err := r.Start(s); err == nil {
		waitExit(t, r, 10*time.Second)
	}
	if uid := ownerOf(t, target); uid != 0 {
		t.Errorf("owner of the symlink's target = %d; want root (left alone)", uid)
	}
}

// TestWrapperAborted: a wrapper whose release pipe closes unread writes
// "aborted" through the exit file it was given and runs nothing.
func TestWrapperAborted(t *testing.T) {
	dir := t.TempDir()
	exit, err := os.Create(filepath.Join(dir, "exit"))
	if err != nil {
		t.Fatal(err)
	}
	defer exit.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer pr.Close()
	cmd := exec.Command("/bin/sh", "-c", wrapperScript, "corral-task", "/bin/sh", "-c", "echo ran > ran")
	cmd.Dir, cmd.ExtraFiles = dir, []*os.File{pr, exit}
	if err := cmd.Run(); err != nil {
		t.Fatalf("wrapper: %v", err)
	}
	if ex := readExit(exit.Name()); ex.Kind != task.NotStarted {
		t.Errorf("exit = %+v (file %q); want not started", ex, readFile(exit.Name()))
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran")
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func ownerOf(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}
