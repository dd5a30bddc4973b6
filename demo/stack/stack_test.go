package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestCheckPortsNamesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	err = checkPorts(context.Background(), []portUse{
		{addr: ln.Addr().String(), purpose: "Temporal frontend", flag: "--temporal-port"},
		{addr: freeAddr(t), purpose: "demo auth backend", flag: "--backend-addr"},
	})
	if err == nil {
		t.Fatal("checkPorts accepted a busy port")
	}
	msg := err.Error()
	for _, want := range []string{"port " + port, "Temporal frontend", "already in use", "--temporal-port"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "demo auth backend") {
		t.Errorf("message %q names the free port too", msg)
	}
}

func TestCheckPortsAcceptsFreePorts(t *testing.T) {
	err := checkPorts(context.Background(), []portUse{
		{addr: freeAddr(t), purpose: "Temporal Web UI", flag: "--ui-port"},
	})
	if err != nil {
		t.Fatalf("checkPorts: %v", err)
	}
}

func TestRunFailsFastOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	dir := t.TempDir()
	cfg, err := parseFlags([]string{
		"--var", dir + "/var", "--bin", dir + "/bin",
		"--backend-addr", ln.Addr().String(),
		"--temporal-port", port(t, freeAddr(t)),
		"--ui-port", port(t, freeAddr(t)),
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, slog.New(slog.DiscardHandler), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "demo auth backend") {
		t.Fatalf("run: %v; want the busy backend port named", err)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := config{varDir: "var", binDir: "bin", configFile: "runbook.yaml", temporalPort: 7233, uiPort: 8233, backendAddr: "127.0.0.1:8081", gatewayAddr: "127.0.0.1:8090"}
	if cfg != want {
		t.Errorf("defaults %+v, want %+v", cfg, want)
	}
	if got := cfg.backendURL(); got != "http://127.0.0.1:8081" {
		t.Errorf("backendURL = %q", got)
	}

	for _, args := range [][]string{
		{"--ui-port", "7233"},
		{"--temporal-port", "0"},
		{"--backend-addr", "8081"},
		{"--backend-addr", "127.0.0.1:8233"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) accepted bad input", args)
		}
	}
}

func TestPrefixWriterTagsWholeLines(t *testing.T) {
	var out bytes.Buffer
	w := newPrefixWriter(&out, "worker")
	for _, chunk := range []string{"hel", "lo\nwor", "ld\n", "partial"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "[worker] hello\n[worker] world\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWithoutVars(t *testing.T) {
	got := withoutVars([]string{"PATH=/bin", "JWT_SECRET=x", "JWT_SECRET_OLD=y"}, "JWT_SECRET")
	if strings.Join(got, " ") != "PATH=/bin JWT_SECRET_OLD=y" {
		t.Errorf("got %q", got)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
