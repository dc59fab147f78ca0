package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// seededFeedbackCols are the columns Seed writes: its items have no
// comments, attachments or staff replies, so those columns keep their
// defaults, and the SQL of a million items is shorter to parse.
var seededFeedbackCols = []string{"id", "build_id", "change_id", "tester_id", "kind", "severity", "title", "body",
	"platform_os", "platform_device", "platform_client_version", "status", "duplicate_of", "idempotency_key",
	"duplicates", "created_at", "updated_at"}

func feedbackValues(fb *models.Feedback) []any {
	return []any{fb.ID, fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body,
		fb.Platform.OS, fb.Platform.Device, fb.Platform.ClientVersion, fb.Status, fb.DuplicateOf, fb.IdempotencyKey,
		fb.CommentCount, fb.AttachmentCount, fb.LastStaffReplyAt, fb.Duplicates, fb.CreatedAt, fb.UpdatedAt}
}

// seedGen makes the data set and keeps its aggregates.
type seedGen struct {
	rng          *rand.Rand
	spec         SeedSpec
	now          time.Time
	slug         string
	builds       []seedBuild
	staffIDs     []int64
	userBase     int64 // testers get ids userBase+1 … userBase+Testers
	nextFeedback int64
	days         map[dayKey]int
	buf          []byte
}

// seedBuild is one build being seeded: its changes' traits, and the
// aggregates of what was written for it.
type seedBuild struct {
	models.Build
	changes  []models.Change // with their vote and open-bug counts
	health   []byte          // per change: 'f' fine, 'c' controversial, 'b' broken
	testers  int             // testers 1…testers are granted
	feedback int
	votes    int
	start    time.Time // testing window
	window   time.Duration
	// Per granted tester (index tester-1): activity, as on grants.
	fbCount, voteCount []int
	lastActive         []time.Time
}

// active notes a tester's feedback or vote at.
func (b *seedBuild) active(t int, at time.Time) {
	if at.After(b.lastActive[t]) {
		b.lastActive[t] = at
	}
}

// catalog writes the product, builds, changes and staff.
func (g *seedGen) catalog(tx *gorm.DB, res *SeedResult) error {
	base := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(g.spec.Product)), "-")
	if base == "" {
		base = "product"
	}
	g.slug = base
	for n := 2; ; n++ {
		var taken int64
		if err := tx.Model(&models.Product{}).Where("slug = ?", g.slug).Count(&taken).Error; err != nil {
			return err
		}
		if taken == 0 {
			break
		}
		g.slug = base + "-" + strconv.Itoa(n)
	}
	p := models.Product{Name: g.spec.Product, Slug: g.slug, CreatedAt: g.now.Add(-60 * 24 * time.Hour)}
	if err := tx.Create(&p).Error; err != nil {
		return err
	}
	for _, role := range []models.Role{models.RoleAdmin, models.RoleReleaseManager, models.RoleProductOwner} {
		u := models.User{Email: string(role) + "@" + g.slug + ".seed.test", Name: seedStaffNames[role], Role: role,
			PasswordHash: g.spec.PasswordHash, CreatedAt: p.CreatedAt}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		g.staffIDs = append(g.staffIDs, u.ID)
		res.Staff = append(res.Staff, u.Email)
	}
	rm := g.staffIDs[1]
	n := g.spec.Builds
	var prev *int64
	for i := 0; i < n; i++ {
		main := i == n-1
		age := time.Duration(n-1-i) * 16 * 24 * time.Hour
		b := seedBuild{start: g.now.Add(-age - 14*24*time.Hour), window: 14 * 24 * time.Hour}
		b.Build = models.Build{ProductID: p.ID, Version: fmt.Sprintf("0.%d.0", 7+i), Stage: models.StageSuperseded,
			Notes: "Playtest build " + strconv.Itoa(i+1) + ".", Policy: models.DefaultPolicy(), CreatedAt: b.start,
			Access: models.Access{URL: "https://dl.example.com/" + g.slug + "/" + strconv.Itoa(i+1) + ".zip", Server: "qc.example.com:7777",
				Key: "QC-" + strconv.Itoa(1000+i), Instructions: "Install, then join the QC server with the key."}}
		b.feedback, b.votes, b.testers = g.spec.Feedback/50, g.spec.Votes/50, max(1, g.spec.Testers*3/5)
		nch := max(1, g.spec.Changes/4)
		if main {
			b.Version, b.Stage = "1.0.0", models.StageQC
			b.feedback, b.votes, b.testers, nch = g.spec.Feedback, g.spec.Votes, g.spec.Testers, g.spec.Changes
		} else {
			promoted := b.start.Add(b.window)
			b.PromotedAt, b.ReplacedBuildID = &promoted, prev
			if i == n-2 {
				b.Stage = models.StageProduction
			}
		}
		if err := tx.Create(&b.Build).Error; err != nil {
			return err
		}
		id := b.ID
		prev = &id
		if b.Stage == models.StageProduction {
			if err := tx.Model(&p).Update("production_build_id", b.ID).Error; err != nil {
				return err
			}
		}
		changes := make([]models.Change, nch)
		b.health = make([]byte, nch)
		for j := range changes {
			area := seedAreas[g.rng.IntN(len(seedAreas))]
			changes[j] = models.Change{BuildID: b.ID, Key: fmt.Sprintf("%s-%d", strings.ToUpper(g.slug[:min(3, len(g.slug))]), 100*(i+1)+j+1),
				Title: seedChangeVerbs[g.rng.IntN(len(seedChangeVerbs))] + " " + area + " " + seedChangeObjects[g.rng.IntN(len(seedChangeObjects))],
				Area:  area, Description: "Changed for this build; tell us whether to keep it.", Status: models.ChangePending, CreatedAt: b.start}
			switch x := g.rng.Float64(); {
			case x < 0.05:
				b.health[j] = 'b'
			case x < 0.15:
				b.health[j] = 'c'
			default:
				b.health[j] = 'f'
			}
			if !main {
				decided := b.start.Add(b.window)
				changes[j].Status, changes[j].DecidedBy, changes[j].DecidedAt = models.ChangeApproved, &rm, &decided
				if b.health[j] != 'f' {
					changes[j].Status, changes[j].Note = models.ChangeReverted, "Reverted after the playtest."
				}
			}
		}
		if err := tx.CreateInBatches(changes, 100).Error; err != nil {
			return err
		}
		b.changes = changes
		g.builds = append(g.builds, b)
		res.BuildIDs = append(res.BuildIDs, b.ID)
		res.Rows["changes"] += int64(nch)
	}
	res.ProductID, res.Slug, res.BuildID = p.ID, g.slug, g.builds[n-1].ID
	res.Testers = "tester{n}@" + g.slug + ".seed.test"
	res.Rows["products"], res.Rows["builds"], res.Rows["users"] = 1, int64(n), 3
	return g.auditSeed(tx, p.ID)
}

// auditSeed records the seeding in the audit log.
func (g *seedGen) auditSeed(tx *gorm.DB, productID int64) error {
	return tx.Create(&models.AuditEvent{At: g.now, ActorID: &g.staffIDs[0], Action: "seed.loaded", SubjectType: "product", SubjectID: &productID,
		Detail: models.JSONText(fmt.Sprintf(`{"feedback":%d,"votes":%d,"changes":%d,"testers":%d}`,
			g.spec.Feedback, g.spec.Votes, g.spec.Changes, g.spec.Testers))}).Error
}

// load writes testers, votes, feedback, grants and the aggregates.
func (g *seedGen) load(l *loader, res *SeedResult) error {
	users := l.table("users", "id", "email", "name", "role", "disabled", "password_hash", "created_at")
	votes := l.table("votes", "change_id", "build_id", "tester_id", "vote", "comment", "created_at", "updated_at")
	fb := l.table("feedback", seededFeedbackCols...)
	grants := l.table("grants", "build_id", "user_id", "created_at", "feedback_count", "vote_count", "last_active_at")
	users.total = g.spec.Testers
	for i := range g.builds {
		b := &g.builds[i]
		b.fbCount, b.voteCount, b.lastActive = make([]int, b.testers), make([]int, b.testers), make([]time.Time, b.testers)
		votes.total += b.votes
		fb.total += b.feedback
		grants.total += b.testers
	}
	for i := 1; i <= g.spec.Testers; i++ {
		name := seedFirst[g.rng.IntN(len(seedFirst))] + " " + seedLast[g.rng.IntN(len(seedLast))]
		if err := users.add(g.userBase+int64(i), "tester"+strconv.Itoa(i)+"@"+g.slug+".seed.test", name, string(models.RoleTester),
			false, g.spec.PasswordHash, g.builds[0].start); err != nil {
			return err
		}
	}
	if err := users.flush(); err != nil { // written before the rows that refer to them
		return err
	}
	for i := range g.builds {
		if err := g.votes(votes, &g.builds[i]); err != nil {
			return err
		}
	}
	for i := range g.builds {
		if err := g.feedback(fb, &g.builds[i]); err != nil {
			return err
		}
	}
	for _, b := range g.builds {
		for t := 0; t < b.testers; t++ {
			var last *time.Time
			if !b.lastActive[t].IsZero() {
				last = &b.lastActive[t]
			}
			if err := grants.add(b.ID, g.userBase+int64(t+1), b.start, b.fbCount[t], b.voteCount[t], last); err != nil {
				return err
			}
		}
	}
	if err := errors.Join(votes.flush(), fb.flush(), grants.flush()); err != nil {
		return err
	}
	for _, b := range g.builds {
		var bugs [4]int
		for _, c := range b.changes {
			err := l.exec(`UPDATE changes SET keep_votes = ?, revert_votes = ?, open_low = ?, open_medium = ?, open_high = ?, open_critical = ?
				WHERE id = ?`, c.KeepVotes, c.RevertVotes, c.OpenLow, c.OpenMedium, c.OpenHigh, c.OpenCritical, c.ID)
			if err != nil {
				return err
			}
		}
		bugs[0], bugs[1], bugs[2], bugs[3] = b.BugsLow, b.BugsMedium, b.BugsHigh, b.BugsCritical
		err := l.exec(`UPDATE builds SET feedback_count = ?, bugs_low = ?, bugs_medium = ?, bugs_high = ?, bugs_critical = ? WHERE id = ?`,
			b.FeedbackCount, bugs[0], bugs[1], bugs[2], bugs[3], b.ID)
		if err != nil {
			return err
		}
	}
	res.Rows["users"] += int64(users.added)
	res.Rows["grants"] = int64(grants.added)
	res.Rows["votes"] = int64(votes.added)
	res.Rows["feedback"] = int64(fb.added)
	return nil
}

// skewed picks from 0…n-1, low indexes far more often (the busy few).
func (g *seedGen) skewed(n int) int {
	u := g.rng.Float64()
	return int(float64(n) * u * u)
}

// votes casts a build's votes: a Zipf-like share per change (the first
// changes draw the crowd), distinct testers per change, busy testers first,
// and a revert share that follows the change's health.
func (g *seedGen) votes(w *tableWriter, b *seedBuild) error {
	nc, nt := len(b.changes), b.testers
	want := min(b.votes, nc*nt)
	weights := make([]float64, nc)
	var sum float64
	for j := range weights {
		weights[j] = 1 / math.Pow(float64(j+1), 0.7)
		sum += weights[j]
	}
	per := make([]int, nc)
	left := want
	for j := range per {
		per[j] = min(nt, int(float64(want)*weights[j]/sum))
		left -= per[j]
	}
	for j := 0; left > 0; j = (j + 1) % nc { // hand out the rounding remainder
		if per[j] < nt {
			per[j]++
			left--
		}
	}
	mark := make([]int32, nt)
	for j := range b.changes {
		c := &b.changes[j]
		revert := map[byte]float64{'f': 0.08, 'c': 0.42, 'b': 0.6}[b.health[j]]
		picked, tries, next := 0, 0, 0
		stamp := int32(j + 1)
		for picked < per[j] {
			t := g.skewed(nt)
			if tries++; tries > 4*per[j] { // nearly everyone voted: take the rest in order
				for mark[next] == stamp {
					next++
				}
				t = next
			}
			if mark[t] == stamp {
				continue
			}
			mark[t] = stamp
			picked++
			v := models.VoteKeep
			if g.rng.Float64() < revert {
				v = models.VoteRevert
				c.RevertVotes++
			} else {
				c.KeepVotes++
			}
			comment := ""
			if g.rng.IntN(10) == 0 {
				comment = seedVoteComments[g.rng.IntN(len(seedVoteComments))]
			}
			at := b.start.Add(time.Duration(g.rng.Int64N(int64(b.window))))
			b.voteCount[t]++
			b.active(t, at)
			if err := w.add(c.ID, b.ID, g.userBase+int64(t+1), v, comment, at, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedWindow is how many items wait before being written, so that
// duplicates filed meanwhile can still be counted on their original.
const seedWindow = 1024

// feedback files a build's items, oldest first, and counts them.
func (g *seedGen) feedback(w *tableWriter, b *seedBuild) error {
	ring := make([]models.Feedback, seedWindow)
	write := func(fb *models.Feedback) error {
		return w.add(fb.ID, fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body,
			fb.Platform.OS, fb.Platform.Device, fb.Platform.ClientVersion, fb.Status, fb.DuplicateOf, fb.IdempotencyKey,
			fb.Duplicates, fb.CreatedAt, fb.UpdatedAt)
	}
	for i := 0; i < b.feedback; i++ {
		slot := &ring[i%seedWindow]
		if i >= seedWindow {
			if err := write(slot); err != nil {
				return err
			}
		}
		g.nextFeedback++
		// Arrivals grow over the window: more players join each day.
		at := b.start.Add(time.Duration(math.Sqrt((float64(i)+g.rng.Float64())/float64(b.feedback)) * float64(b.window)))
		fb := models.Feedback{ID: g.nextFeedback, BuildID: b.ID, CreatedAt: at, UpdatedAt: at,
			Platform: models.Platform{OS: seedOS[g.rng.IntN(len(seedOS))], Device: seedDevices[g.rng.IntN(len(seedDevices))], ClientVersion: b.Version}}
		switch x := g.rng.IntN(100); {
		case x < 55:
			fb.Kind = models.KindBug
		case x < 80:
			fb.Kind = "suggestion"
		case x < 90:
			fb.Kind = "praise"
		default:
			fb.Kind = "other"
		}
		change := -1
		var health byte = 'f'
		if g.rng.IntN(10) < 7 {
			change = min(len(b.changes)-1, int(float64(len(b.changes))*math.Pow(g.rng.Float64(), 2)))
			fb.ChangeID, health = &b.changes[change].ID, b.health[change]
		}
		sev := -1
		if fb.Kind == models.KindBug {
			s := seedSeverities[g.rng.IntN(len(seedSeverities))]
			fb.Severity, sev = &s, models.SeverityRank(s)-1
		}
		fb.Status = seedStatuses[g.rng.IntN(len(seedStatuses))]
		if sev == 3 && health != 'b' && models.Open(fb.Status) {
			fb.Status = "resolved" // critical bugs of healthy changes get fixed quickly
		}
		if fb.Status == models.StatusDuplicate {
			// The original is a recent item still waiting to be written.
			fb.Status = "new"
			for try := 0; try < 3 && i > 0; try++ {
				orig := &ring[(i-1-g.rng.IntN(min(i, seedWindow-1)))%seedWindow]
				if orig.DuplicateOf == nil {
					id := orig.ID // the slot is reused before this item is written
					fb.Status, fb.DuplicateOf = models.StatusDuplicate, &id
					orig.Duplicates++
					break
				}
			}
		}
		if g.rng.IntN(10) < 4 {
			k := strconv.FormatUint(g.rng.Uint64(), 16)
			fb.IdempotencyKey = &k
		}
		fb.Title, fb.Body = g.text(fb.Kind)
		t := g.skewed(b.testers)
		fb.TesterID = g.userBase + int64(t+1)
		// Aggregates, as Recount counts them.
		g.days[dayKey{b.ID, at.UTC().Format(time.DateOnly)}]++
		b.FeedbackCount++
		b.fbCount[t]++
		b.active(t, at)
		if sev >= 0 {
			bump(sev, &b.BugsLow, &b.BugsMedium, &b.BugsHigh, &b.BugsCritical)
			if change >= 0 && models.Open(fb.Status) {
				c := &b.changes[change]
				bump(sev, &c.OpenLow, &c.OpenMedium, &c.OpenHigh, &c.OpenCritical)
			}
		}
		*slot = fb
	}
	for i := max(0, b.feedback-seedWindow); i < b.feedback; i++ {
		if err := write(&ring[i%seedWindow]); err != nil {
			return err
		}
	}
	return nil
}

// bump adds one to the count of severity rank sev (0 low … 3 critical).
func bump(sev int, counts ...*int) { *counts[sev]++ }

// text writes a title and a body for an item of kind.
func (g *seedGen) text(kind string) (string, string) {
	pick := func(list []string) string { return list[g.rng.IntN(len(list))] }
	var title string
	switch kind {
	case models.KindBug:
		title = pick(seedSymptoms) + " when " + pick(seedActions) + " " + pick(seedContexts)
	case "suggestion":
		title = pick(seedWishes) + " " + pick(seedFeatures)
	case "praise":
		title = pick(seedPraise) + " " + pick(seedFeatures)
	default:
		title = "Question about " + pick(seedFeatures)
	}
	b := g.buf[:0]
	if kind == models.KindBug {
		b = append(b, "Steps: "...)
		b = append(b, pick(seedActions)...)
		b = append(b, ' ')
		b = append(b, pick(seedContexts)...)
		b = append(b, ". "...)
	}
	for n := 1 + g.rng.IntN(5); n > 0; n-- {
		b = append(b, pick(seedSentences)...)
		b = append(b, ' ')
	}
	if g.rng.IntN(8) == 0 {
		b = append(b, "Error code E-"...)
		b = strconv.AppendInt(b, int64(1000+g.rng.IntN(9000)), 10)
		b = append(b, '.')
	}
	g.buf = b
	return title, strings.TrimSpace(string(b))
}

var (
	seedStaffNames = map[models.Role]string{models.RoleAdmin: "Ada Admin", models.RoleReleaseManager: "Rhea Release",
		models.RoleProductOwner: "Otto Owner"}
	seedSeverities = []string{"low", "low", "low", "medium", "medium", "medium", "high", "high", "critical"}
	seedStatuses   = []string{"new", "new", "new", "new", "new", "new", "new", "new", "new", "acknowledged", "acknowledged", "acknowledged",
		"in_progress", "in_progress", "resolved", "resolved", "resolved", "wont_fix", "duplicate", "duplicate"}
	seedAreas         = []string{"combat", "inventory", "crafting", "netcode", "audio", "UI", "matchmaking", "economy", "quests", "rendering", "controls", "save system"}
	seedChangeVerbs   = []string{"Rework", "Rebalance", "Speed up", "Simplify", "Replace", "Tune", "Redesign", "Remove"}
	seedChangeObjects = []string{"cooldowns", "loot tables", "tutorial", "camera", "HUD layout", "spawn rules", "difficulty curve", "menus"}
	seedSymptoms      = []string{"Crash", "Freeze", "Stutter", "Frame drops", "Audio desync", "Texture flicker", "Rubber-banding", "Softlock",
		"Missing subtitles", "Wrong tooltip", "Invisible wall", "Clipping through floor", "Save corruption", "Input lag", "Black screen", "Disconnect"}
	seedActions = []string{"opening the inventory", "switching weapons", "entering the harbor district", "loading a save", "joining a squad",
		"crafting a potion", "using the grappling hook", "skipping a cutscene", "alt-tabbing", "changing resolution", "trading with a vendor",
		"respawning", "fast travelling", "sprinting uphill", "opening the map", "reviving a teammate"}
	seedContexts = []string{"after the level 3 cutscene", "on the ice level", "after the boss fight", "in co-op", "with a controller",
		"at 144 Hz", "during the night cycle", "in the desert biome", "with the HD texture pack", "on a fresh profile", "in split screen"}
	seedWishes   = []string{"Please add", "Let us customise", "Consider reworking", "Make it easier to find", "Add an option for"}
	seedPraise   = []string{"Love the new", "Huge improvement to the", "Really enjoying the", "Great job on the"}
	seedFeatures = []string{"photo mode", "crafting menu", "skill tree", "fishing minigame", "map markers", "controller layout",
		"dialogue choices", "weather effects", "soundtrack", "mount system", "base building", "trading post"}
	seedSentences = []string{"Happens 3 of 5 tries on this build.", "Expected: it just works like in the last build.",
		"The game freezes for about two seconds first.", "It started after the last patch.", "Verified on two machines.",
		"Could not reproduce offline.", "My squad saw it too.", "Frame time spikes to 80 ms right before.",
		"The log shows a null reference in the UI layer.", "Restarting the client fixes it for a while.",
		"Feels much better than before, keep it.", "The tooltip still shows the old values.",
		"It is hard to read on a small screen.", "Please keep this for release."}
	seedVoteComments = []string{"Feels better.", "Too punishing now.", "Keep it!", "Breaks my build.", "Not sure yet.", "Revert please."}
	seedOS           = []string{"Windows 11", "Windows 10", "macOS 15", "SteamOS 3.6", "Ubuntu 24.04", "PS5", "Xbox Series X"}
	seedDevices      = []string{"RTX 4070 desktop", "RTX 3060 laptop", "Steam Deck", "RX 7800 XT", "MacBook Pro M3", "Arc A770", "console"}
	seedFirst        = []string{"Alex", "Sam", "Robin", "Kim", "Noor", "Mika", "Jules", "Ari", "Lea", "Tomas", "Yuki", "Ines", "Omar", "Zoe", "Ivan", "Priya"}
	seedLast         = []string{"Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor"}
)
