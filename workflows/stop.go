package workflows

// stop ends a run early with an outcome. A step returns it as its error; the run's one deferred
// finish records the outcome and cause, and failed says the run must end as a failed workflow.
type stop struct {
	outcome, cause string
	failed         bool
}

func (s *stop) Error() string { return s.outcome + ": " + s.cause }
