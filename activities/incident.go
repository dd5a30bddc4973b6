package activities

import "github.com/authops/authops/internal/freeze"

// Incidents holds runbook 1's activities: the snapshot and the first checks of each affected
// target (incident_snapshot.go, incident_probes.go), containment measures
// (incident_measures.go), the verification checklist (incident_verify.go), the report and the
// timeline's archive (incident_report.go), and the freezes (incident_freeze.go). Inputs and
// results carry names, fingerprints and probe outcomes only.
type Incidents struct {
	Targets
	// Freezes reads the freezes running incidents hold (the worker's Temporal client). nil means
	// this worker cannot read them: FrozenBy then logs a warning and reports no freeze.
	Freezes freeze.Lister
}
