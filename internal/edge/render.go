// Package edge writes a target's denied ranges and restricted routes into an nginx include
// file, the edge where traffic is cut before it reaches the backend. The include goes inside
// the proxy's server block; it is written atomically, checked with nginx -t, put back as it
// was when the check fails, and loaded with a reload.
package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/authops/authops/contract"
)

// Route is a restricted path prefix and the status it answers.
type Route struct {
	Prefix string `json:"prefix"`
	Status int    `json:"status"`
}

// State is what the include holds: ranges in their normal form and routes, each sorted, so
// that the same state always renders the same bytes.
type State struct {
	Denied []string `json:"denied"`
	Routes []Route  `json:"routes"`
}

// stateMarker starts the comment line that carries the state, so that the include is its own
// record and no second file can disagree with it.
const stateMarker = "# authops-state: "

const header = "# Written by authops (internal/edge) and rewritten on every change: do not edit.\n" +
	"# Include it inside the proxy's server block; its locations must not set allow or deny.\n"

// safePrefix is what may go into a location line unquoted: nginx would read ; { } quotes, $ or
// spaces as syntax, so a route holding them is refused before anything is written.
var safePrefix = regexp.MustCompile(`^/[A-Za-z0-9._~/-]+$`)

// ValidateRoute checks a prefix and status for the include, on top of the runbooks' own rule.
func ValidateRoute(prefix string, status int) error {
	if err := contract.ValidatePrefixes([]string{prefix}); err != nil {
		return err
	}
	if !safePrefix.MatchString(prefix) || strings.TrimRight(prefix, "/") == "" {
		return fmt.Errorf("route %q cannot go into an nginx location: only letters, digits and . _ ~ / - are allowed", prefix)
	}
	if status != 403 && status != 503 {
		return fmt.Errorf("route %s: status must be 403 or 503, got %d", prefix, status)
	}
	return nil
}

// normalize checks every entry and puts the state in its one form: normal ranges and
// prefixes without a trailing slash, deduplicated and sorted.
func (s State) normalize() (State, error) {
	denied, err := contract.NormalizeCIDRs(s.Denied)
	if err != nil {
		return State{}, err
	}
	out := State{Denied: denied}
	for _, r := range s.Routes {
		if err := ValidateRoute(r.Prefix, r.Status); err != nil {
			return State{}, err
		}
		r.Prefix = trimPrefix(r.Prefix)
		if i := slices.IndexFunc(out.Routes, func(o Route) bool { return o.Prefix == r.Prefix }); i >= 0 {
			out.Routes[i] = r // the later status wins, as a second restrict would
			continue
		}
		out.Routes = append(out.Routes, r)
	}
	slices.Sort(out.Denied)
	slices.SortFunc(out.Routes, func(a, b Route) int { return strings.Compare(a.Prefix, b.Prefix) })
	return out, nil
}

// trimPrefix drops a trailing slash: /admin/ and /admin restrict the same routes.
func trimPrefix(p string) string { return strings.TrimRight(p, "/") }

// Render checks the state and writes the include. A route restricts the prefix itself and
// everything under it (/admin and /admin/..., not /administrator), as the backend does; ^~
// keeps a regex location of the proxy from taking the request first.
func Render(s State) ([]byte, error) {
	n, err := s.normalize()
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("render edge state: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString(stateMarker)
	b.Write(js)
	b.WriteString("\n")
	for _, c := range n.Denied {
		fmt.Fprintf(&b, "deny %s;\n", c)
	}
	for _, r := range n.Routes {
		fmt.Fprintf(&b, "location = %s {\n    return %d;\n}\n", r.Prefix, r.Status)
		fmt.Fprintf(&b, "location ^~ %s/ {\n    return %d;\n}\n", r.Prefix, r.Status)
	}
	return b.Bytes(), nil
}

// Parse reads the state back from an include Render wrote. An empty file is the empty state.
func Parse(b []byte) (State, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return State{}, nil
	}
	for line := range strings.Lines(string(b)) {
		if js, ok := strings.CutPrefix(line, stateMarker); ok {
			var s State
			if err := json.Unmarshal([]byte(js), &s); err != nil {
				return State{}, fmt.Errorf("edge include: unreadable state line: %w", err)
			}
			return s.normalize()
		}
	}
	return State{}, errors.New("edge include: no authops state line; the file was not written by authops")
}
