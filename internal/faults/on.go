//go:build authops_faults

package faults

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Enabled reports whether this build can inject faults.
const Enabled = true

// EnvVar configures the faults of a test build.
const EnvVar = "AUTHOPS_FAULTS"

// Inject returns the error AUTHOPS_FAULTS names for a file whose base name matches, as the
// system call would have returned it.
func Inject(op, path string) error {
	for _, f := range strings.Split(os.Getenv(EnvVar), ",") {
		pattern, errno, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			continue
		}
		if m, _ := filepath.Match(pattern, filepath.Base(path)); !m {
			continue
		}
		switch errno {
		case "ENOSPC":
			return &fs.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
		case "EACCES":
			return &fs.PathError{Op: op, Path: path, Err: syscall.EACCES}
		}
	}
	return nil
}
