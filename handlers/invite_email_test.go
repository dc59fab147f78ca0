package handlers_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"playgate/handlers"
	"playgate/mailer"
)

// smtpServer is a minimal SMTP server that keeps what it receives.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
	auth []string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.Fields(line + " x")[0])
		switch cmd {
		case "EHLO", "HELO":
			tp.PrintfLine("250-test\r\n250 AUTH PLAIN")
		case "AUTH":
			s.mu.Lock()
			s.auth = append(s.auth, line)
			s.mu.Unlock()
			tp.PrintfLine("235 ok")
		case "MAIL", "RCPT":
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(data))
			s.mu.Unlock()
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("250 ok")
		}
	}
}

func (s *smtpServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func TestInviteEmailed(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(0)
	srv := startSMTP(t)
	m, err := mailer.Parse("smtp://playgate:s3cret@"+srv.ln.Addr().String(), "noreply@studio.example")
	if err != nil {
		t.Fatal(err)
	}
	api := handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: testKey}, PublicURL: "https://playtest.studio.example",
		Mailer: m, Log: slog.New(slog.NewTextHandler(e.logBuf, nil))})
	if e.h, err = api.Router(); err != nil {
		t.Fatal(err)
	}
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), e.admin.Token, map[string]any{"email": "player@example.com"}).JSON(t)
	token := r["token"].(string)
	if r["emailed"] != true || r["link"] != "https://playtest.studio.example/invite#"+token {
		t.Fatalf("answer: %v", r)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	for _, want := range []string{"To: player@example.com", "Subject: You're invited to playtest Game", "https://playtest.studio.example/invite#" + token} {
		if !strings.Contains(msgs[0], want) {
			t.Fatalf("email lacks %q:\n%s", want, msgs[0])
		}
	}
	srv.mu.Lock()
	auths := len(srv.auth)
	srv.mu.Unlock()
	if auths != 1 {
		t.Fatalf("%d AUTH commands, want 1", auths)
	}
	// The link is never logged.
	if strings.Contains(e.logBuf.String(), token) {
		t.Fatal("the invite token reached the log")
	}
	// A dead SMTP server does not lose the invite: it is created, emailed=false.
	srv.ln.Close()
	r = e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), e.admin.Token, map[string]any{"email": "second@example.com"}).JSON(t)
	if r["emailed"] != false || r["token"] == "" {
		t.Fatalf("answer with a dead mail server: %v", r)
	}
	if items := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/invites", bid), e.admin.Token, nil).Items(t); len(items) != 2 {
		t.Fatalf("invites: %v", items)
	}
}

func TestInviteNotEmailedWithoutSMTP(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(0)
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), e.admin.Token, map[string]any{"email": "player@example.com"}).JSON(t)
	if r["emailed"] != false || r["link"] != nil {
		t.Fatalf("answer: %v", r)
	}
}
