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
}

// ProbeResults is a checklist run.
type ProbeResults []ProbeResult

// Failed returns the checks that did not pass.
func (rs ProbeResults) Failed() []ProbeResult {
	var failed []ProbeResult
	for _, r := range rs {
		if !r.OK {
			failed = append(failed, r)
		}
	}
	return failed
}

// OK reports whether every check passed. An empty checklist proves nothing, so it is not OK.
func (rs ProbeResults) OK() bool {
	return len(rs) > 0 && len(rs.Failed()) == 0
}
