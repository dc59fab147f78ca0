package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers slowly is dropped; so are oversized headers.
func TestSlowAndHugeHeadersAreRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := newHTTPServer(h, slog.New(slog.NewTextHandler(io.Discard, nil)), timeouts{readHeader: 300 * time.Millisecond, read: time.Second, write: time.Second, idle: time.Second})
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Trickle one header byte at a time; the server must hang up.
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	closed := false
	for i := 0; i < 40 && !closed; i++ {
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Write([]byte("X")); err != nil {
			closed = true
		}
	}
	if !closed {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		dropped := err == io.EOF || (err == nil && strings.Contains(string(buf[:n]), "408"))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			dropped = false
		} else if err != nil {
			dropped = true // reset by the server
		}
		if !dropped {
			t.Fatalf("a client trickling its headers is still connected after 4s (read: %q, %v)", buf[:n], err)
		}
	}

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d", res.StatusCode)
	}
}
