package store_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
)

// aggregateSnapshot is every aggregate the report reads.
type aggregateSnapshot struct {
	Changes map[int64][6]int
	Builds  map[int64][5]int
	Grants  map[int64][2]int
}

func snapshot(t *testing.T, st *store.Store, builds []int64) aggregateSnapshot {
	t.Helper()
	ctx := context.Background()
	s := aggregateSnapshot{Changes: map[int64][6]int{}, Builds: map[int64][5]int{}, Grants: map[int64][2]int{}}
	for _, bid := range builds {
		d, err := st.Report(ctx, bid)
		if err != nil {
			t.Fatal(err)
		}
		s.Builds[bid] = [5]int{d.Build.FeedbackCount, d.Build.BugsLow, d.Build.BugsMedium, d.Build.BugsHigh, d.Build.BugsCritical}
		for _, c := range d.Changes {
			s.Changes[c.ID] = [6]int{c.KeepVotes, c.RevertVotes, c.OpenLow, c.OpenMedium, c.OpenHigh, c.OpenCritical}
		}
		testers, _, err := st.Testers(ctx, bid, store.Page{Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range testers {
			s.Grants[bid*1_000_000+tt.UserID] = [2]int{tt.FeedbackCount, tt.VoteCount}
		}
	}
	return s
}

// TestAggregatesMatchRecount applies thousands of random operations (votes,
// vote changes, bugs, status changes, duplicates, revoked and re-invited
// testers) and checks after every batch that the aggregates kept on write
// equal a recount from the raw rows.
func TestAggregatesMatchRecount(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewSource(42))
	password := "aggregate-test-password"
	hash, err := models.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	admin := &models.User{Email: "admin@example.com", Name: "Admin", Role: models.RoleAdmin, PasswordHash: hash}
	if err := st.CreateUser(ctx, nil, admin); err != nil {
		t.Fatal(err)
	}
	p := &models.Product{Name: "Game", Slug: "game"}
	if err := st.CreateProduct(ctx, admin.ID, p); err != nil {
		t.Fatal(err)
	}
	type buildFx struct {
		id      int64
		changes []int64
	}
	var builds []buildFx
	var buildIDs []int64
	for i := 0; i < 2; i++ {
		b := &models.Build{ProductID: p.ID, Version: fmt.Sprintf("1.%d", i), Policy: models.DefaultPolicy()}
		if err := st.CreateBuild(ctx, admin.ID, b); err != nil {
			t.Fatal(err)
		}
		fx := buildFx{id: b.ID}
		for j := 0; j < 4; j++ {
			c := &models.Change{BuildID: b.ID, Key: fmt.Sprintf("C-%d", j), Title: "Change"}
			if err := st.CreateChange(ctx, admin.ID, c); err != nil {
				t.Fatal(err)
			}
			fx.changes = append(fx.changes, c.ID)
		}
		builds = append(builds, fx)
		buildIDs = append(buildIDs, b.ID)
	}
	grant := func(buildID int64, email, name string) {
		t.Helper()
		_, token, err := st.CreateInvite(ctx, admin.ID, buildID, email, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.RedeemInvite(ctx, token, name, password); err != nil {
			t.Fatalf("redeem for %s: %v", email, err)
		}
	}
	type testerFx struct {
		id      int64
		email   string
		build   int
		revoked bool
	}
	var testers []*testerFx
	for i := 0; i < 12; i++ {
		email := fmt.Sprintf("t%d@example.com", i)
		bi := i % 2
		grant(buildIDs[bi], email, fmt.Sprintf("T%d", i))
		u, err := st.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		testers = append(testers, &testerFx{id: u.ID, email: email, build: bi})
	}
	var feedback []int64
	ops := map[string]int{}
	for batch := 0; batch < 20; batch++ {
		for i := 0; i < 150; i++ {
			tt := testers[rng.Intn(len(testers))]
			b := builds[tt.build]
			switch op := rng.Intn(10); {
			case op < 4: // vote or change a vote (skewed towards revert on change 0)
				vote := models.VoteKeep
				if rng.Intn(3) == 0 || b.changes[0] == b.changes[rng.Intn(4)] {
					vote = models.VoteRevert
				}
				_, err := st.CastVote(ctx, tt.id, b.changes[rng.Intn(4)], vote, "")
				if tt.revoked && err == nil {
					t.Fatal("a revoked tester could vote")
				}
				ops["vote"]++
			case op < 7: // file feedback
				kind := models.Kinds[rng.Intn(len(models.Kinds))]
				var sev *string
				if kind == models.KindBug {
					s := models.Severities[rng.Intn(4)]
					sev = &s
				}
				var change *int64
				if rng.Intn(4) > 0 {
					change = &b.changes[rng.Intn(4)]
				}
				fb, _, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.id, TesterID: tt.id, ChangeID: change, Kind: kind, Severity: sev, Title: "Something"})
				if err == nil {
					feedback = append(feedback, fb.ID)
				} else if !tt.revoked {
					t.Fatal(err)
				}
				ops["feedback"]++
			case op < 9 && len(feedback) > 0: // triage, sometimes as a duplicate
				id := feedback[rng.Intn(len(feedback))]
				status := models.Statuses[rng.Intn(len(models.Statuses)-1)]
				var dup *int64
				if rng.Intn(5) == 0 {
					other := feedback[rng.Intn(len(feedback))]
					status, dup = models.StatusDuplicate, &other
				}
				if _, err := st.SetFeedbackStatus(ctx, admin.ID, id, status, dup); err != nil && dup == nil {
					t.Fatal(err)
				}
				ops["triage"]++
			default: // revoke or re-invite
				if tt.revoked {
					grant(buildIDs[tt.build], tt.email, "")
					tt.revoked = false
					ops["regrant"]++
				} else {
					if err := st.RevokeTester(ctx, admin.ID, buildIDs[tt.build], tt.id); err != nil {
						t.Fatal(err)
					}
					tt.revoked = true
					ops["revoke"]++
				}
			}
		}
		kept := snapshot(t, st, buildIDs)
		if err := st.Recount(ctx); err != nil {
			t.Fatal(err)
		}
		recounted := snapshot(t, st, buildIDs)
		for id, want := range recounted.Changes {
			if kept.Changes[id] != want {
				t.Fatalf("batch %d: change %d aggregates %v, recount %v", batch, id, kept.Changes[id], want)
			}
		}
		for id, want := range recounted.Builds {
			if kept.Builds[id] != want {
				t.Fatalf("batch %d: build %d aggregates %v, recount %v", batch, id, kept.Builds[id], want)
			}
		}
		for id, want := range recounted.Grants {
			if kept.Grants[id] != want {
				t.Fatalf("batch %d: grant %d activity %v, recount %v", batch, id, kept.Grants[id], want)
			}
		}
	}
	t.Logf("operations: %v", ops)
	if ops["revoke"] == 0 || ops["regrant"] == 0 || ops["triage"] == 0 {
		t.Fatalf("the random walk missed an operation kind: %v", ops)
	}
}
