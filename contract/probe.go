package contract

import (
	"time"
)

// ProbeResult is the outcome of one check.
type ProbeResult struct {
	Name      string    `json:"name"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Expected  int       `json:"expected"`
	Got       int       `json:"got"`
	OK        bool      `json:"ok"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
	ElapsedMS int64     `json:"elapsed_ms"`
	// Deferred marks a check that could neither pass nor fail because a route restriction answered
	// first (e.g. the privilege probe on /admin while /admin answers 503). OK is false, but the
	// check counts as neither passed nor failed; it runs again once the restriction is lifted.
	Deferred bool `json:"deferred,omitempty"`
	// NotProbed marks a check that could not be sent (no local address inside a denied range to
	// send it from): OK is false, and it counts as neither passed nor failed, so that a report
	// never shows as proven what was only read from the backend's state.
	NotProbed bool `json:"not_probed,omitempty"`
}

// ProbeResults is a checklist run.
type ProbeResults []ProbeResult

// Failed returns the checks that did not pass, deferred and not-probed checks excepted.
func (rs ProbeResults) Failed() []ProbeResult {
	var failed []ProbeResult
	for _, r := range rs {
		if !r.OK && !r.Deferred && !r.NotProbed {
			failed = append(failed, r)
		}
	}
	return failed
}

// Deferred returns the checks deferred until a route restriction is lifted.
func (rs ProbeResults) Deferred() []ProbeResult {
	var deferred []ProbeResult
	for _, r := range rs {
		if r.Deferred {
			deferred = append(deferred, r)
		}
	}
	return deferred
}

// NotProbed returns the checks that could not be sent.
func (rs ProbeResults) NotProbed() []ProbeResult {
	var out []ProbeResult
	for _, r := range rs {
		if r.NotProbed && !r.Deferred {
			out = append(out, r)
		}
	}
	return out
}

// Passed returns the checks that ran and passed.
func (rs ProbeResults) Passed() []ProbeResult {
	var out []ProbeResult
	for _, r := range rs {
		if r.OK && !r.Deferred && !r.NotProbed {
			out = append(out, r)
		}
	}
	return out
}

// OK reports whether every check that ran passed. A checklist with nothing but deferred or
// not-probed checks (or none at all) proves nothing, so it is not OK.
func (rs ProbeResults) OK() bool {
	return len(rs.Passed()) > 0 && len(rs.Failed()) == 0
}
