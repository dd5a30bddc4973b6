package contract

// Inputs of the activities that seal and check the messages between runs and say what the
// server knows of a run.

// SealInput is a message the calling run sends, to be sealed by its worker.
type SealInput struct {
	Kind   string `json:"kind"`
	To     string `json:"to"`
	Digest string `json:"digest"`
}

// OpenInput is a message the calling run received: its seal, and which one it is (the
// Ordinal-th signal named Kind of this run, from 1) for the sender's identity on refusal.
type OpenInput struct {
	Kind    string    `json:"kind"`
	Digest  string    `json:"digest"`
	Seal    *PeerSeal `json:"seal,omitempty"`
	Ordinal int       `json:"ordinal"`
}

// SenderInput names a message the calling run received: the Ordinal-th signal named Signal,
// or the Update with UpdateID.
type SenderInput struct {
	Signal   string `json:"signal,omitempty"`
	Ordinal  int    `json:"ordinal,omitempty"`
	UpdateID string `json:"update_id,omitempty"`
}

// RunRef names a run.
type RunRef struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}
