package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a playgate process this command started.
type server struct {
	cmd     *exec.Cmd
	bin     string
	env     []string
	logPath string
	url     string
	tmp     string // removed at the end unless -keep
	keep    bool
	ready   time.Duration // from start to the first 200 of /readyz
	exit    chan error
}

// startServer builds (unless -bin) and starts playgate, and waits for /readyz.
func startServer(ctx context.Context, o *options, stderr io.Writer) (*server, error) {
	tmp, err := os.MkdirTemp("", "playgate-bench-")
	if err != nil {
		return nil, err
	}
	s := &server{tmp: tmp, keep: o.keep}
	fail := func(err error) (*server, error) {
		if !s.keep {
			os.RemoveAll(tmp)
		}
		return nil, err
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(tmp, "playgate")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/playgate")
		build.Dir, err = moduleRoot()
		if err != nil {
			return fail(err)
		}
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fail(fmt.Errorf("build playgate: %w", err))
		}
	}
	data := o.data
	if data == "" {
		data = filepath.Join(tmp, "data")
	}
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	logPath := o.serverLog
	if logPath == "" {
		logPath = filepath.Join(tmp, "server.log")
	}
	s.bin, s.logPath, s.url = bin, logPath, "http://"+addr
	s.env = append(os.Environ(), "PLAYGATE_DATA="+data, "PLAYGATE_ADDR="+addr, "PLAYGATE_RATE_LIMITS=off", "PLAYGATE_DB="+o.db,
		"PLAYGATE_ADMIN_EMAIL="+o.adminEmail, "PLAYGATE_ADMIN_PASSWORD="+o.adminPassword)
	if err := s.launch(ctx); err != nil {
		if s.cmd != nil && s.cmd.ProcessState == nil {
			s.stop(stderr)
			return nil, err
		}
		return fail(err)
	}
	fmt.Fprintf(stderr, "playgate-bench: server %s ready in %v (data %s, log %s)\n", s.url, s.ready.Round(time.Millisecond), data, logPath)
	return s, nil
}

// launch starts the process and waits until /readyz answers 200.
func (s *server) launch(ctx context.Context) error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.exit = make(chan error, 1)
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	go func() { s.exit <- s.cmd.Wait(); logFile.Close() }()
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-s.exit:
			s.exit <- err
			return fmt.Errorf("playgate exited before it was ready (%v); its log is %s", err, s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Since(started) > 60*time.Second {
			return errors.New("playgate not ready after 60s")
		}
		resp, err := hc.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(started)
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restart stops the server and starts it again on the same data, so a
// run's memory figures start from a fresh process, not from the setup's
// password hashing.
func (s *server) restart(ctx context.Context) error {
	s.terminate()
	return s.launch(ctx)
}

// terminate sends SIGTERM, then SIGKILL after 15s, and waits.
func (s *server) terminate() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
}

// stop ends the server with SIGTERM (SIGKILL after 15s) and removes the
// temporary folder.
func (s *server) stop(stderr io.Writer) {
	s.terminate()
	if s.keep {
		fmt.Fprintf(stderr, "playgate-bench: kept %s\n", s.tmp)
		return
	}
	os.RemoveAll(s.tmp)
}

// status reads a field of /proc/<pid>/status in MiB.
func (s *server) status(field string) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds is the server's CPU time (user and system) in seconds, read
// from /proc/<pid>/stat in clock ticks (USER_HZ, 100 on Linux); 0 when it
// cannot be read.
func (s *server) cpuSeconds() float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after it, the state being field 3 and utime and stime 14 and 15.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (utime + stime) / 100
}

// peakRSS is the server's peak resident set (VmHWM) since start or the last reset.
func (s *server) peakRSS() float64 { return s.status("VmHWM") }

// rss is the server's resident set now.
func (s *server) rss() float64 { return s.status("VmRSS") }

// resetPeak starts VmHWM again from the current RSS (Linux clear_refs 5),
// so the peak of a run leaves out the password hashing of the setup.
func (s *server) resetPeak() {
	_ = os.WriteFile("/proc/"+strconv.Itoa(s.cmd.Process.Pid)+"/clear_refs", []byte("5"), 0)
}

// moduleRoot finds the folder of the playgate module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run -start inside the playgate module, or give -bin")
	}
	return filepath.Dir(mod), nil
}

// freeAddr picks a free local port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
