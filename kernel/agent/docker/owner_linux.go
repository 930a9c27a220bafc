package docker

import (
	"os"
	"syscall"
)

// ownerOf returns the uid and gid of a file, -1 when unknown.
func ownerOf(fi os.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
