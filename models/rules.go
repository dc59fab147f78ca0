package models

import (
	"fmt"
	"math"
	"strings"
)

// Policy is a build's rollback rule settings.
type Policy struct {
	MinVotes        int     `json:"min_votes"`
	RevertThreshold float64 `json:"revert_threshold"`
	Confidence      float64 `json:"confidence"`
	BlockSeverity   string  `json:"block_severity"`
}

// DefaultPolicy is the contract's default rule: 5 votes, 30 %, 95 %, critical.
func DefaultPolicy() Policy {
	return Policy{MinVotes: 5, RevertThreshold: 0.30, Confidence: 0.95, BlockSeverity: SeverityCritical}
}

// Validate returns why each field is wrong, keyed by its JSON name under "policy.".
func (p Policy) Validate() map[string]string {
	errs := map[string]string{}
	if p.MinVotes < 1 {
		errs["policy.min_votes"] = "must be at least 1"
	}
	if !(p.RevertThreshold > 0 && p.RevertThreshold < 1) {
		errs["policy.revert_threshold"] = "must be between 0 and 1, both excluded"
	}
	if !(p.Confidence >= 0.5 && p.Confidence <= 0.999) {
		errs["policy.confidence"] = "must be between 0.5 and 0.999"
	}
	if SeverityRank(p.BlockSeverity) == 0 {
		errs["policy.block_severity"] = "must be one of low, medium, high, critical"
	}
	return errs
}

// Severities of a bug, lowest first.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Severities lists the bug severities, lowest first.
var Severities = []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// SeverityRank orders severities from 1 (low) to 4 (critical); 0 means unknown.
func SeverityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// OpenBugs counts a change's open (new, acknowledged, in_progress) bugs by severity.
type OpenBugs struct {
	Low      int `json:"low"`
	Medium   int `json:"medium"`
	High     int `json:"high"`
	Critical int `json:"critical"`
}

// AtLeast counts the open bugs of severity s or worse.
func (o OpenBugs) AtLeast(s string) int {
	n := 0
	for i, c := range []int{o.Low, o.Medium, o.High, o.Critical} {
		if i+1 >= SeverityRank(s) {
			n += c
		}
	}
	return n
}

// Votes counts a change's current votes.
type Votes struct {
	Keep   int `json:"keep"`
	Revert int `json:"revert"`
}

// Verdicts of the rollback rule.
const (
	VerdictInsufficient = "insufficient"
	VerdictRevert       = "revert"
	VerdictWatch        = "watch"
	VerdictOK           = "ok"
)

// Flag is the rollback rule's answer for one change.
type Flag struct {
	Flagged bool     `json:"flagged"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// Assessment is what the rule saw and concluded for one change.
type Assessment struct {
	Votes            Votes    `json:"votes"`
	RevertShare      float64  `json:"revert_share"`
	RevertLowerBound float64  `json:"revert_lower_bound"`
	OpenBugs         OpenBugs `json:"open_bugs"`
	Flag             Flag     `json:"flag"`
}

// ZScore is the two-sided normal quantile for a confidence level (0.95 → 1.959964).
func ZScore(confidence float64) float64 {
	return math.Sqrt2 * math.Erfinv(confidence)
}

// WilsonLowerBound is the lower bound of the Wilson score interval for
// revert votes out of n at the given confidence; 0 when n is 0.
func WilsonLowerBound(revert, n int, confidence float64) float64 {
	if n <= 0 {
		return 0
	}
	z := ZScore(confidence)
	fn := float64(n)
	p := float64(revert) / fn
	z2 := z * z
	centre := p + z2/(2*fn)
	margin := z * math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn))
	lb := (centre - margin) / (1 + z2/fn)
	if lb < 0 {
		return 0
	}
	return lb
}

// FlagChange applies the contract's rollback rule to one change: flagged
// when it has an open bug at or over the policy's blocking severity, or at
// least MinVotes votes and a Wilson lower bound of the revert share at or
// over the threshold.
func FlagChange(p Policy, v Votes, bugs OpenBugs) Assessment {
	n := v.Keep + v.Revert
	a := Assessment{Votes: v, OpenBugs: bugs, Flag: Flag{Reasons: []string{}}}
	if n > 0 {
		a.RevertShare = round4(float64(v.Revert) / float64(n))
		a.RevertLowerBound = round4(WilsonLowerBound(v.Revert, n, p.Confidence))
	}
	if blocking := bugs.AtLeast(p.BlockSeverity); blocking > 0 {
		a.Flag.Flagged = true
		a.Flag.Reasons = append(a.Flag.Reasons, fmt.Sprintf("%s filed against this change: fix %s or revert the change",
			countNoun(blocking, "open "+severityOrWorse(p.BlockSeverity)+" bug"), itThem(blocking)))
	}
	if n >= p.MinVotes && WilsonLowerBound(v.Revert, n, p.Confidence) >= p.RevertThreshold {
		a.Flag.Flagged = true
		a.Flag.Reasons = append(a.Flag.Reasons, fmt.Sprintf(
			"%d of %d testers voted revert: at %s confidence at least %s want it reverted, over the %s threshold",
			v.Revert, n, percent(p.Confidence), percent(a.RevertLowerBound), percent(p.RevertThreshold)))
	}
	switch {
	case a.Flag.Flagged:
		a.Flag.Verdict = VerdictRevert
	case n < p.MinVotes:
		a.Flag.Verdict = VerdictInsufficient
	case float64(v.Revert)/float64(n) >= p.RevertThreshold:
		a.Flag.Verdict = VerdictWatch
	default:
		a.Flag.Verdict = VerdictOK
	}
	return a
}

func severityOrWorse(s string) string {
	if s == SeverityCritical {
		return s
	}
	return s + "-or-worse"
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// percent renders 0.3968 as "39.7%" and 0.3 as "30%".
func percent(f float64) string {
	s := fmt.Sprintf("%.1f", math.Round(f*1000)/10)
	s = strings.TrimSuffix(s, ".0")
	return s + "%"
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }
