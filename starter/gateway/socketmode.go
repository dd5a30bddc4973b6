package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Socket Mode: the gateway opens a websocket to Slack with the app-level token (xapp-…) and
// Slack delivers slash commands and interactions over it as envelopes, so a team with no public
// URL can run the gateway. The envelopes go through the same slashCommand and interaction as
// HTTP requests; only the transport differs.
//
// Trust: an envelope carries no request signature. It is trusted because it arrives on the
// websocket that the gateway itself opened, over TLS, to the URL that apps.connections.open
// gave for the app-level token; nobody else can write to it. There is no signing secret to
// check, and none is needed.
//
// Acknowledgement: an envelope is acked only once it has been handed to Temporal (the Runs call
// returned), or once the gateway decided to refuse it (a usage error, a sender not in people:,
// a malformed payload). A restart before the ack leaves the envelope unacked for Slack to deliver
// again, and the start ids and Update ids make a second delivery start or decide once. The wait
// is bounded by Handoff, below Slack's 3 s: when Temporal is slower, the envelope is acked with
// the call made and still going, and the outcome follows through response_url, as over HTTP.
// A slash command's ack carries the answer (the outcome when the call returned in time) as its
// payload, since Slack accepts a response payload for slash commands; an interaction's ack
// carries nothing (or a view submission's errors), and its answer goes through response_url
// (a click) or a direct message (a modal), as over HTTP.

// DefaultHandoff bounds the wait for Temporal before an envelope is acked.
const DefaultHandoff = 2 * time.Second

// maxAckPayload keeps an ack under Slack's 20 KiB websocket message limit; a longer answer goes
// through response_url.
const maxAckPayload = 19 << 10

// SocketOptions configure Socket Mode.
type SocketOptions struct {
	// AppToken is the app-level token (xapp-…, scope connections:write).
	AppToken string
	// Handoff bounds the wait for Temporal before an envelope is acked (default DefaultHandoff).
	Handoff time.Duration
}

// CheckAppToken refuses what cannot be an app-level token (a bot token pasted by mistake).
func CheckAppToken(token string) error {
	if !strings.HasPrefix(token, "xapp-") {
		return errors.New("SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write scope")
	}
	return nil
}

// SocketMode serves Slack over Socket Mode until ctx is done. It returns an error when Slack
// refuses the app token; it reconnects by itself otherwise. On shutdown it stops taking
// envelopes, acks the ones in hand, then hangs up.
func (s *Server) SocketMode(ctx context.Context, o SocketOptions) error {
	if err := CheckAppToken(o.AppToken); err != nil {
		return err
	}
	if o.Handoff <= 0 {
		o.Handoff = DefaultHandoff
	}
	opts := []slack.Option{slack.OptionAppLevelToken(o.AppToken), slack.OptionHTTPClient(s.o.HTTPClient)}
	if s.o.APIURL != "" {
		u := s.o.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	sm := socketmode.New(slack.New(s.o.BotToken, opts...),
		socketmode.OptionLog(slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)))

	// The connection outlives ctx a little: the envelopes in hand are acked before it closes.
	conn, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	ran := make(chan error, 1)
	go func() { ran <- sm.RunContext(conn) }()
	var inHand sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			inHand.Wait()
			hangUp()
			<-ran
			return nil
		case err := <-ran:
			inHand.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-sm.Events:
			switch evt.Type {
			case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
				if evt.Request == nil {
					continue
				}
				inHand.Add(1)
				go func() {
					defer inHand.Done()
					s.envelope(conn, sm, evt, o.Handoff)
				}()
			case socketmode.EventTypeErrorBadMessage:
				s.badEnvelope(conn, sm, evt)
			case socketmode.EventTypeConnected:
				s.log.Info("Slack Socket Mode connected")
			case socketmode.EventTypeConnectionError:
				if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
					s.log.Warn("Slack Socket Mode connection failed; retrying", "attempt", e.Attempt, "backoff", e.Backoff, "err", e.ErrorObj)
				}
			case socketmode.EventTypeInvalidAuth:
				s.log.Error("Slack refused the app token (SLACK_APP_TOKEN)")
			case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
				s.log.Warn("Slack Socket Mode", "event", string(evt.Type), "data", fmt.Sprint(evt.Data))
			}
		}
	}
}

// envelope handles one envelope and acks it, once.
func (s *Server) envelope(ctx context.Context, sm *socketmode.Client, evt socketmode.Event, handoff time.Duration) {
	req := evt.Request
	var a answer
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			a = answer{malformed: "malformed slash command"}
			break
		}
		a = s.slashCommand(ctx, sc)
	case socketmode.EventTypeInteractive:
		cb, err := interactionPayload(req.Payload)
		if err != nil {
			a = answer{malformed: "malformed interaction: " + err.Error()}
			break
		}
		a = s.interaction(ctx, cb)
	default:
		// events_api: the manifest subscribes to no event. Acked so that Slack stops sending it.
	}
	payload := s.settle(a, req.AcceptsResponsePayload, handoff)
	if err := sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		s.log.Warn("Socket Mode ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}

// badEnvelope acks an envelope whose payload cannot be read: refused, nothing done. Slack would
// otherwise deliver it again, to be refused again.
func (s *Server) badEnvelope(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
	}
	_ = json.Unmarshal(bad.Message, &env)
	s.log.Warn("refused a malformed Socket Mode envelope", "envelope", env.EnvelopeID, "err", bad.Cause)
	if env.EnvelopeID != "" {
		if err := sm.AckCtx(ctx, env.EnvelopeID, nil); err != nil {
			s.log.Warn("Socket Mode ack failed", "envelope", env.EnvelopeID, "err", err)
		}
	}
}

// settle carries out an answer over Socket Mode and returns the ack's payload (nil for none).
// It returns only once the Temporal call, if any, returned or ran for handoff.
func (s *Server) settle(a answer, acceptsPayload bool, handoff time.Duration) any {
	switch {
	case a.malformed != "":
		s.log.Warn("refused a Socket Mode envelope", "why", a.malformed)
		return nil
	case a.errors != nil:
		return map[string]any{"response_action": "errors", "errors": a.errors}
	}
	text := a.text
	if a.work != nil {
		out, done := s.handOff(a, handoff)
		switch {
		case done:
			text = out
		case a.inline:
			text = a.work.pending() + " Temporal is slow to answer; the outcome follows."
		default:
			text = "" // the outcome follows through notify
		}
	}
	if text == "" {
		return nil
	}
	if a.inline && acceptsPayload {
		p := map[string]string{"response_type": "ephemeral", "text": text}
		if b, err := json.Marshal(p); err == nil && len(b) < maxAckPayload {
			return p
		}
	}
	if a.notify != nil {
		s.async("notice", func(ctx context.Context) { a.notify(ctx, text) })
	}
	return nil
}

// handOff makes the answer's Temporal call and waits for it, at most bound. It returns the
// outcome when the call returned in time; otherwise the call goes on (bounded by the work
// timeout) and sends its outcome through the answer's notify when it returns.
func (s *Server) handOff(a answer, bound time.Duration) (outcome string, done bool) {
	h := a.work
	res := make(chan string)
	late := make(chan struct{})
	s.async(h.what, func(ctx context.Context) {
		out, err := h.call(ctx)
		msg := s.outcome(h.title, out, err)
		select {
		case res <- msg:
		case <-late:
			a.notify(ctx, msg)
		}
	})
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case msg := <-res:
		return msg, true
	case <-t.C:
		close(late)
		return "", false
	}
}
