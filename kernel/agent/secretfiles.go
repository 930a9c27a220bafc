package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"corral/kernel/agent/task"
	"corral/kernel/agent/update"
)

// secretFiles keeps the files of tasks' secret volumes (task.SecretFile)
// outside the work dir: under root, a directory of its own per task,
// root/<framework id>/<task id>/<n>, each file owned by the task's user
// and readable by it alone. The sandbox holds a symbolic link to each,
// at the volume's path, so the value is never written to the work dir
// and the /files API, which serves no symbolic link, never reads it. A
// task's files are removed when it ends; tasks of an earlier run of the
// agent that are gone are swept at recovery.
//
// root is best a tmpfs (DefaultSecretsDir picks one), so that values live
// in memory and are gone after a reboot, as Mesos' secret volumes are.
type secretFiles struct {
	root string
}

// DefaultSecretsDir returns where an agent with the absolute work dir
// workDir keeps secret files when Config.SecretsDir is empty: under
// /dev/shm when that is a writable tmpfs (one directory per agent, so
// that several can share a host), else in the work dir's secrets/.
func DefaultSecretsDir(workDir string) string {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK|unix.X_OK) == nil {
		sum := sha256.Sum256([]byte(workDir))
		return "/dev/shm/corral-secrets-" + hex.EncodeToString(sum[:4])
	}
	return filepath.Join(workDir, "secrets")
}

// onTmpfs reports whether dir is on a tmpfs.
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// prepare makes root (0711: others may reach their own files by name,
// not list them).
func (s secretFiles) prepare() error {
	if err := os.MkdirAll(s.root, 0o711); err != nil {
		return err
	}
	return os.Chmod(s.root, 0o711)
}

// dir is task k's directory.
func (s secretFiles) dir(k update.Key) string {
	return filepath.Join(s.root, k.FrameworkID, k.TaskID)
}

// write gives task k its secret files: each file under k's directory,
// owned by uid:gid with mode 0400 (0600 when Writable), and a symbolic
// link to it at its path in sandbox, whose missing parent directories
// are made and given to uid:gid. A path that crosses a symbolic link or
// a file, or that already exists in the sandbox, is an error, so that a
// sandbox reused from an earlier task cannot redirect the agent's
// writes. Nothing is written for no files. On error the caller removes
// k's files (remove).
func (s secretFiles) write(k update.Key, sandbox string, uid, gid int, files []task.SecretFile) error {
	if len(files) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(s.root, k.FrameworkID), 0o711); err != nil {
		return err
	}
	dir := s.dir(k)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	for i, f := range files {
		target := filepath.Join(dir, strconv.Itoa(i))
		mode := os.FileMode(0o400)
		if f.Writable {
			mode = 0o600
		}
		if err := writeOwned(target, f.Data, mode, uid, gid); err != nil {
			return fmt.Errorf("secret volume %q: %w", f.Path, err)
		}
		if err := linkInSandbox(sandbox, f.Path, target, uid, gid); err != nil {
			return fmt.Errorf("secret volume %q: %w", f.Path, err)
		}
	}
	return nil
}

// writeOwned creates the file path (it must not exist) with data, mode
// and owner uid:gid.
func writeOwned(path string, data []byte, mode os.FileMode, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkInSandbox makes a symbolic link to target at rel in sandbox,
// making rel's missing parent directories (owned by uid:gid, 0755).
func linkInSandbox(sandbox, rel, target string, uid, gid int) error {
	parts := strings.Split(rel, "/")
	dir := sandbox
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			if err := os.Lchown(dir, uid, gid); err != nil {
				return err
			}
		case err != nil:
			return err
		case !fi.IsDir():
			return fmt.Errorf("%s in the sandbox is not a directory", strings.TrimPrefix(dir, sandbox+"/"))
		}
	}
	link := filepath.Join(dir, parts[len(parts)-1])
	if _, err := os.Lstat(link); err == nil {
		return fmt.Errorf("%s already exists in the sandbox", rel)
	}
	if err := os.Symlink(target, link); err != nil {
		return err
	}
	return os.Lchown(link, uid, gid)
}

// remove removes task k's secret files, if any.
func (s secretFiles) remove(k update.Key) error {
	err := os.RemoveAll(s.dir(k))
	// The framework's directory goes once empty; another task's files
	// keep it (ENOTEMPTY), which is no error.
	if rerr := os.Remove(filepath.Join(s.root, k.FrameworkID)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && !errors.Is(rerr, unix.ENOTEMPTY) && !errors.Is(rerr, unix.EEXIST) {
		return errors.Join(err, rerr)
	}
	return err
}

// sweep removes the secret files of every task live does not hold: what
// tasks of an earlier run of the agent left behind. It returns how many
// tasks' files it removed.
func (s secretFiles) sweep(live map[update.Key]bool) (int, error) {
	fws, err := os.ReadDir(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, fw := range fws {
		tasks, err := os.ReadDir(filepath.Join(s.root, fw.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range tasks {
			k := update.Key{FrameworkID: fw.Name(), TaskID: t.Name()}
			if live[k] {
				continue
			}
			if err := s.remove(k); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
		if len(tasks) == 0 {
			_ = os.Remove(filepath.Join(s.root, fw.Name()))
		}
	}
	return n, errors.Join(errs...)
}
