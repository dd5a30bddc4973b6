//go:build !unix

package deploy

import "os/exec"

// killGroupOnCancel keeps exec's default (kill the process only) where process groups do not exist.
func killGroupOnCancel(*exec.Cmd) {}
