package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"time"
)

// HTTP calls a deploy webhook. Headers values come from the environment: HeadersFromEnv maps
// header name -> env var name; a missing env var is an error naming it.
type HTTP struct {
	Method, URL    string // Method defaults to POST
	HeadersFromEnv map[string]string
	Timeout        time.Duration // zero means defaultHTTPTimeout
	// Client defaults to one that does not follow redirects: Go forwards custom headers such as
	// X-Deploy-Token to the redirect target, which may be another host.
	Client *http.Client
	// Redact lists further values to hide in Output and errors (the webhook may echo them).
	Redact []string
}

const defaultHTTPTimeout = 30 * time.Second

// Deploy sends the request. 2xx is success; body captured (truncated, redacted). ExitCode is 0
// on success, the HTTP status otherwise, and -1 when no answer came.
func (h HTTP) Deploy(ctx context.Context) (Report, error) {
	u, err := h.parseURL()
	if err != nil {
		return Report{ExitCode: -1}, fmt.Errorf("deploy webhook: %w", err)
	}
	header, secrets, err := h.headers()
	if err != nil {
		return Report{ExitCode: -1}, fmt.Errorf("deploy webhook: %w", err)
	}
	secrets = append(secrets, urlSecrets(u)...)
	secrets = append(secrets, h.Redact...)
	method := h.method()
	target := fmt.Sprintf("%s %s", method, safeURL(u))

	timeout := h.Timeout
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return Report{ExitCode: -1}, fmt.Errorf("deploy webhook %s: %s", target, Redact(err.Error(), secrets...))
	}
	req.Header = header

	start := time.Now()
	resp, err := h.client().Do(req)
	if err != nil {
		rep := Report{ExitCode: -1, Duration: time.Since(start)}
		// url.Error repeats the full URL, query included; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		msg := Redact(err.Error(), secrets...)
		if ctx.Err() != nil {
			return rep, fmt.Errorf("deploy webhook %s: %s: %w", target, msg, ctx.Err())
		}
		return rep, fmt.Errorf("deploy webhook %s: %s", target, msg)
	}
	defer resp.Body.Close()
	body := newOutputLog(secrets)
	_, readErr := io.Copy(body, resp.Body)
	rep := Report{Duration: time.Since(start)}
	body.report(&rep)
	if readErr != nil {
		// The status already says whether the deploy was accepted; a cut body only costs log text.
		rep.Output = lastLines(rep.Output+"\n[reading response body failed: "+Redact(readErr.Error(), secrets...)+"]", outputLines, outputLimit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rep.ExitCode = resp.StatusCode
		return rep, fmt.Errorf("deploy webhook %s: status %s", target, resp.Status)
	}
	return rep, nil
}

// DryRun checks what Deploy needs without sending anything: URL parses (http/https), env vars present.
func (h HTTP) DryRun(ctx context.Context) error {
	u, err := h.parseURL()
	if err != nil {
		return fmt.Errorf("deploy webhook dry run: %w", err)
	}
	if _, _, err := h.headers(); err != nil {
		return fmt.Errorf("deploy webhook dry run: %w", err)
	}
	// Building the request validates the method the same way Deploy will.
	if _, err := http.NewRequestWithContext(ctx, h.method(), u.String(), nil); err != nil {
		return fmt.Errorf("deploy webhook dry run: %s", Redact(err.Error(), urlSecrets(u)...))
	}
	return nil
}

func (h HTTP) method() string {
	if h.Method == "" {
		return http.MethodPost
	}
	return h.Method
}

func (h HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{CheckRedirect: noRedirect}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// parseURL accepts absolute http(s) URLs only. Its errors never repeat the URL, which may carry
// a token in its query or user info.
func (h HTTP) parseURL() (*url.URL, error) {
	if h.URL == "" {
		return nil, errors.New("empty URL")
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid URL: %s", Redact(err.Error(), h.URL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL: scheme %q, want http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("invalid URL: no host")
	}
	return u, nil
}

// headers reads header values from the environment. An unset or empty variable is an error that
// names the variable (never a value); names are checked in order so the error is stable.
func (h HTTP) headers() (http.Header, []string, error) {
	names := make([]string, 0, len(h.HeadersFromEnv))
	for name := range h.HeadersFromEnv {
		names = append(names, name)
	}
	sort.Strings(names)
	header := make(http.Header, len(names))
	secrets := make([]string, 0, len(names))
	for _, name := range names {
		env := h.HeadersFromEnv[name]
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return nil, nil, fmt.Errorf("env var %s (for header %s) is not set", env, name)
		}
		header.Set(name, v)
		secrets = append(secrets, v)
	}
	return header, secrets, nil
}

// urlSecrets lists the parts of a webhook URL that commonly carry credentials.
func urlSecrets(u *url.URL) []string {
	var s []string
	if p, ok := u.User.Password(); ok {
		s = append(s, p)
	}
	if u.RawQuery != "" {
		s = append(s, u.RawQuery)
	}
	return s
}

// safeURL is the URL without user info, query and fragment, fit for errors and logs.
func safeURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}
