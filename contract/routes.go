package contract

import (
	"fmt"
	"strings"
)

// ValidatePrefixes checks a route list before anything is sent.
func ValidatePrefixes(prefixes []string) error {
	if len(prefixes) == 0 {
		return fmt.Errorf("no route prefixes given")
	}
	for _, p := range prefixes {
		if !strings.HasPrefix(p, "/") || strings.ContainsFunc(p, notPathRune) || strings.Contains(p, "//") {
			return fmt.Errorf("route %q is not a path prefix like /admin", p)
		}
		if p == "/" || strings.HasPrefix(p, "/_control") || strings.HasPrefix(p, "/healthz") {
			return fmt.Errorf("route %q would cut off health checks or the control API", p)
		}
	}
	return nil
}

// notPathRune rejects what cannot be part of a plain route prefix: a restriction on "/admin\n"
// would match nothing and silently protect nothing. A prefix is printable ASCII, as a request
// path is on the wire: Unicode spaces, controls, bidi marks and invalid UTF-8 are refused too.
func notPathRune(r rune) bool {
	return r <= ' ' || r >= 0x7f || strings.ContainsRune("?#*%\\", r)
}
