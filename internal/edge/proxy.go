package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/atomicfile"
)

// Proxy is one nginx edge: the include it owns and the commands that check and load it.
type Proxy struct {
	// Include is the include file's path.
	Include string
	// Test checks the proxy's config with the include in place (nginx -t -p DIR -c FILE).
	Test []string
	// Reload makes the running proxy load it (nginx -s reload -p DIR -c FILE).
	Reload []string
	// Timeout bounds each command; 0 means 30s.
	Timeout time.Duration
	// Logger gets one line per change; nil means slog.Default().
	Logger *slog.Logger
}

// ErrRefused is wrapped by the error of a change the proxy's config check refused: it was put
// back, and the same change would be refused again, so it is not worth retrying.
var ErrRefused = errors.New("refused by the proxy's config check")

// Change says what an operation did.
type Change struct {
	State State
	// Reloaded is false when the include already held the state and the proxy had loaded it:
	// nothing was written and nothing reloaded.
	Reloaded bool
}

// State reads what the include holds; a missing include is the empty state.
func (p *Proxy) State() (State, error) {
	b, err := os.ReadFile(p.Include)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read edge include: %w", err)
	}
	return Parse(b)
}

// Deny adds ranges to the include. Every range is checked before anything is written.
func (p *Proxy) Deny(ctx context.Context, cidrs []string) (Change, error) {
	norm, err := normalizeCIDRs(cidrs)
	if err != nil {
		return Change{}, err
	}
	return p.update(ctx, "deny "+strings.Join(norm, ", "), func(s *State) { s.Denied = append(s.Denied, norm...) })
}

// Allow removes ranges from the include.
func (p *Proxy) Allow(ctx context.Context, cidrs []string) (Change, error) {
	norm, err := normalizeCIDRs(cidrs)
	if err != nil {
		return Change{}, err
	}
	return p.update(ctx, "allow "+strings.Join(norm, ", "), func(s *State) {
		s.Denied = slices.DeleteFunc(s.Denied, func(c string) bool { return slices.Contains(norm, c) })
	})
}

// Restrict makes the prefixes answer status at the edge.
func (p *Proxy) Restrict(ctx context.Context, prefixes []string, status int) (Change, error) {
	if len(prefixes) == 0 {
		return Change{}, errors.New("no route prefixes given")
	}
	for _, pr := range prefixes {
		if err := ValidateRoute(pr, status); err != nil {
			return Change{}, err
		}
	}
	return p.update(ctx, fmt.Sprintf("restrict %s (%d)", strings.Join(prefixes, ", "), status), func(s *State) {
		for _, pr := range prefixes {
			s.Routes = append(s.Routes, Route{Prefix: pr, Status: status})
		}
	})
}

// Lift removes restrictions; no prefixes lifts all of them, as the control API does.
func (p *Proxy) Lift(ctx context.Context, prefixes []string) (Change, error) {
	for _, pr := range prefixes {
		if err := ValidateRoute(pr, 503); err != nil {
			return Change{}, err
		}
	}
	return p.update(ctx, "lift "+strings.Join(prefixes, ", "), func(s *State) {
		s.Routes = slices.DeleteFunc(s.Routes, func(r Route) bool {
			return len(prefixes) == 0 || slices.ContainsFunc(prefixes, func(pr string) bool { return trimPrefix(pr) == r.Prefix })
		})
	})
}

func normalizeCIDRs(cidrs []string) ([]string, error) {
	if len(cidrs) == 0 {
		return nil, errors.New("no CIDRs given")
	}
	return contract.NormalizeCIDRs(cidrs)
}

// update applies change to the include's state under the include's lock: render, write,
// check, and reload, or put the previous include back when the check fails.
func (p *Proxy) update(ctx context.Context, what string, change func(*State)) (Change, error) {
	unlock, err := p.lock()
	if err != nil {
		return Change{}, err
	}
	defer unlock()
	prev, err := os.ReadFile(p.Include)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Change{}, fmt.Errorf("read edge include: %w", err)
	}
	st, err := Parse(prev)
	if err != nil {
		return Change{}, err
	}
	change(&st)
	next, err := Render(st)
	if err != nil {
		return Change{}, err
	}
	st, _ = Parse(next)
	if existed && bytes.Equal(prev, next) && p.loaded(next) {
		return Change{State: st}, nil
	}
	if !bytes.Equal(prev, next) || !existed {
		if err := atomicfile.Write(p.Include, next, atomicfile.Options{Perm: 0o644, KeepOwnerAndMode: true}); err != nil {
			return Change{}, fmt.Errorf("write edge include %s: %w", p.Include, err)
		}
		if out, err := p.run(ctx, p.Test); err != nil {
			if rerr := p.restore(prev, existed); rerr != nil {
				return Change{}, fmt.Errorf("edge %s: the check (%s) failed: %v: %s; and putting the previous include back failed too: %w",
					what, strings.Join(p.Test, " "), err, out, rerr)
			}
			return Change{}, fmt.Errorf("edge %s: %w (%s), so the previous include is back in place and nothing changed: %v: %s",
				what, ErrRefused, strings.Join(p.Test, " "), err, out)
		}
	}
	if out, err := p.run(ctx, p.Reload); err != nil {
		// The include passed the check; a retry reloads again, since the stamp is not written.
		return Change{}, fmt.Errorf("edge %s: reload (%s) failed: %v: %s", what, strings.Join(p.Reload, " "), err, out)
	}
	if err := atomicfile.Write(p.stampPath(), []byte(digest(next)+"\n"), atomicfile.Options{Perm: 0o644}); err != nil {
		return Change{}, fmt.Errorf("edge %s: reloaded, but recording it failed: %w", what, err)
	}
	p.logger().Info("edge include changed", slog.String("include", p.Include), slog.String("change", what),
		slog.Int("denied", len(st.Denied)), slog.Int("routes", len(st.Routes)))
	return Change{State: st, Reloaded: true}, nil
}

// restore puts the include back as it was before a failed check.
func (p *Proxy) restore(prev []byte, existed bool) error {
	if !existed {
		if err := os.Remove(p.Include); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return atomicfile.Write(p.Include, prev, atomicfile.Options{Perm: 0o644, KeepOwnerAndMode: true})
}

// stampPath records the digest of the include the proxy last reloaded, so that a retry after a
// reload that failed (or never ran) reloads again instead of taking the unchanged file as done.
func (p *Proxy) stampPath() string { return p.Include + ".loaded" }

// Unmark forgets that the proxy loaded the include, so that the next change reloads it even when
// the include is unchanged: for a reload that ran but that the proxy did not act on.
func (p *Proxy) Unmark() error {
	if err := os.Remove(p.stampPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("edge: forget the reload: %w", err)
	}
	return nil
}

func (p *Proxy) loaded(b []byte) bool {
	s, err := os.ReadFile(p.stampPath())
	return err == nil && strings.TrimSpace(string(s)) == digest(b)
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// lock holds an exclusive flock on a file beside the include, for the read-modify-write: two
// activities changing the same edge (a deny and a restrict in one emergency) would otherwise
// drop each other's change. flock conflicts between open files of one process too.
func (p *Proxy) lock() (func(), error) {
	f, err := os.OpenFile(p.Include+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock edge include: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock edge include: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// run runs a command with only PATH from the worker's environment and returns its output,
// bounded for the error message.
func (p *Proxy) run(ctx context.Context, argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no command configured")
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s, err
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}
