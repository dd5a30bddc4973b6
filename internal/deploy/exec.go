package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Exec runs an argv (no shell) with a timeout, capturing combined output; secrets listed in Redact
// are replaced with "[REDACTED]" in Output and errors.
type Exec struct {
	Argv       []string
	DryRunArgv []string
	Dir        string
	// Env (KEY=VALUE) is the command's whole environment besides the worker's PATH, which comes
	// first (so a PATH in Env wins). Nothing else of the worker's environment reaches the
	// command: it holds the worker's credentials (the Slack tokens, the Temporal API key) and
	// those of other targets.
	Env []string
	// Timeout bounds one run; zero means defaultExecTimeout. When it expires the whole process
	// group is killed.
	Timeout time.Duration
	Redact  []string
}

// defaultExecTimeout keeps a hung deploy from holding a worker slot forever when none is configured.
const defaultExecTimeout = 5 * time.Minute

// waitDelay bounds how long Wait blocks on output pipes after the process has gone; a descendant
// that left the process group could otherwise keep them open indefinitely.
const waitDelay = 2 * time.Second

// Deploy runs Argv. A non-zero exit, a failure to start and a timeout are errors; the Report is
// filled in every case.
func (e Exec) Deploy(ctx context.Context) (Report, error) {
	rep, err := e.run(ctx, e.Argv)
	if err != nil {
		return rep, fmt.Errorf("deploy: %w", err)
	}
	return rep, nil
}

// DryRun checks the deploy path: argv non-empty, executable resolvable (exec.LookPath or existing
// file relative to Dir), and if DryRunArgv is set runs it and requires exit 0.
func (e Exec) DryRun(ctx context.Context) error {
	if len(e.Argv) == 0 {
		return errors.New("deploy dry run: empty argv")
	}
	if _, err := e.resolve(e.Argv[0]); err != nil {
		return fmt.Errorf("deploy dry run: %s", e.redact(err.Error()))
	}
	if len(e.DryRunArgv) == 0 {
		return nil
	}
	rep, err := e.run(ctx, e.DryRunArgv)
	if err != nil {
		// The end of the output usually says what is wrong; it is already redacted.
		if out := strings.TrimSpace(lastBytes(rep.Output, 256)); out != "" {
			return fmt.Errorf("deploy dry run: %w; output: %s", err, out)
		}
		return fmt.Errorf("deploy dry run: %w", err)
	}
	return nil
}

func (e Exec) run(ctx context.Context, argv []string) (Report, error) {
	if len(argv) == 0 {
		return Report{ExitCode: -1}, errors.New("empty argv")
	}
	name := e.redact(argv[0])
	path, err := e.resolve(argv[0])
	if err != nil {
		return Report{ExitCode: -1}, errors.New(e.redact(err.Error()))
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = defaultExecTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	out := newOutputLog(e.Redact)
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = e.Dir
	cmd.Env = e.environ()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	killGroupOnCancel(cmd)

	start := time.Now()
	runErr := cmd.Run()
	rep := Report{ExitCode: exitCode(runErr), Duration: time.Since(start)}
	out.report(&rep)
	switch {
	case runErr == nil:
		return rep, nil
	case ctx.Err() != nil:
		verb := "timed out"
		if errors.Is(ctx.Err(), context.Canceled) {
			verb = "cancelled"
		}
		// Only ctx.Err() is wrapped: its text is fixed, while runErr may name paths or args.
		return rep, fmt.Errorf("%s: %s after %s, process group killed: %w",
			name, verb, rep.Duration.Round(time.Millisecond), ctx.Err())
	default:
		return rep, fmt.Errorf("%s: %s", name, e.redact(runErr.Error()))
	}
}

// environ is the command's environment: the worker's PATH, then Env. Never nil, since a nil
// cmd.Env would hand the command the worker's whole environment.
func (e Exec) environ() []string {
	env := make([]string, 0, len(e.Env)+1)
	if p, ok := os.LookupEnv("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	return append(env, e.Env...)
}

// resolve finds the executable the way it will be run: a bare name through PATH, a path relative
// to Dir. Deploy runs the resolved absolute path, so DryRun and Deploy cannot disagree.
func (e Exec) resolve(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty executable name")
	}
	if !strings.ContainsRune(name, '/') && !strings.ContainsRune(name, filepath.Separator) {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", err // already names the executable and says PATH
		}
		return p, nil
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.Dir, p)
	}
	p, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("executable %q: %w", name, err)
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("executable %q: %w", name, err)
	case fi.IsDir():
		return "", fmt.Errorf("executable %q is a directory", name)
	case fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("executable %q is not executable (mode %s)", name, fi.Mode().Perm())
	}
	return p, nil
}

func (e Exec) redact(s string) string { return Redact(s, e.Redact...) }

// exitCode is 0 on success, the process's code on a normal non-zero exit, and -1 when it did
// not start or was killed by a signal.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
