package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/ulikunitz/xz"

	"corral/kernel/mesos"
)

// kind is how an artifact is unpacked, decided by its output name.
type kind int

const (
	plain kind = iota
	tarball
	tarGz
	tarBz2
	tarXz
	zipFile
	gz // a single gzipped file
)

// kindOf returns the kind of an artifact named name, by Mesos' suffixes.
func kindOf(name string) kind {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar"):
		return tarball
	case strings.HasSuffix(n, ".tgz"), strings.HasSuffix(n, ".tar.gz"):
		return tarGz
	case strings.HasSuffix(n, ".tbz2"), strings.HasSuffix(n, ".tar.bz2"):
		return tarBz2
	case strings.HasSuffix(n, ".txz"), strings.HasSuffix(n, ".tar.xz"):
		return tarXz
	case strings.HasSuffix(n, ".zip"):
		return zipFile
	case strings.HasSuffix(n, ".gz"):
		return gz
	}
	return plain
}

// installer writes artifacts into one sandbox through root, recording
// every path it makes (for chown) in made.
type installer struct {
	root *os.Root
	// limit bounds the bytes unpacked from one archive.
	limit int64
	made  []string
}

// install puts src, the artifact of u, at out in the sandbox, and unpacks
// it if it is an archive and u says extract. keep leaves the archive
// itself in the sandbox too (Mesos keeps it unless it came from the cache).
func (in *installer) install(src *os.File, out string, u mesos.CommandURI, keep bool) error {
	k := kindOf(out)
	if !u.IsExtract() || k == plain {
		mode := os.FileMode(0o644)
		if u.IsExecutable() {
			mode = 0o755
		}
		return in.file(out, src, mode, -1)
	}
	if keep {
		if err := in.file(out, src, 0o644, -1); err != nil {
			return err
		}
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	var err error
	switch k {
	case tarball:
		err = in.untar(src)
	case tarGz, gz:
		var z *gzip.Reader
		if z, err = gzip.NewReader(src); err != nil {
			return fmt.Errorf("gunzip: %w", err)
		}
		if k == gz {
			return in.file(strings.TrimSuffix(out, path.Ext(out)), z, 0o644, in.limit)
		}
		err = in.untar(z)
	case tarBz2:
		err = in.untar(bzip2.NewReader(src))
	case tarXz:
		var x *xz.Reader
		if x, err = xz.NewReader(src); err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		err = in.untar(x)
	case zipFile:
		err = in.unzip(src)
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w", out, err)
	}
	return nil
}

// file writes r to name (replacing whatever is there, never writing
// through it), creating its directories; limit < 0 means no limit.
func (in *installer) file(name string, r io.Reader, mode os.FileMode, limit int64) error {
	if err := in.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	if err := in.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	if mode&0o111 != 0 {
		// A process the agent forks while this file is open for writing
		// holds the descriptor until it execs, and executing the file
		// meanwhile fails with ETXTBSY ("text file busy", exit 126). No
		// fork starts while ForkLock is held for reading.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
	}
	f, err := in.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	in.made = append(in.made, name)
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if limit >= 0 && n > limit {
		return fmt.Errorf("%s: more than %d bytes unpacked", name, limit)
	}
	// Explicitly: the umask must not take the bits the URI asks for.
	return in.root.Chmod(name, mode.Perm())
}

// mkdirs makes dir and its parents in the sandbox, recording the ones it
// makes.
func (in *installer) mkdirs(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		err := in.root.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			in.made = append(in.made, cur)
		case errors.Is(err, fs.ErrExist):
			fi, serr := in.root.Stat(cur)
			if serr != nil {
				return serr
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a directory", cur)
			}
		default:
			return err
		}
	}
	return nil
}

// entry checks an archive entry's name and returns it cleaned.
func entryName(name string) (string, error) {
	p, err := mesos.SandboxPath(strings.TrimPrefix(name, "./"))
	if err != nil {
		return "", fmt.Errorf("entry %q: %w", name, err)
	}
	return p, nil
}

// link makes the symlink name → target, refusing a target that is
// absolute or leads out of the sandbox.
func (in *installer) link(name, target string) error {
	if path.IsAbs(target) {
		return fmt.Errorf("entry %q: symlink to the absolute path %q", name, target)
	}
	if _, err := mesos.SandboxPath(path.Join(path.Dir(name), target)); err != nil {
		return fmt.Errorf("entry %q: symlink to %q leaves the sandbox", name, target)
	}
	if err := in.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	if err := in.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := in.root.Symlink(target, name); err != nil {
		return err
	}
	in.made = append(in.made, name)
	return nil
}

// budget counts the bytes left to unpack from one archive.
type budget struct{ left int64 }

func (b *budget) take(n int64) error {
	b.left -= n
	if b.left < 0 {
		return errors.New("archive unpacks to more than the size limit")
	}
	return nil
}

func (in *installer) untar(r io.Reader) error {
	tr := tar.NewReader(r)
	b := &budget{left: in.limit}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := entryName(h.Name)
		if err != nil {
			if h.Typeflag == tar.TypeDir && strings.Trim(h.Name, "./") == "" {
				continue // the archive's root, "./"
			}
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = in.mkdirs(name)
		case tar.TypeReg:
			if err = b.take(h.Size); err == nil {
				err = in.file(name, tr, os.FileMode(h.Mode).Perm(), h.Size)
			}
		case tar.TypeSymlink:
			err = in.link(name, h.Linkname)
		case tar.TypeLink:
			var old string
			if old, err = entryName(h.Linkname); err == nil {
				if err = in.mkdirs(path.Dir(name)); err == nil {
					if err = in.root.Link(old, name); err == nil {
						in.made = append(in.made, name)
					}
				}
			}
		default:
			err = fmt.Errorf("entry %q: type %q (device, fifo, …) is not supported", h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

func (in *installer) unzip(src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(src, fi.Size())
	if err != nil {
		return err
	}
	b := &budget{left: in.limit}
	for _, zf := range zr.File {
		name, err := entryName(zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			err = in.mkdirs(name)
		case mode&fs.ModeSymlink != 0:
			err = in.zipLink(zf, name)
		case mode.IsRegular():
			if err = b.take(int64(zf.UncompressedSize64)); err != nil {
				return err
			}
			var rc io.ReadCloser
			if rc, err = zf.Open(); err != nil {
				return err
			}
			perm := mode.Perm()
			if perm == 0 {
				perm = 0o644 // archives made without Unix modes
			}
			err = in.file(name, rc, perm, int64(zf.UncompressedSize64))
			rc.Close()
		default:
			err = fmt.Errorf("entry %q: mode %v is not supported", zf.Name, mode)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (in *installer) zipLink(zf *zip.File, name string) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	t, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return err
	}
	return in.link(name, string(t))
}
