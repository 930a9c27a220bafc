package logrotate

import (
	"os"
	"syscall"
)

// owner returns a file's uid and gid.
func owner(fi os.FileInfo) (int, int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
