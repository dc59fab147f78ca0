package models

import (
	"fmt"
	"strings"
)

// NextStage is the only stage a build in stage s may be promoted to; ok is
// false when the build cannot move on (it shipped, or was replaced).
func NextStage(s Stage) (next Stage, ok bool) {
	switch s {
	case StageQC:
		return StageStaging, true
	case StageStaging:
		return StageProduction, true
	}
	return "", false
}

// DecisionsFrozen reports whether a build's decisions can no longer change:
// once it reaches production they are history.
func DecisionsFrozen(s Stage) bool {
	return s == StageProduction || s == StageSuperseded || s == StageRolledBack
}

// GateBlockers lists, one sentence each, every reason a build cannot be
// promoted: an undecided change, or an approved change with an open bug at
// or over the policy's blocking severity. Empty means the gate is open.
func GateBlockers(p Policy, changes []Change) []string {
	blockers := []string{}
	for i := range changes {
		c := &changes[i]
		switch c.Status {
		case ChangePending:
			blockers = append(blockers, fmt.Sprintf("%s %q is undecided: approve or revert it.", c.Key, c.Title))
		case ChangeApproved:
			if n := c.OpenBugs().AtLeast(p.BlockSeverity); n > 0 {
				blockers = append(blockers, fmt.Sprintf("%s %q is approved but has %s: fix %s or revert the change.",
					c.Key, c.Title, countNoun(n, "open "+severityOrWorse(p.BlockSeverity)+" bug"), itThem(n)))
			}
		}
	}
	return blockers
}

// ReleaseNotes renders a build's decided changes as Markdown.
func ReleaseNotes(product string, b *Build, approved, reverted []Change) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# %s %s\n\n", product, b.Version)
	if strings.TrimSpace(b.Notes) != "" {
		sb.WriteString(strings.TrimSpace(b.Notes) + "\n\n")
	}
	section := func(title string, cs []Change, empty string) {
		fmt.Fprintf(&sb, "## %s\n\n", title)
		if len(cs) == 0 {
			sb.WriteString(empty + "\n\n")
			return
		}
		for _, c := range cs {
			line := fmt.Sprintf("- **%s** %s", markdownEscape(c.Key), markdownEscape(c.Title))
			if c.Area != "" {
				line += " _(" + markdownEscape(c.Area) + ")_"
			}
			sb.WriteString(line + "\n")
		}
		sb.WriteString("\n")
	}
	section("Shipped", approved, "No changes shipped.")
	section("Rolled back before release", reverted, "Nothing was rolled back.")
	return strings.TrimRight(sb.String(), "\n") + "\n"
}

// markdownEscape keeps user text from turning into Markdown markup or HTML.
func markdownEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`, "\n", " ")
	return r.Replace(s)
}
