package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// client speaks to the server's API over keep-alive connections, one per worker.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 4,
		MaxIdleConnsPerHost: conns + 4,
		MaxConnsPerHost:     conns + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// call sends one request and decodes a JSON answer into out (when not nil);
// it returns the status, and an error for transport failures only.
func (c *client) call(ctx context.Context, method, path, token string, body []byte, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// must sends a setup request and fails unless the status is want.
func (c *client) must(ctx context.Context, want int, method, path, token string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	status, err := c.call(ctx, method, path, token, body, out)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, path, status, want)
	}
	return nil
}

// fixture is what the workload runs against.
type fixture struct {
	build   int64
	changes []int64
	admin   string   // staff access token
	testers []string // testers' access tokens
	before  *reportView
}

// prepare signs the admin in and makes (or finds) the build, its changes
// and the testers, through the public API.
func prepare(ctx context.Context, c *client, o *options, stderr io.Writer) (*fixture, error) {
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.must(ctx, 200, "POST", "/api/v1/auth/login", "", map[string]string{"email": o.adminEmail, "password": o.adminPassword}, &login); err != nil {
		return nil, fmt.Errorf("sign in as %s (see -admin-email, -admin-password): %w", o.adminEmail, err)
	}
	fx := &fixture{admin: login.AccessToken, build: o.build}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var idOnly struct {
		ID int64 `json:"id"`
	}
	if fx.build == 0 {
		if err := c.must(ctx, 201, "POST", "/api/v1/products", fx.admin, map[string]string{"name": "Bench " + run, "slug": "bench-" + run}, &idOnly); err != nil {
			return nil, err
		}
		build := map[string]any{"version": "1.0.0", "access": map[string]string{"url": "https://dl.example.com/bench.zip", "server": "qc.example.com:7777", "key": "QC-BENCH"}}
		if err := c.must(ctx, 201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", idOnly.ID), fx.admin, build, &idOnly); err != nil {
			return nil, err
		}
		fx.build = idOnly.ID
		for i := 1; i <= o.changes; i++ {
			ch := map[string]string{"key": fmt.Sprintf("BENCH-%d", i), "title": fmt.Sprintf("Change %d", i), "area": "bench"}
			if err := c.must(ctx, 201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", fx.build), fx.admin, ch, &idOnly); err != nil {
				return nil, err
			}
			fx.changes = append(fx.changes, idOnly.ID)
		}
	} else {
		var list struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
		}
		if err := c.must(ctx, 200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", fx.build), fx.admin, nil, &list); err != nil {
			return nil, err
		}
		for _, it := range list.Items {
			fx.changes = append(fx.changes, it.ID)
		}
		if len(fx.changes) == 0 && (o.mix == "vote" || o.mix == "mixed") {
			return nil, fmt.Errorf("build %d has no changes to vote on", fx.build)
		}
	}
	if o.mix == "report" || o.mix == "list" || o.mix == "export" {
		return fx, nil // staff reads only
	}
	// Testers: invite and redeem, a few at a time (each redeem hashes a
	// password, on purpose slowly).
	fx.testers = make([]string, o.testers)
	var wg sync.WaitGroup
	errs := make(chan error, o.testers)
	sem := make(chan struct{}, 4)
	for i := range fx.testers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var inv struct {
				Token string `json:"token"`
			}
			email := fmt.Sprintf("bench-%s-%d@example.com", run, i)
			if err := c.must(ctx, 201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", fx.build), fx.admin, map[string]string{"email": email}, &inv); err != nil {
				errs <- err
				return
			}
			var red struct {
				AccessToken string `json:"access_token"`
			}
			body := map[string]string{"token": inv.Token, "name": fmt.Sprintf("Bench tester %d", i), "password": "bench-tester-password"}
			if err := c.must(ctx, 201, "POST", "/api/v1/invites/redeem", "", body, &red); err != nil {
				errs <- err
				return
			}
			fx.testers[i] = red.AccessToken
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "playgate-bench: build %d with %d changes and %d testers ready\n", fx.build, len(fx.changes), len(fx.testers))
	return fx, nil
}

// reportView is the part of a report the checks read.
type reportView struct {
	Totals struct {
		Feedback int `json:"feedback"`
	} `json:"totals"`
	Changes []struct {
		Change struct {
			ID int64 `json:"id"`
		} `json:"change"`
		Votes struct {
			Keep   int `json:"keep"`
			Revert int `json:"revert"`
		} `json:"votes"`
	} `json:"changes"`
}

func (c *client) report(ctx context.Context, fx *fixture) (*reportView, error) {
	var r reportView
	if err := c.must(ctx, 200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", fx.build), fx.admin, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
