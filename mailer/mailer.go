// Package mailer sends Playgate's emails (invites) through an SMTP server.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// SMTP sends mail through one server, with STARTTLS when the server offers
// it and PLAIN auth when the URL carries a user.
type SMTP struct {
	addr, host string
	auth       smtp.Auth
	from       string
	// TLS is used for STARTTLS (nil: verify the server's certificate).
	TLS *tls.Config
}

// Parse reads smtp://user:pass@host:port (port 587 when absent).
func Parse(raw, from string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Hostname() == "" {
		return nil, errors.New("PLAYGATE_SMTP_URL must look like smtp://user:pass@host:port")
	}
	port := u.Port()
	if port == "" {
		port = "587"
	}
	m := &SMTP{addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(), from: from}
	if u.User != nil {
		pass, _ := u.User.Password()
		m.auth = smtp.PlainAuth("", u.User.Username(), pass, u.Hostname())
	}
	if m.from == "" {
		m.from = "playgate@" + u.Hostname()
	}
	return m, nil
}

// Send delivers one plain-text message.
func (m *SMTP) Send(ctx context.Context, to, subject, body string) error {
	if strings.ContainsAny(to, "\r\n") {
		return errors.New("bad recipient")
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(15 * time.Second)
	}
	conn, err := (&net.Dialer{Deadline: deadline}).DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", m.addr, err)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := m.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := "From: Playgate <" + m.from + ">\r\nTo: " + to + "\r\nSubject: " + headerSafe(subject) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nDate: " +
		time.Now().UTC().Format(time.RFC1123Z) + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// headerSafe keeps user text from adding header lines.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// InviteMessage is the subject and text of an invite email.
func InviteMessage(product, version, link string, expires time.Time) (string, string) {
	subject := fmt.Sprintf("You're invited to playtest %s %s", product, version)
	body := fmt.Sprintf("Hello,\n\nYou have been invited to test %s %s before it is released.\n\n"+
		"Open this link to accept the invite and get the build:\n\n  %s\n\n"+
		"The link works once and expires on %s.\n\nIf you did not expect this email, ignore it.\n",
		product, version, link, expires.UTC().Format("Monday 2 January 2006, 15:04 MST"))
	return subject, body
}
