package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// logDecision writes the one auth_decision line per decision that the
// contract asks for. reason is always a fixed code, never request data.
func (s *server) logDecision(r *http.Request, status int, reason, username string) {
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("route", r.URL.Path),
		slog.Int("status", status),
		slog.String("reason", reason),
	}
	if username != "" {
		attrs = append(attrs, slog.String("user", username))
	}
	attrs = append(attrs, slog.String("remote", r.RemoteAddr))
	s.log.LogAttrs(r.Context(), level, "auth_decision", attrs...)
}

func (s *server) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "internal_error",
		slog.String("route", r.URL.Path), slog.String("op", op), slog.String("error", err.Error()))
	writeError(w, http.StatusInternalServerError, "internal_error")
}

// decodeJSON reads exactly one JSON object from the body. strict rejects
// unknown fields: on the control API a typo must not turn into "all".
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	body = bytes.TrimSpace(body)
	// A bare null would decode into the zero value, which means "all"
	// for several control calls.
	if len(body) == 0 || body[0] != '{' {
		return errors.New("body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Responses carry tokens or security state: never cache them.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// statusRecorder remembers the status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// jsonErrorWriter replaces the mux's plain-text 404/405 body with the
// service's JSON error shape, keeping the status and headers like Allow.
type jsonErrorWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.Header().Del("Content-Length")
	writeError(w.ResponseWriter, status, errorCode(status))
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the plain-text body is dropped
}

func errorCode(status int) string {
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}
