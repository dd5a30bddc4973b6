package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	readyPoll  = 250 * time.Millisecond
	probeLimit = 2 * time.Second
)

// portUse is a port the stack needs and what for, so that a conflict can be explained.
type portUse struct {
	addr    string
	purpose string
	flag    string
}

// checkPorts fails, naming every busy port, when something already uses one of them.
func checkPorts(ctx context.Context, uses []portUse) error {
	var errs []error
	for _, u := range uses {
		if err := portFree(ctx, u.addr); err != nil {
			_, port, _ := net.SplitHostPort(u.addr)
			errs = append(errs, fmt.Errorf(
				"port %s (%s) is already in use: %v; stop what holds it (an earlier `make up`?) or choose another with %s",
				port, u.purpose, err, u.flag))
		}
	}
	return errors.Join(errs...)
}

// portFree checks both ways: a connection finds a listener on any address that covers addr, and
// a bind finds a socket that is bound but not (yet) listening.
func portFree(ctx context.Context, addr string) error {
	dialCtx, cancel := context.WithTimeout(ctx, probeLimit)
	defer cancel()
	var d net.Dialer
	if conn, err := d.DialContext(dialCtx, "tcp", addr); err == nil {
		conn.Close()
		return fmt.Errorf("something is listening on %s", addr)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot bind %s: %w", addr, err)
	}
	return ln.Close()
}

// waitReady polls check until it succeeds, ctx is done, or timeout passes.
func waitReady(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	var last error
	for {
		probeCtx, cancelProbe := context.WithTimeout(ctx, probeLimit)
		last = check(probeCtx)
		cancelProbe()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s (last error: %v); see its output above", what, timeout, last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

func tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

func httpReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// lockedWriter serializes writes from the logger and the children's output, so that lines do
// not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maxLine bounds the buffer for output that never ends a line.
const maxLine = 64 << 10

// prefixWriter writes whole lines, each tagged with the name of the process that wrote it.
type prefixWriter struct {
	mu      sync.Mutex
	out     io.Writer
	prefix  []byte
	partial []byte
}

func newPrefixWriter(out io.Writer, name string) *prefixWriter {
	return &prefixWriter{out: out, prefix: []byte("[" + name + "] ")}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rest := append(w.partial, p...)
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) < maxLine {
				break
			}
			rest = append(rest, '\n')
			i = len(rest) - 1
		}
		line := append(append([]byte(nil), w.prefix...), rest[:i+1]...)
		if _, err := w.out.Write(line); err != nil {
			return 0, err
		}
		rest = rest[i+1:]
	}
	// Move the unfinished line to the front, so the buffer does not grow with the output.
	w.partial = append(w.partial[:0], rest...)
	return len(p), nil
}
