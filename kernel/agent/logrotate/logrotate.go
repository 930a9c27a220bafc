// Package logrotate writes a task's output stream to a file in its
// sandbox that is rotated by size: when a write would take the file past
// MaxSize, the file becomes <name>.1 (the older ones shifting to .2, …
// and the oldest beyond MaxFiles removed) and a new file is begun. Lines
// are kept whole where they fit: a rotation happens at a line end when the
// buffered data has one. Nothing written is lost or written twice.
//
// A reader that follows the file by offset (the CLI's logs -f, the
// console) sees the file shrink at a rotation: the rest of what it had
// not read is at the same offset in <name>.1 (see Follow in package
// files' clients).
package logrotate

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// DefaultMaxSize and DefaultMaxFiles are the agent's defaults (its
// --task_log_max_size and --task_log_max_files): 10 MB per file, the
// current one and 4 rotated ones kept.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

// Limits bound one stream's files. MaxSize <= 0 means no rotation.
type Limits struct {
	MaxSize  int64
	MaxFiles int // files kept, the current one included; at least 1
}

// Writer appends to Path, rotating as the package says. It is not safe
// for concurrent use.
type Writer struct {
	Path   string
	Limits Limits

	f    *os.File
	size int64
}

// Open opens (creating) path for appending, with mode perm.
func Open(path string, l Limits, perm os.FileMode) (*Writer, error) {
	if l.MaxFiles < 1 {
		l.MaxFiles = 1
	}
	w := &Writer{Path: path, Limits: l}
	if err := w.open(perm); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(perm os.FileMode) error {
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Write appends p, rotating when p does not fit in the current file: the
// file is first filled up to the last line end of p that fits, if the file
// is not empty; a file is never left empty by a rotation, so a piece with
// no line end within MaxSize is cut at MaxSize.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p
		if max := w.Limits.MaxSize; max > 0 && int64(len(chunk)) > max-w.size {
			room := max - w.size
			cut := -1
			if room > 0 {
				if i := bytes.LastIndexByte(chunk[:room], '\n'); i >= 0 {
					cut = i + 1
				}
			}
			switch {
			case cut > 0:
				chunk = chunk[:cut]
			case w.size > 0:
				if err := w.rotate(); err != nil {
					return n, err
				}
				continue
			default:
				chunk = chunk[:max]
			}
		}
		m, err := w.f.Write(chunk)
		n += m
		w.size += int64(m)
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// rotate shifts the files and begins a new one.
func (w *Writer) rotate() error {
	mode := os.FileMode(0o644)
	if fi, err := w.f.Stat(); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	keep := w.Limits.MaxFiles - 1 // rotated files kept
	if keep < 1 {
		if err := os.Remove(w.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return w.open(mode)
	}
	_ = os.Remove(w.Path + "." + strconv.Itoa(keep))
	for i := keep - 1; i >= 1; i-- {
		from := w.Path + "." + strconv.Itoa(i)
		if err := os.Rename(from, w.Path+"."+strconv.Itoa(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(w.Path, w.Path+".1"); err != nil {
		return err
	}
	if err := w.open(mode); err != nil {
		return err
	}
	// Keep the new file's owner that of the rotated one.
	if fi, err := os.Stat(w.Path + ".1"); err == nil {
		if uid, gid, ok := owner(fi); ok {
			_ = w.f.Chown(uid, gid)
		}
	}
	return nil
}

// Close closes the current file.
func (w *Writer) Close() error { return w.f.Close() }
