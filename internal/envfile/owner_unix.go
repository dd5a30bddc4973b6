//go:build unix

package envfile

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives path the owner and group of fi, as Set does when it replaces a file.
func keepOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	return os.Lchown(path, int(st.Uid), int(st.Gid))
}
