package testenv

import (
	"bytes"
	"context"
	"sync"

	"github.com/authops/authops/contract"
)

// Recorder is a notifier that keeps every message, for assertions.
type Recorder struct {
	mu   sync.Mutex
	msgs []contract.Message
}

// Notify records m.
func (r *Recorder) Notify(_ context.Context, m contract.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// Messages returns a copy of what was sent.
func (r *Recorder) Messages() []contract.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]contract.Message(nil), r.msgs...)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
