//go:build !authops_faults

package faults

// Enabled reports whether this build can inject faults.
const Enabled = false

// Inject never fails in a build without the authops_faults tag.
func Inject(op, path string) error { return nil }

// After does nothing in a build without the authops_faults tag.
func After(op, path string) {}
