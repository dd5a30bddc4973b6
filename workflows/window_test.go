package workflows

import (
	"testing"
	"time"
)

func TestWindowAt(t *testing.T) {
	start := time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		name      string
		start     time.Time
		length    time.Duration
		now       time.Time
		policy    string
		laterDays bool
		want      window
	}{
		{"no window", time.Time{}, 0, start, "end", false, window{open: true}},
		{"no length", start, 0, start.Add(100 * day), "end", false, window{open: true}},
		{"at the start", start, 2 * time.Hour, start, "end", false, window{open: true}},
		{"inside", start, 2 * time.Hour, start.Add(time.Hour), "end", false, window{open: true}},
		{"a nanosecond before the end", start, 2 * time.Hour, start.Add(2*time.Hour - 1), "end", false, window{open: true}},
		{"at the end, end policy", start, 2 * time.Hour, start.Add(2 * time.Hour), "end", false, window{closedAt: start.Add(2 * time.Hour)}},
		{"closed, next policy", start, 2 * time.Hour, start.Add(3 * time.Hour), "next", false,
			window{closedAt: start.Add(2 * time.Hour), next: start.Add(day)}},
		{"closed three days later, next policy", start, 2 * time.Hour, start.Add(3*day + time.Hour), "next", false,
			window{closedAt: start.Add(2 * time.Hour), next: start.Add(4 * day)}},
		{"inside a later day's window, before the fix", start, 2 * time.Hour, start.Add(day), "next", false,
			window{closedAt: start.Add(2 * time.Hour), next: start.Add(2 * day)}},
		{"inside a later day's window", start, 2 * time.Hour, start.Add(day + time.Hour), "next", true, window{open: true}},
		{"at a later day's opening", start, 2 * time.Hour, start.Add(3 * day), "next", true, window{open: true}},
		{"after a later day's window", start, 2 * time.Hour, start.Add(3*day + 2*time.Hour), "next", true,
			window{closedAt: start.Add(2 * time.Hour), next: start.Add(4 * day)}},
		{"a later day's window, end policy", start, 2 * time.Hour, start.Add(day + time.Hour), "end", true,
			window{closedAt: start.Add(2 * time.Hour)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := windowAt(c.start, c.length, c.now, c.policy, c.laterDays); got != c.want {
				t.Fatalf("windowAt = %+v, want %+v", got, c.want)
			}
		})
	}
}
