package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/edge"
	"github.com/authops/authops/internal/probe"
)

// edgeProxy is the target's nginx edge, or nil when it has none. A command's first word is
// looked up in PATH unless it holds a slash, which makes it a path from the config file.
func (a *Targets) edgeProxy(t *config.Target) *edge.Proxy {
	e := t.Controls.Edge
	if e == nil {
		return nil
	}
	argv := func(in []string) []string {
		out := append([]string(nil), in...)
		if len(out) > 0 && strings.Contains(out[0], "/") {
			out[0] = a.Config.Abs(out[0])
		}
		return out
	}
	return &edge.Proxy{Include: a.Config.Abs(e.Include), Test: argv(e.Test), Reload: argv(e.Reload), Timeout: e.Timeout.D()}
}

// edgeErr makes a change the proxy's check refused, or bad input, not worth retrying.
func edgeErr(err error) error {
	if errors.Is(err, edge.ErrRefused) {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
	}
	return err
}

// checkEdgeInput refuses, before anything changes anywhere, ranges and routes the include
// could not hold: the backend's control API takes some that nginx would read as syntax.
func checkEdgeInput(t *config.Target, cidrs, prefixes []string, status int) error {
	if t.Controls.Edge == nil {
		return nil
	}
	for _, c := range cidrs {
		if _, err := contract.NormalizeCIDR(c); err != nil {
			return temporal.NewNonRetryableApplicationError("edge: "+err.Error(), contract.ErrTypeConfig, nil)
		}
	}
	for _, p := range prefixes {
		if err := edge.ValidateRoute(p, status); err != nil {
			return temporal.NewNonRetryableApplicationError("edge: "+err.Error(), contract.ErrTypeConfig, nil)
		}
	}
	return nil
}

// readBack polls get until ok accepts the status or the deadline passes: nginx applies a
// reload asynchronously, so the first answers may still come from the old config.
func readBack(ctx context.Context, hc *http.Client, url string, within time.Duration, ok func(int) bool) (int, error) {
	if dl, has := ctx.Deadline(); has && time.Until(dl) < within {
		within = time.Until(dl) - 100*time.Millisecond
	}
	deadline := time.Now().Add(within)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			if ok(resp.StatusCode) {
				return resp.StatusCode, nil
			}
			last = fmt.Errorf("answered %d", resp.StatusCode)
		} else {
			last = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("GET %s through the edge: %w", url, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// edgeClient sends from the local address from (nil: the default), one connection per request.
func (a *Targets) edgeClient(t *config.Target, from netip.Addr) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	return &http.Client{
		Timeout:       a.httpClient(t).Timeout,
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// edgeDeny changes the edge's deny list (deny or allow); readEdgeDeny reads it back once the
// backend has changed too. No edge: nothing to do.
func (a *Targets) edgeDeny(ctx context.Context, t *config.Target, cidrs []string, deny bool) (edge.State, error) {
	p := a.edgeProxy(t)
	if p == nil {
		return edge.State{}, nil
	}
	op := p.Allow
	if deny {
		op = p.Deny
	}
	c, err := op(ctx, cidrs)
	if err != nil {
		return edge.State{}, edgeErr(err)
	}
	return c.State, nil
}

// readEdgeDeny reads each range back through the proxy from a local address inside it: refused
// with 403 once denied, answered otherwise once allowed. A range with no local address is said
// to be not read back. A read-back that fails makes the next attempt reload again.
func (a *Targets) readEdgeDeny(ctx context.Context, t *config.Target, st edge.State, cidrs []string, deny bool) (string, error) {
	p := a.edgeProxy(t)
	if p == nil {
		return "", nil
	}
	et := *t
	et.BaseURL = t.Controls.Edge.EdgeURL(t)
	url := strings.TrimRight(et.BaseURL, "/") + "/healthz"
	var seen []string
	for _, s := range cidrs {
		pr, err := contract.NormalizeCIDR(s)
		if err != nil {
			return "", temporal.NewNonRetryableApplicationError("edge: "+err.Error(), contract.ErrTypeConfig, nil)
		}
		from, ok := localAddrIn(&et, pr)
		if !ok {
			seen = append(seen, pr.String()+" not read back (no local address in range)")
			continue
		}
		got, err := readBack(ctx, a.edgeClient(t, from), url, t.Controls.Edge.Readback.D(), func(st int) bool {
			return (st == http.StatusForbidden) == deny
		})
		if err != nil {
			_ = p.Unmark()
			return "", fmt.Errorf("edge: %s from %s is not yet %s by the proxy: %w", pr, from, map[bool]string{true: "refused", false: "served"}[deny], err)
		}
		seen = append(seen, fmt.Sprintf("%s from %s: %d", pr, from, got))
	}
	return fmt.Sprintf("edge denies: %s (read back through the proxy: %s)", noneIfEmpty(strings.Join(st.Denied, ", ")), strings.Join(seen, "; ")), nil
}

// edgeRoutes restricts routes at the edge, or lifts them; readEdgeRoutes reads them back.
func (a *Targets) edgeRoutes(ctx context.Context, t *config.Target, prefixes []string, status int, restrict bool) error {
	p := a.edgeProxy(t)
	if p == nil {
		return nil
	}
	if restrict {
		_, err := p.Restrict(ctx, prefixes, status)
		return edgeErr(err)
	}
	lift := edgePrefixes(prefixes)
	if len(prefixes) > 0 && len(lift) == 0 {
		return nil // none of them can be in the include; an empty list would lift every route
	}
	_, err := p.Lift(ctx, lift)
	return edgeErr(err)
}

// edgePrefixes keeps the prefixes the include can hold. A lift skips the others rather than
// failing: they cannot be at the edge (a restriction made before the target had one), and the
// backend's restriction must still be lifted.
func edgePrefixes(prefixes []string) []string {
	var out []string
	for _, p := range prefixes {
		if edge.ValidateRoute(p, http.StatusServiceUnavailable) == nil {
			out = append(out, p)
		}
	}
	return out
}

// readEdgeRoutes checks through the proxy that each prefix answers status once restricted, and
// something else once lifted.
func (a *Targets) readEdgeRoutes(ctx context.Context, t *config.Target, prefixes []string, status int, restrict bool) probe.Results {
	p := a.edgeProxy(t)
	if p == nil {
		return nil
	}
	base := strings.TrimRight(t.Controls.Edge.EdgeURL(t), "/")
	name := "restriction_lifted_at_edge"
	if restrict {
		name = "restricted_at_edge"
	}
	if !restrict {
		prefixes = edgePrefixes(prefixes)
	}
	var rs probe.Results
	for _, pr := range prefixes {
		r := probe.Result{Name: name, Method: http.MethodGet, Path: pr, OK: true, At: time.Now().UTC()}
		if restrict {
			r.Expected = status
		}
		got, err := readBack(ctx, a.edgeClient(t, netip.Addr{}), base+pr, t.Controls.Edge.Readback.D(), func(st int) bool {
			return (st == status) == restrict
		})
		if err != nil {
			_ = p.Unmark()
			what := fmt.Sprintf("still answers %d", status)
			if restrict {
				what = fmt.Sprintf("does not answer %d", status)
			}
			r.OK, r.Detail = false, contract.CleanText(fmt.Sprintf("edge: %s %s: %v", pr, what, err))
		}
		r.Got = got
		rs = append(rs, r)
	}
	return rs
}
