package contract

import "time"

// PeerSeal authenticates a message one run sends another (a preemption, a hand-over, an
// announcement). A worker makes it with a key that only workers hold, for the run it runs, and
// the receiving run has a worker check it before the message counts. Anyone with write access to
// the namespace can send a signal; only a worker can seal one.
type PeerSeal struct {
	// Kind is the message's name (SignalPreempt, SignalRotationReleased, the announcement signal).
	Kind string `json:"kind"`
	// From and FromRun are the sending run, as its worker knows it (not as the sender says).
	From    string `json:"from"`
	FromRun string `json:"from_run"`
	// To is the receiving workflow id.
	To string `json:"to"`
	// Digest is the SHA-256 of the message without its seal.
	Digest string    `json:"digest"`
	At     time.Time `json:"at"`
	// MAC is the HMAC-SHA256 of the fields above, hex.
	MAC string `json:"mac"`
}

// PeerVerdict is a worker's check of a message's seal, recorded in the receiving run.
type PeerVerdict struct {
	// From is the sealed sender when the seal holds.
	From string `json:"from,omitempty"`
	// Refused says why the message does not count; Identity is the client identity the server
	// recorded for it, for the timeline.
	Refused  string `json:"refused,omitempty"`
	Identity string `json:"identity,omitempty"`
}

// PeerDigest is the SHA-256 of msg's JSON, hex: what a seal binds a message to. msg is the
// message without its seal.
func PeerDigest(msg any) string { return digestJSON(msg) }

// RunFacts is what the server says of a run: the parent that started a rotation, read before
// the rotation honours the parent's word (a schedule's, an emergency run's).
type RunFacts struct {
	Type      string `json:"type"`
	TaskQueue string `json:"task_queue"`
	// ScheduledBy is the TemporalScheduledById the server set, when a Schedule started it.
	ScheduledBy string `json:"scheduled_by,omitempty"`
	Running     bool   `json:"running"`
	// Unknown says why the server could not be asked.
	Unknown string `json:"unknown,omitempty"`
}
