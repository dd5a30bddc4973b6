package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authops/authops/internal/demoenv"
)

// NginxBin is Debian's nginx (nginx-light), which `make deps` installs.
const NginxBin = "nginx"

// RequireNginx returns the nginx binary, or skips the test when it is missing, unless
// AUTHOPS_REQUIRE_TOOLS is set (make test sets it), which makes a missing nginx a failure.
func RequireNginx(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath(NginxBin)
	if err == nil {
		return bin
	}
	// Debian puts it in /usr/sbin, which a non-root PATH often leaves out.
	if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("AUTHOPS_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed (make deps installs nginx-light): %v", NginxBin, err)
	}
	t.Skipf("%s is not installed; `make deps` installs nginx-light", NginxBin)
	return ""
}

// Nginx is a real nginx on a loopback port with its own prefix directory, proxying to a
// backend. Its server block includes Include, the file internal/edge owns.
type Nginx struct {
	Bin     string
	Dir     string
	Conf    string
	Include string
	// URL is where it listens, http://127.0.0.1:PORT.
	URL     string
	backend string
}

// TestArgv is the config check, with the same prefix and config as the running proxy.
func (n *Nginx) TestArgv() []string {
	return []string{n.Bin, "-q", "-t", "-p", n.Dir, "-c", n.Conf}
}

// ReloadArgv signals the running proxy (through its pid file) to load its config again.
func (n *Nginx) ReloadArgv() []string {
	return []string{n.Bin, "-p", n.Dir, "-c", n.Conf, "-s", "reload"}
}

// StartNginx runs nginx in the foreground in front of backendURL until the test ends.
// serverExtra is added to the server block, after the include (a test's own locations).
func StartNginx(t testing.TB, backendURL, serverExtra string) *Nginx {
	t.Helper()
	n := &Nginx{Bin: RequireNginx(t), Dir: t.TempDir(), backend: backendURL}
	n.Conf = filepath.Join(n.Dir, "nginx.conf")
	n.Include = filepath.Join(n.Dir, "authops-edge.conf")
	addr := FreeAddr(t)
	n.URL = "http://" + addr
	// As root, nginx's workers would drop to nobody, who cannot enter the test's 0700 dir.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%[1]s
worker_processes 1;
error_log %[2]s/error.log notice;
pid %[2]s/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    server {
        listen %[3]s;
        include %[4]s;
        %[6]s
        location / {
            proxy_pass %[5]s;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
    }
}
`, user, n.Dir, addr, n.Include, backendURL, serverExtra)
	if err := os.WriteFile(n.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// An empty include is the empty state; nginx refuses to start without the file.
	if err := os.WriteFile(n.Include, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := &SyncBuffer{}
	cmd := exec.Command(n.Bin, "-p", n.Dir, "-c", n.Conf, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Any answer will do: the backend may start after its proxy (a 502 until then).
		if resp, err := http.Get(n.URL + "/healthz"); err == nil {
			_ = resp.Body.Close()
			return n
		}
		select {
		case <-done:
			errLog, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", log.String(), errLog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering on %s after 30s: %s", n.URL, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Retarget points the proxy at another backend and waits until it serves its /healthz: for a
// stack whose backend address is chosen after the config naming the proxy is written.
func (n *Nginx) Retarget(t testing.TB, backendURL string) {
	t.Helper()
	b, err := os.ReadFile(n.Conf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "proxy_pass "+n.backend+";", "proxy_pass "+backendURL+";", 1)
	if err := os.WriteFile(n.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.backend = backendURL
	argv := n.ReloadArgv()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("reload nginx: %v: %s", err, out)
	}
	// nginx reloads asynchronously: wait, with a generous deadline, for the new backend.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(n.URL + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not serving %s/healthz from %s after 60s", n.URL, backendURL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// EdgeYAML is the controls.edge section of a target behind this proxy.
func (n *Nginx) EdgeYAML() string {
	q := func(argv []string) string {
		out := make([]string, len(argv))
		for i, a := range argv {
			out[i] = strconv.Quote(a)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	return fmt.Sprintf("controls:\n  edge: {kind: nginx, include: %q, test: %s, reload: %s, url: %q, readback_timeout: 60s}\n",
		n.Include, q(n.TestArgv()), q(n.ReloadArgv()), n.URL)
}

// StartBackend runs bin/authbackend on a free loopback port until the test ends and returns its
// URL and files. It needs `make build` (make test does).
func StartBackend(t testing.TB) (string, demoenv.Paths) {
	t.Helper()
	bin := filepath.Join(BinDir(t), "authbackend")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("AUTHOPS_BIN") != "" {
			t.Fatalf("authbackend missing in %s: run `make build` (make test does)", filepath.Dir(bin))
		}
		// A plain go test on a fresh clone: build it from this tree.
		bin = filepath.Join(t.TempDir(), "authbackend")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/authops/authops/demo/authbackend").CombinedOutput(); err != nil {
			t.Fatalf("build authbackend: %v\n%s", err, out)
		}
	}
	paths, err := demoenv.Prepare(filepath.Join(t.TempDir(), "demo"))
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := &SyncBuffer{}
	cmd := exec.CommandContext(ctx, bin, "--addr", addr, "--users", paths.UsersFile,
		"--env-file", paths.EnvFile, "--admin-token-file", paths.AdminTokenFile,
		"--state-file", paths.StateFile, "--pid-file", paths.PidFile, "--bcrypt-cost", strconv.Itoa(bcrypt.MinCost))
	cmd.Env = filteredEnv()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start authbackend: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, paths
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("authbackend not healthy after 30s: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ClientFrom is an HTTP client whose connections leave from the local address ip (127.0.0.2
// for a client inside a denied range), with no connection reuse, so each request is judged anew.
func ClientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
