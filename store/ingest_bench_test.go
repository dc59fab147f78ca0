package store

import (
	"context"
	"fmt"
	"testing"

	"playgate/models"
)

// BenchmarkIngestBatch is the writer's cost per item, without HTTP: each
// op is one group commit of 32 bug reports (or votes) from 32 testers,
// the batch a c = 64 run sees.
func BenchmarkIngestBatch(b *testing.B) {
	for _, kind := range []string{"feedback", "vote"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, Options{DataDir: b.TempDir()})
			must(b, err)
			defer s.Close()
			w := newIngestWorld(b, s)
			const size = 32
			testers := make([]int64, size)
			for i := range testers {
				u := &models.User{Email: fmt.Sprintf("bench%d@example.com", i), Name: "Bench", Role: models.RoleTester, PasswordHash: "x"}
				must(b, s.CreateUser(ctx, nil, u))
				must(b, s.w.Exec("INSERT INTO grants (build_id, user_id, created_at) VALUES (?, ?, ?)", w.open, u.ID, s.now()).Error)
				testers[i] = u.ID
			}
			severities := []string{models.SeverityLow, models.SeverityMedium, models.SeverityHigh, models.SeverityCritical}
			changes := []int64{w.c1, w.c2, w.c3}
			b.ResetTimer()
			for n := range b.N {
				jobs := make([]*writeJob, size)
				for i := range jobs {
					jobs[i] = &writeJob{ctx: ctx}
					change := changes[(n+i)%len(changes)]
					if kind == "vote" {
						vote := models.VoteKeep
						if (n+i)%3 == 0 {
							vote = models.VoteRevert
						}
						jobs[i].vote = &voteJob{testerID: testers[i], changeID: change, vote: vote}
						continue
					}
					sev := severities[(n+i)%len(severities)]
					jobs[i].feedback = &feedbackJob{in: NewFeedback{BuildID: w.open, TesterID: testers[i], ChangeID: &change,
						Kind: models.KindBug, Severity: &sev, Title: fmt.Sprintf("Crash %d when opening the inventory", n*size+i),
						Body:     "Steps: open the inventory while the harbor loads; the client freezes, then closes. Happens every time on the second map.",
						Platform: models.Platform{OS: "Windows 11", Device: "Desktop", ClientVersion: "1.4.2"}, IdempotencyKey: fmt.Sprintf("key-%d-%d", n, i)}}
				}
				for _, j := range jobs {
					j.done = make(chan error, 1)
				}
				commitAlone(s, jobs)
				for _, j := range jobs {
					if err := <-j.done; err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/item")
		})
	}
}
