package slackfake

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The calls of an incident's dedicated channel (conversations.create, conversations.invite)
// and of the gateway's declaration modal (views.open).

// serveIncident answers conversations.create, conversations.invite and views.open (a JSON
// body, as slack-go sends it, or a form); s.mu is held.
func (s *Server) serveIncident(method string, form url.Values, body []byte, reply func(map[string]any), fail func(string)) {
	switch method {
	case "conversations.create":
		name := form.Get("name")
		if name == "" || len(name) > 80 || strings.ToLower(name) != name || strings.ContainsAny(name, " #.,") {
			fail("invalid_name_specials")
			return
		}
		if _, taken := s.channels[name]; taken {
			fail("name_taken")
			return
		}
		s.seq++
		id := fmt.Sprintf("C9%06d", s.seq)
		s.channels[name] = id
		reply(map[string]any{"channel": map[string]any{"id": id, "name": name, "is_channel": true,
			"is_private": form.Get("is_private") == "true"}})
	case "conversations.invite":
		ch := form.Get("channel")
		if !slices.Contains(s.channelIDs(), ch) {
			fail("channel_not_found")
			return
		}
		users := strings.Split(form.Get("users"), ",")
		for _, u := range users {
			if !strings.HasPrefix(u, "U") && !strings.HasPrefix(u, "W") {
				fail("user_not_found")
				return
			}
			if slices.Contains(s.members[ch], u) {
				fail("already_in_channel")
				return
			}
		}
		if s.members == nil {
			s.members = map[string][]string{}
		}
		s.members[ch] = append(s.members[ch], users...)
		reply(map[string]any{"channel": map[string]any{"id": ch}})
	case "views.open":
		var req struct {
			TriggerID string          `json:"trigger_id"`
			View      json.RawMessage `json:"view"`
		}
		if form != nil {
			req.TriggerID, req.View = form.Get("trigger_id"), json.RawMessage(form.Get("view"))
		} else if err := json.Unmarshal(body, &req); err != nil {
			fail("invalid_json")
			return
		}
		if req.TriggerID == "" {
			fail("invalid_trigger_id")
			return
		}
		view := req.View
		if !json.Valid(view) {
			fail("invalid_arguments")
			return
		}
		s.views = append(s.views, view)
		s.seq++
		reply(map[string]any{"view": map[string]any{"id": fmt.Sprintf("V%07d", s.seq)}})
	}
}

func (s *Server) channelIDs() []string {
	ids := make([]string, 0, len(s.channels))
	for _, id := range s.channels {
		ids = append(ids, id)
	}
	return ids
}

// Members returns who was invited to a channel (by id), in order.
func (s *Server) Members(channelID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.members[channelID])
}

// Views returns the modals opened with views.open, oldest first.
func (s *Server) Views() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.views)
}
