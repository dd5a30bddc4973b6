package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// SocketMode is a fake of Slack's Socket Mode, at the network boundary: apps.connections.open
// (POST, the app-level token as a Bearer) answers the URL of a websocket on the same server,
// which says hello, sends the envelopes a test gives it, and records the acks it reads back.
// Other Web API methods go to next, when given (for example a Server's handler), else fail.
type SocketMode struct {
	*httptest.Server
	token string
	next  http.Handler

	mu      sync.Mutex
	conn    *websocket.Conn
	wmu     sync.Mutex // serializes writes to conn
	ready   chan struct{}
	opens   int
	refused int
	seq     int
	acks    []Ack
	acked   chan struct{} // closed and replaced at each ack
	stop    chan struct{}
}

// Ack is a frame the client sent back: an envelope's acknowledgement.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	// At is when the fake read it.
	At time.Time `json:"-"`
}

// NewSocketMode starts a fake that accepts the app-level token appToken.
func NewSocketMode(appToken string, next http.Handler) *SocketMode {
	f := &SocketMode{token: appToken, next: next, ready: make(chan struct{}), acked: make(chan struct{}), stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/apps.connections.open", f.open)
	mux.HandleFunc("/link", f.link)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if f.next != nil {
			f.next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":false,"error":"unknown_method"}`))
	})
	f.Server = httptest.NewServer(mux)
	return f
}

// APIURL is the value for slack.OptionAPIURL (SLACK_API_URL).
func (f *SocketMode) APIURL() string { return f.URL + "/api/" }

// Close closes the websocket and the server.
func (f *SocketMode) Close() {
	f.mu.Lock()
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	if f.conn != nil {
		_ = f.conn.Close()
	}
	f.mu.Unlock()
	f.Server.Close()
}

// Opens counts the accepted apps.connections.open calls; Refused the ones with a wrong token.
func (f *SocketMode) Opens() (accepted, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens, f.refused
}

func (f *SocketMode) open(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+f.token {
		f.refused++
		_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
		return
	}
	f.opens++
	url := "ws" + strings.TrimPrefix(f.URL, "http") + fmt.Sprintf("/link?ticket=t%d&app_id=A1", f.opens)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": url})
}

// link is the websocket: hello, pings (the client hangs up after 30 s without one), and a reader
// that records the acks.
func (f *SocketMode) link(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.conn != nil {
		_ = f.conn.Close() // a reconnection replaces the old link
	}
	f.conn = conn
	f.mu.Unlock()
	f.wmu.Lock()
	err = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "slackfake", "approximate_connection_time": 18060},
		"connection_info": map[string]string{"app_id": "A1"}})
	f.wmu.Unlock()
	if err != nil {
		return
	}
	f.mu.Lock()
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	f.mu.Unlock()
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			_ = conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
			select {
			case <-t.C:
			case <-done:
				return
			case <-f.stop:
				return
			}
		}
	}()
	for {
		var a Ack
		if err := conn.ReadJSON(&a); err != nil {
			return
		}
		a.At = time.Now()
		f.mu.Lock()
		f.acks = append(f.acks, a)
		close(f.acked)
		f.acked = make(chan struct{})
		f.mu.Unlock()
	}
}

// WaitConnected waits until a client has opened the websocket and been greeted.
func (f *SocketMode) WaitConnected(timeout time.Duration) error {
	select {
	case <-f.ready:
		return nil
	case <-time.After(timeout):
		return errors.New("slackfake: no Socket Mode client connected")
	}
}

// Send sends an envelope of type typ (slash_commands, interactive, events_api) with payload and
// returns its envelope id.
func (f *SocketMode) Send(typ string, payload any, acceptsResponsePayload bool) (string, error) {
	f.mu.Lock()
	conn := f.conn
	f.seq++
	id := fmt.Sprintf("env-%d", f.seq)
	f.mu.Unlock()
	if conn == nil {
		return "", errors.New("slackfake: no Socket Mode client connected")
	}
	return id, f.SendRaw(map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": acceptsResponsePayload, "retry_attempt": 0, "retry_reason": ""})
}

// SendRaw sends any frame (a malformed envelope, for example).
func (f *SocketMode) SendRaw(frame any) error {
	f.mu.Lock()
	conn := f.conn
	f.mu.Unlock()
	if conn == nil {
		return errors.New("slackfake: no Socket Mode client connected")
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return conn.WriteJSON(frame)
}

// SlashCommand sends a slash command envelope (accepts_response_payload, as Slack sends them).
func (f *SocketMode) SlashCommand(fields map[string]string) (string, error) {
	return f.Send("slash_commands", fields, true)
}

// Interactive sends an interactive envelope (block_actions, view_submission).
func (f *SocketMode) Interactive(payload any) (string, error) {
	return f.Send("interactive", payload, false)
}

// Acks returns the acks read so far, oldest first.
func (f *SocketMode) Acks() []Ack {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Ack(nil), f.acks...)
}

// WaitAck waits for the ack of an envelope.
func (f *SocketMode) WaitAck(envelopeID string, timeout time.Duration) (Ack, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		for _, a := range f.acks {
			if a.EnvelopeID == envelopeID {
				f.mu.Unlock()
				return a, nil
			}
		}
		next := f.acked
		f.mu.Unlock()
		select {
		case <-next:
		case <-deadline.C:
			return Ack{}, fmt.Errorf("slackfake: envelope %s not acked within %s", envelopeID, timeout)
		}
	}
}
