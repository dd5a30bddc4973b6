package notify

// UserNotice is what users are told: what they will see, never the internals (no fingerprint,
// version, person, reason or run id).
func UserNotice(kind, target string) string {
	switch kind {
	case "planned":
		return "Planned security maintenance on " + Escape(target) +
			": when it happens, everyone is signed out and you will need to sign in again. Nothing else changes for you."
	case "user-impact":
		return "Security maintenance on " + Escape(target) +
			" has just signed everyone out: you will need to sign in again. Some pages may be unavailable for a short while."
	}
	return ""
}
