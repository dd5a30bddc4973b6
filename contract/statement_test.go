package contract

import (
	"encoding/json"
	"testing"
	"time"
)

// StartArgs is the same text on the signer's side and on the run's, after the input's JSON trip
// through Temporal, and whatever zone the signer's clock prints in; another window is another text.
func TestStartArgs_StableAcrossTheWire(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	in := RotationInput{Target: "demo", Reason: "r", RequestedBy: "alice", Mode: ModeManual, WindowStart: at, Window: time.Hour}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back RotationInput
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	utc := in
	utc.WindowStart = at.UTC()
	if in.StartArgs() != back.StartArgs() || in.StartArgs() != utc.StartArgs() {
		t.Fatalf("StartArgs differ across the wire: %s / %s / %s", in.StartArgs(), back.StartArgs(), utc.StartArgs())
	}
	later := in
	later.WindowStart = at.Add(time.Hour)
	if later.StartArgs() == in.StartArgs() {
		t.Fatal("another window has the same StartArgs")
	}

	inv := InvalidationInput{Target: "demo", Restrict: []string{}}
	if inv.StartArgs() != (InvalidationInput{Target: "demo"}).StartArgs() {
		t.Fatal("an empty route list, dropped by JSON on the way, changes StartArgs")
	}
	signed := &SignedStatement{Sig: []byte{1}}
	if (IncidentInput{Summary: "s", Statement: signed}).StartArgs() != (IncidentInput{Summary: "s"}).StartArgs() {
		t.Fatal("the statement is part of its own StartArgs")
	}
}
