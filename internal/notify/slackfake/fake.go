// Package slackfake is a fake Slack Web API for tests: the calls the worker's notifier makes
// (chat.postMessage, chat.update, conversations.history, conversations.replies,
// conversations.list, conversations.open) and an incoming webhook, with every request recorded
// and faults (5xx, 429) injected on demand.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message is a message the fake holds.
type Message struct {
	Channel   string          `json:"-"`
	TS        string          `json:"ts"`
	ThreadTS  string          `json:"thread_ts,omitempty"`
	Broadcast bool            `json:"-"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	// Updates counts the chat.update calls that changed it.
	Updates int `json:"-"`
	// History holds the texts and blocks it showed before each update.
	History []string `json:"-"`
}

// Call is one request the fake received.
type Call struct {
	Method string
	// Body is the raw request body; Form the parsed form (nil for a webhook's JSON).
	Body   string
	Form   url.Values
	Status int
	At     time.Time
}

// Fault answers a request instead of the fake: status 0 lets it through; 429 comes with a
// Retry-After of retryAfter seconds.
type Fault func(method string) (status, retryAfter int)

// Server is the fake.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []Call
	msgs     []*Message
	channels map[string]string // name -> id
	// members are who was invited to each channel (by id); views the modals opened.
	members map[string][]string
	views   []json.RawMessage
	fault   Fault
	lose    func(method string) bool
	seq     int
}

// New starts a fake with the given channels (names without #) already existing.
func New(channels ...string) *Server {
	s := &Server{channels: map[string]string{}}
	for i, c := range channels {
		s.channels[strings.TrimPrefix(c, "#")] = fmt.Sprintf("C%07d", i+1)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// APIURL is the value for slack.OptionAPIURL (SLACK_API_URL).
func (s *Server) APIURL() string { return s.URL + "/api/" }

// WebhookURL is an incoming webhook on the fake.
func (s *Server) WebhookURL() string { return s.URL + "/webhook/T000/B000/status" }

// SetFault injects faults (nil for none).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetLoseReply makes the fake do what a request asks but answer 500, as when the answer is
// lost: the caller cannot tell that its message was posted.
func (s *Server) SetLoseReply(f func(method string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = f
}

// ChannelID is the id of a channel name.
func (s *Server) ChannelID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[strings.TrimPrefix(name, "#")]
}

// Calls returns what the fake received.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Messages returns copies of the messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.msgs))
	for _, m := range s.msgs {
		c := *m
		c.History = slices.Clone(m.History)
		out = append(out, c)
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if strings.HasPrefix(r.URL.Path, "/webhook/") {
		method = "webhook"
	}
	var form url.Values
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, _ = url.ParseQuery(string(body))
	} else if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Method: method, Body: string(body), Form: form, At: time.Now(), Status: http.StatusOK}
	defer func() { s.calls = append(s.calls, call) }()
	if s.fault != nil {
		if status, after := s.fault(method); status != 0 {
			call.Status = status
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(after))
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	reply := func(v map[string]any) {
		if s.lose != nil && s.lose(method) {
			call.Status = http.StatusInternalServerError
			http.Error(w, "lost", http.StatusInternalServerError)
			return
		}
		v["ok"] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(e string) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": e})
	}
	switch method {
	case "webhook":
		_, _ = io.WriteString(w, "ok")
	case "chat.postMessage":
		ch, ok := s.channel(form.Get("channel"))
		if !ok {
			fail("channel_not_found")
			return
		}
		if form.Get("text") == "" && form.Get("blocks") == "" {
			fail("no_text")
			return
		}
		s.seq++
		m := &Message{Channel: ch, TS: fmt.Sprintf("1700000000.%06d", s.seq), ThreadTS: form.Get("thread_ts"),
			Broadcast: form.Get("reply_broadcast") == "true", Text: form.Get("text")}
		if b := form.Get("blocks"); b != "" {
			m.Blocks = json.RawMessage(b)
		}
		if md := form.Get("metadata"); md != "" {
			m.Metadata = json.RawMessage(md)
		}
		s.msgs = append(s.msgs, m)
		reply(map[string]any{"channel": ch, "ts": m.TS, "message": m})
	case "chat.update":
		ch, ts := form.Get("channel"), form.Get("ts")
		m := s.find(ch, ts)
		if m == nil {
			fail("message_not_found")
			return
		}
		m.History = append(m.History, m.Text+"\n"+string(m.Blocks))
		m.Text = form.Get("text")
		if b := form.Get("blocks"); b != "" {
			m.Blocks = json.RawMessage(b)
		}
		m.Updates++
		reply(map[string]any{"channel": ch, "ts": ts, "text": m.Text})
	case "conversations.history":
		ch := form.Get("channel")
		var out []*Message
		for i := len(s.msgs) - 1; i >= 0; i-- {
			m := s.msgs[i]
			if m.Channel == ch && (m.ThreadTS == "" || m.Broadcast) {
				out = append(out, s.shown(m, form.Get("include_all_metadata") == "1"))
			}
		}
		reply(map[string]any{"messages": out, "has_more": false})
	case "conversations.replies":
		ch, ts := form.Get("channel"), form.Get("ts")
		var out []*Message
		for _, m := range s.msgs {
			if m.Channel == ch && (m.TS == ts || m.ThreadTS == ts) {
				out = append(out, s.shown(m, form.Get("include_all_metadata") == "1"))
			}
		}
		reply(map[string]any{"messages": out, "has_more": false})
	case "conversations.list":
		var out []map[string]any
		for name, id := range s.channels {
			out = append(out, map[string]any{"id": id, "name": name, "is_channel": true})
		}
		reply(map[string]any{"channels": out, "response_metadata": map[string]string{"next_cursor": ""}})
	case "conversations.open":
		users := form.Get("users")
		if users == "" {
			fail("users_list_not_supplied")
			return
		}
		id := "D" + strings.ToUpper(strings.NewReplacer(",", "").Replace(users))
		s.channels["dm-"+users] = id
		reply(map[string]any{"channel": map[string]any{"id": id}})
	case "conversations.create", "conversations.invite", "views.open":
		s.serveIncident(method, form, body, reply, fail)
	default:
		fail("unknown_method")
	}
}

// shown is a message as the history calls return it: metadata only when asked for.
func (s *Server) shown(m *Message, metadata bool) *Message {
	c := *m
	if !metadata {
		c.Metadata = nil
	}
	return &c
}

// channel resolves a channel argument (an id or a name) to an id.
func (s *Server) channel(arg string) (string, bool) {
	for name, id := range s.channels {
		if arg == id || strings.TrimPrefix(arg, "#") == name {
			return id, true
		}
	}
	return "", false
}

func (s *Server) find(ch, ts string) *Message {
	for _, m := range s.msgs {
		if m.Channel == ch && m.TS == ts {
			return m
		}
	}
	return nil
}
