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

// After kills this process with SIGKILL once a write of a file that AUTHOPS_FAULTS names with
// KILL has landed.
func After(op, path string) {
	if named(path) == "KILL" {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; nothing after the write may run
	}
}

// named is what AUTHOPS_FAULTS says for path's base name, "" if nothing.
func named(path string) string {
	for _, f := range strings.Split(os.Getenv(EnvVar), ",") {
		pattern, what, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			continue
		}
		if m, _ := filepath.Match(pattern, filepath.Base(path)); m {
			return what
		}
	}
	return ""
}

// Inject returns the error AUTHOPS_FAULTS names for a file whose base name matches, as the
// system call would have returned it.
func Inject(op, path string) error {
	switch named(path) {
	case "ENOSPC":
		return &fs.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
	case "EACCES":
		return &fs.PathError{Op: op, Path: path, Err: syscall.EACCES}
	}
	return nil
}
