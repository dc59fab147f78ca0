package models

import (
	"strings"
	"testing"
)

func TestFlagChange(t *testing.T) {
	def := DefaultPolicy()
	strict := def
	strict.Confidence = 0.99
	high := def
	high.BlockSeverity = SeverityHigh
	tests := []struct {
		name     string
		policy   Policy
		votes    Votes
		bugs     OpenBugs
		lb       float64
		flagged  bool
		verdict  string
		reasonIn []string
	}{
		{"5 of 5 revert", def, Votes{0, 5}, OpenBugs{}, 0.5655, true, VerdictRevert,
			[]string{"5 of 5 testers voted revert: at 95% confidence at least 56.6% want it reverted, over the 30% threshold"}},
		{"5 of 10 revert", def, Votes{5, 5}, OpenBugs{}, 0.2366, false, VerdictWatch, nil},
		{"7 of 10 revert", def, Votes{3, 7}, OpenBugs{}, 0.3968, true, VerdictRevert,
			[]string{"7 of 10 testers voted revert: at 95% confidence at least 39.7% want it reverted, over the 30% threshold"}},
		{"no votes", def, Votes{}, OpenBugs{}, 0, false, VerdictInsufficient, nil},
		{"min_votes-1 all revert", def, Votes{0, 4}, OpenBugs{}, 0.5101, false, VerdictInsufficient, nil},
		{"all keep", def, Votes{20, 0}, OpenBugs{}, 0, false, VerdictOK, nil},
		{"confidence 0.99 5 of 5", strict, Votes{0, 5}, OpenBugs{}, 0.4297, true, VerdictRevert,
			[]string{"at 99% confidence at least 43% want"}},
		{"confidence 0.99 7 of 10", strict, Votes{3, 7}, OpenBugs{}, 0.32, true, VerdictRevert, nil},
		{"confidence 0.99 6 of 10", strict, Votes{4, 6}, OpenBugs{}, 0.2482, false, VerdictWatch, nil},
		{"open critical bug, no votes", def, Votes{}, OpenBugs{Critical: 1}, 0, true, VerdictRevert,
			[]string{"1 open critical bug filed against this change: fix it or revert the change"}},
		{"two critical bugs and votes", def, Votes{3, 7}, OpenBugs{Critical: 2}, 0.3968, true, VerdictRevert,
			[]string{"2 open critical bugs filed", "7 of 10 testers voted revert"}},
		{"open high bug does not block by default", def, Votes{}, OpenBugs{High: 3}, 0, false, VerdictInsufficient, nil},
		{"open high bug blocks at block_severity high", high, Votes{}, OpenBugs{High: 1, Critical: 1}, 0, true, VerdictRevert,
			[]string{"2 open high-or-worse bugs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := FlagChange(tt.policy, tt.votes, tt.bugs)
			if a.RevertLowerBound != tt.lb {
				t.Errorf("lower bound = %v, want %v", a.RevertLowerBound, tt.lb)
			}
			if a.Flag.Flagged != tt.flagged || a.Flag.Verdict != tt.verdict {
				t.Errorf("flag = %v/%s, want %v/%s", a.Flag.Flagged, a.Flag.Verdict, tt.flagged, tt.verdict)
			}
			if tt.flagged != (len(a.Flag.Reasons) > 0) {
				t.Errorf("reasons %q for flagged=%v", a.Flag.Reasons, tt.flagged)
			}
			all := strings.Join(a.Flag.Reasons, "\n")
			for _, want := range tt.reasonIn {
				if !strings.Contains(all, want) {
					t.Errorf("reasons %q lack %q", a.Flag.Reasons, want)
				}
			}
		})
	}
}

func TestZScore(t *testing.T) {
	if z := ZScore(0.95); z < 1.959963 || z > 1.959965 {
		t.Fatalf("z(0.95) = %v", z)
	}
}

func TestPolicyValidate(t *testing.T) {
	if errs := DefaultPolicy().Validate(); len(errs) != 0 {
		t.Fatalf("default policy invalid: %v", errs)
	}
	bad := Policy{MinVotes: 0, RevertThreshold: 1, Confidence: 0.9991, BlockSeverity: "urgent"}
	errs := bad.Validate()
	for _, f := range []string{"policy.min_votes", "policy.revert_threshold", "policy.confidence", "policy.block_severity"} {
		if errs[f] == "" {
			t.Errorf("no error for %s", f)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse battery!") {
		t.Fatal("check does not tell right from wrong")
	}
	// A stored hash asking for absurd work is refused, not computed.
	if CheckPassword("$argon2id$v=19$m=4000000,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5", "x") {
		t.Fatal("accepted a hash with 4 GiB of memory")
	}
	if CheckPassword("not a hash", "x") {
		t.Fatal("accepted garbage")
	}
}
