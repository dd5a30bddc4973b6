package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInjectOnlyWithTheTag: without the tag Inject never fails, whatever the environment says;
// with it, a matching file gets the named errno.
func TestInjectOnlyWithTheTag(t *testing.T) {
	t.Setenv("AUTHOPS_FAULTS", "x.json=ENOSPC")
	err := Inject("write", "/tmp/x.json")
	if !Enabled {
		if err != nil {
			t.Fatalf("a build without authops_faults injected %v", err)
		}
		return
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	if err := Inject("write", "/tmp/y.json"); err != nil {
		t.Fatalf("a file that does not match failed: %v", err)
	}
}

// TestReleaseWorkerHasNoHook: the worker `make build` makes holds no fault hook (the hook's
// environment variable is not even in the binary), while a build with the tag does, so the
// check can tell them apart.
func TestReleaseWorkerHasNoHook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	contains := func(bin string) bool {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(b), "AUTHOPS_FAULTS")
	}
	release := filepath.Join(os.Getenv("AUTHOPS_BIN"), "worker")
	if os.Getenv("AUTHOPS_BIN") == "" {
		release = filepath.Join(t.TempDir(), "worker")
		build(t, root, release)
	}
	if contains(release) {
		t.Fatalf("%s holds the fault hook", release)
	}
	tagged := filepath.Join(t.TempDir(), "worker-faults")
	build(t, root, tagged, "-tags", "authops_faults")
	if !contains(tagged) {
		t.Fatal("the authops_faults build holds no hook: the check above proves nothing")
	}
}

func build(t *testing.T, root, out string, flags ...string) {
	t.Helper()
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, "./worker")...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}
