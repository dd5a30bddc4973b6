// Package gateway is the Slack gateway and the Alertmanager webhook of the starter (`starter
// serve`). It turns verified Slack requests and alerts into runbook starts and decisions,
// signed by the gateway's key on behalf of the person a Slack user id belongs to, and hands
// them to Runs. It never touches a target or a target's secret: it links no adapter.
//
// Over HTTP every Slack request is acknowledged at once; the Temporal work runs in the
// background and its outcome goes back through the request's response_url (or a direct message,
// for a modal). Over Socket Mode (socketmode.go) an envelope is acknowledged once its Temporal
// call returned or it was refused, waiting at most 2 s. Both go through the same decisions
// (slashCommand, interaction).
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/slackui"
)

// Actor is who a Slack request speaks for: the person of people: whose slack_id is SlackUser.
// Person is empty for a Slack user who is not in people: (they may only read).
type Actor struct {
	Person    string
	SlackUser string
}

// Decision is a click (or a reject modal's submission) on an approval button.
type Decision struct {
	// Name is contract.DecisionApprove or contract.DecisionReject.
	Name    string
	Button  slackui.ButtonValue
	Comment string
	// UpdateID names the Update, so that a retry or a double click decides once.
	UpdateID string
}

// Alert is what an Alertmanager notification asks for: declare the incident IncidentID (or add
// a note to it when it is open), or, when Resolved, add a note.
type Alert struct {
	IncidentID string
	// Targets are the targets the incident is declared for: the alert's target labels, else
	// the config's alerts.default_targets; none, and the incident freezes nothing until its
	// owner names them.
	Targets  []string
	Trigger  string
	Severity string
	Summary  string
	// Note is the timeline note for a repeat or a resolved alert.
	Note     string
	Resolved bool
}

// Runs is what the gateway asks of Temporal; the starter implements it with the typed client
// its CLI commands use (internal/runs), and writes the answers as the CLI prints them. Texts returned are meant for people; errors too, except that an error for
// which Unreachable is true is answered "Temporal is unreachable, try again".
type Runs interface {
	// Run carries out a /runbook command for who.
	Run(ctx context.Context, who Actor, cmd Command) (string, error)
	// Decide sends a button's decision for who.
	Decide(ctx context.Context, who Actor, d Decision) (string, error)
	// Freezes lists the running incidents' freezes.
	Freezes(ctx context.Context) ([]freeze.Freeze, error)
	// Alert declares an incident for an alert, or notes a repeat or a resolution.
	Alert(ctx context.Context, a Alert) (AlertResult, error)
}

// AlertResult is what became of an alert.
type AlertResult struct {
	// Outcome is one of AlertDeclared, AlertNoted, AlertOverMaxOpen, AlertNothing.
	Outcome string
	// Incident is the incident declared or noted on, if any.
	Incident string
	// Text says it for people.
	Text string
}

// Options configure a Server.
type Options struct {
	// SigningSecret verifies Slack's requests; empty turns the Slack routes off.
	SigningSecret string
	// BotToken is for views.open and direct messages; APIURL overrides Slack's Web API URL.
	BotToken string
	APIURL   string
	// AlertToken is the bearer token of the Alertmanager webhook; empty turns the webhook off.
	AlertToken string
	// Targets are the config's targets: an alert's target label must name some of them.
	// Targets, AlertDefaultTargets and People are the first Directory (see SetDirectory).
	Targets []string
	// AlertDefaultTargets are what an alert with no target label is declared for
	// (alerts.default_targets).
	AlertDefaultTargets []string
	// People maps Slack user ids to people (people: slack_id).
	People map[string]string
	Runs   Runs
	Log    *slog.Logger
	// HTTPClient posts to response_url (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// WorkTimeout bounds one background Temporal call (default 2 minutes).
	WorkTimeout time.Duration
	// MaxWork bounds the background calls running at once (default 8); the others wait their
	// turn. A burst of a hundred commands then leaves the CPU to the acks, which Slack wants
	// within 3 s, rather than to a hundred calls at once.
	MaxWork int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Directory is what the gateway reads of the config itself: the targets an alert may name, and
// who each Slack user is. The starter replaces it when it reloads the config (SetDirectory).
type Directory struct {
	// Targets are the config's targets; AlertDefaultTargets are alerts.default_targets.
	Targets             []string
	AlertDefaultTargets []string
	// People maps Slack user ids to people (people: slack_id).
	People map[string]string
}

// Server serves the gateway's routes.
type Server struct {
	o     Options
	dir   atomic.Pointer[Directory]
	slack *slack.Client
	log   *slog.Logger
	base  context.Context
	stop  context.CancelFunc
	work  sync.WaitGroup
	slots chan struct{}
	count counters
}

// MaxBody is the largest request body accepted (413 above it).
const MaxBody = 64 << 10

// New returns a server. Close stops its background work.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.WorkTimeout == 0 {
		o.WorkTimeout = 2 * time.Minute
	}
	if o.MaxWork <= 0 {
		o.MaxWork = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, log: o.Log, slots: make(chan struct{}, o.MaxWork)}
	s.SetDirectory(Directory{Targets: o.Targets, AlertDefaultTargets: o.AlertDefaultTargets, People: o.People})
	if o.BotToken != "" {
		opts := []slack.Option{slack.OptionHTTPClient(o.HTTPClient)}
		if o.APIURL != "" {
			u := o.APIURL
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			opts = append(opts, slack.OptionAPIURL(u))
		}
		s.slack = slack.New(o.BotToken, opts...)
	}
	s.base, s.stop = context.WithCancel(context.Background())
	return s
}

// SetDirectory replaces the targets and people the gateway judges requests by; requests in
// flight keep the directory they started with.
func (s *Server) SetDirectory(d Directory) { s.dir.Store(&d) }

// Directory is the directory the gateway judges requests by now.
func (s *Server) Directory() Directory { return *s.directory() }

func (s *Server) directory() *Directory { return s.dir.Load() }

// SlackOn reports whether the Slack routes are served.
func (s *Server) SlackOn() bool { return s.o.SigningSecret != "" }

// Close cancels the background work and waits for it.
func (s *Server) Close() {
	s.stop()
	s.work.Wait()
}

// Wait waits for the background work started so far (tests).
func (s *Server) Wait() { s.work.Wait() }

// Handler serves the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", s.commands)
	mux.HandleFunc("POST /slack/interactions", s.interactions)
	mux.HandleFunc("POST /webhooks/alertmanager", s.alertmanager)
	mux.HandleFunc("GET /freeze", s.freezes)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// freezes answers GET /freeze: the running incidents and the targets each one freezes, for
// CI/CD pipelines. It reads only.
func (s *Server) freezes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	fs, err := s.o.Runs.Freezes(ctx)
	if err != nil {
		s.log.Warn("freeze list failed", "err", err)
		msg := "cannot read the freezes: " + err.Error()
		if Unreachable(err) {
			msg = "Temporal is unreachable, try again"
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msg})
		return
	}
	if fs == nil {
		fs = []freeze.Freeze{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"frozen": len(fs) > 0, "freezes": fs})
}

// async runs fn in the background, bounded by the work timeout, after the request was answered,
// once one of the MaxWork slots is free (or at shutdown, when fn gets a canceled context).
func (s *Server) async(what string, fn func(ctx context.Context)) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-s.base.Done():
		}
		ctx, cancel := context.WithTimeout(s.base, s.o.WorkTimeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("gateway work panicked", "what", what, "panic", p)
			}
		}()
		fn(ctx)
	}()
}

// Unreachable reports whether err means Temporal could not be reached (or did not answer in
// time), so that the sender should simply try again.
func Unreachable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if st, ok := status.FromError(err); ok && (st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded) {
		return true
	}
	return strings.Contains(err.Error(), "failed reaching server")
}

// UpdateID is the Update id of a decision from Slack: the hex SHA-256 of the team, the user and
// the click's action_ts (or the request's trigger_id). A retry of the same request, or a second
// delivery of the same click, gets the same id, and Temporal runs an Update id once.
func UpdateID(team, user, actionTsOrTrigger string) string {
	sum := sha256.Sum256([]byte(team + "|" + user + "|" + actionTsOrTrigger))
	return hex.EncodeToString(sum[:])
}

// IncidentIDFor is the id of an incident declared from Slack: a hash of the request's
// trigger_id, so that a retry of the same request declares once.
func IncidentIDFor(triggerID string) string {
	sum := sha256.Sum256([]byte("slack|" + triggerID))
	return "incident-sl-" + hex.EncodeToString(sum[:])[:12]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
