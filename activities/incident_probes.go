package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
)

// ConfirmAuth checks that the auth endpoints answer: /healthz, a probe login and /auth/me.
func (a *Incidents) ConfirmAuth(ctx context.Context, in contract.IncidentTargetInput) (contract.ProbeResults, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	return a.probe(t).Baseline(ctx, creds), nil
}

// loginCheck posts a login and expects want; from, when set, is the local address to send from.
// A request that cannot be sent is a failed check.
func (a *Incidents) loginCheck(ctx context.Context, t *config.Target, from *net.TCPAddr, name, user, password string, want int) contract.ProbeResult {
	start := time.Now()
	r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: want, At: start.UTC()}
	hc := a.httpClient(t)
	if from != nil {
		timeout := t.Probe.Timeout.D()
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		d := &net.Dialer{LocalAddr: from, Timeout: timeout}
		hc = &http.Client{
			Timeout:       timeout,
			Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.BaseURL, "/")+"/auth/token", bytes.NewReader(body))
	if err != nil {
		r.Detail = "bad request"
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	r.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.Detail = scrubText("request failed: "+err.Error(), password)
		return r
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.Got, r.OK = resp.StatusCode, resp.StatusCode == want
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" && len(e.Error) <= 64 {
		r.Detail = e.Error
	}
	if !r.OK {
		r.Detail = strings.TrimSuffix(fmt.Sprintf("expected %d, got %d (%s)", want, resp.StatusCode, r.Detail), " ()")
	}
	r.Detail = scrubText(r.Detail, password)
	return r
}

func notRunResult(name, method, path string, want int, detail string) contract.ProbeResult {
	return contract.ProbeResult{Name: name, Method: method, Path: path, Expected: want, Detail: detail, At: time.Now().UTC()}
}

// scrubText removes the given values and JWT-shaped text, and bounds the length.
func scrubText(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return capText(s, 300)
}
