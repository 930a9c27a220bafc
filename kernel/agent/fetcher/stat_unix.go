package fetcher

import (
	"os"
	"syscall"
)

// statIDs returns the owner and group of fi, or -1s when unknown.
func statIDs(fi os.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
