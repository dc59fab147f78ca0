package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"playgate/models"
	"playgate/store"
)

// reportLine is one change of a report: its votes, shares, open bugs and
// the rollback rule's verdict.
type reportLine struct {
	Change changeView `json:"change"`
	models.Assessment
}

type reportTotals struct {
	Feedback       int             `json:"feedback"`
	Bugs           models.OpenBugs `json:"bugs"`
	TestersGranted int64           `json:"testers_granted"`
	TestersActive  int64           `json:"testers_active"`
}

type report struct {
	Build    *models.Build    `json:"build"`
	Policy   models.Policy    `json:"policy"`
	Totals   reportTotals     `json:"totals"`
	Changes  []reportLine     `json:"changes"`
	Timeline []store.DayCount `json:"timeline"`
}

func (a *API) report(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	body, err := a.reports.get(a.store, id, func() ([]byte, error) { return a.renderReport(c, id) })
	if err != nil {
		a.answer(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// renderReport reads a build's report and renders it as JSON (staff only:
// the route allows no tester).
func (a *API) renderReport(c *gin.Context, id int64) ([]byte, error) {
	d, err := a.store.Report(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	r := report{Build: &d.Build, Policy: d.Build.Policy, Timeline: d.Timeline, Changes: make([]reportLine, len(d.Changes)),
		Totals: reportTotals{Feedback: d.Build.FeedbackCount, TestersGranted: d.TestersGranted, TestersActive: d.TestersActive,
			Bugs: models.OpenBugs{Low: d.Build.BugsLow, Medium: d.Build.BugsMedium, High: d.Build.BugsHigh, Critical: d.Build.BugsCritical}}}
	for i := range d.Changes {
		ch := &d.Changes[i]
		r.Changes[i] = reportLine{Change: viewChange(ch), Assessment: models.FlagChange(d.Build.Policy, ch.Votes(), ch.OpenBugs())}
	}
	return json.Marshal(r)
}

// reportCache keeps each build's report as rendered, with the store's data
// version it was read at: until the next commit, every staff member asking
// gets those bytes, and while one request renders a report, the others
// asking for the same build wait for it rather than render it again. The
// reports come from aggregates kept on write, so a miss is cheap too; the
// cache is for dashboards polling during a busy playtest. No cache on
// PostgreSQL, where other replicas commit too.
type reportCache struct {
	mu     sync.Mutex
	builds map[int64]*cachedReport
}

type cachedReport struct {
	mu      sync.Mutex
	version uint64
	body    []byte
}

// maxCachedReports bounds the cache; when full it starts again empty.
const maxCachedReports = 64

func (rc *reportCache) get(st *store.Store, id int64, render func() ([]byte, error)) ([]byte, error) {
	version, ok := st.DataVersion()
	if !ok {
		return render()
	}
	rc.mu.Lock()
	if rc.builds == nil || len(rc.builds) >= maxCachedReports {
		rc.builds = map[int64]*cachedReport{}
	}
	e := rc.builds[id]
	if e == nil {
		e = &cachedReport{}
		rc.builds[id] = e
	}
	rc.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	// A report rendered while this request waited is newer than it needs.
	if e.body != nil && e.version >= version {
		return e.body, nil
	}
	version, _ = st.DataVersion() // read before the data
	body, err := render()
	if err != nil {
		return nil, err
	}
	e.version, e.body = version, body
	return body, nil
}

func (a *API) gate(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	b, blockers, err := a.store.Gate(c.Request.Context(), id)
	if err != nil {
		a.answer(c, err)
		return
	}
	var to *models.Stage
	if next, ok := models.NextStage(b.Stage); ok {
		to = &next
	}
	c.JSON(http.StatusOK, gin.H{"build_id": b.ID, "stage": b.Stage, "to": to, "ok": to != nil && len(blockers) == 0, "blockers": blockers})
}

type decisionRequest struct {
	Decision models.ChangeStatus `json:"decision"`
	Note     string              `json:"note"`
}

func (a *API) decide(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req decisionRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if req.Decision != models.ChangeApproved && req.Decision != models.ChangeReverted {
		fields["decision"] = "must be approved or reverted"
	}
	req.Note = strings.TrimSpace(req.Note)
	if utf8.RuneCountInString(req.Note) > 2000 {
		fields["note"] = "must be at most 2000 characters"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	ch, err := a.store.Decide(c.Request.Context(), currentUser(c).ID, id, req.Decision, req.Note)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, viewChange(ch))
}

type promoteRequest struct {
	To models.Stage `json:"to"`
}

func (a *API) promote(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req promoteRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.To != models.StageStaging && req.To != models.StageProduction {
		invalid(c, map[string]string{"to": "must be staging or production"})
		return
	}
	b, err := a.store.Promote(c.Request.Context(), currentUser(c).ID, id, req.To)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) rollback(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	if c.Request.ContentLength > 0 {
		var empty struct{}
		if !bindJSON(c, &empty) {
			return
		}
	}
	p, err := a.store.Rollback(c.Request.Context(), currentUser(c).ID, id)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (a *API) releaseNotes(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	p, err := a.store.Product(ctx, b.ProductID)
	if err != nil {
		a.answer(c, err)
		return
	}
	changes, err := a.store.Changes(ctx, b.ID)
	if err != nil {
		a.answer(c, err)
		return
	}
	approved, reverted := []models.Change{}, []models.Change{}
	for _, ch := range changes {
		switch ch.Status {
		case models.ChangeApproved:
			approved = append(approved, ch)
		case models.ChangeReverted:
			reverted = append(reverted, ch)
		}
	}
	md := models.ReleaseNotes(p.Name, b, approved, reverted)
	switch c.DefaultQuery("format", "json") {
	case "markdown":
		c.Data(http.StatusOK, "text/markdown; charset=utf-8", []byte(md))
	case "json":
		views := func(cs []models.Change) []changeView {
			out := make([]changeView, len(cs))
			for i := range cs {
				out[i] = viewChange(&cs[i])
			}
			return out
		}
		c.JSON(http.StatusOK, gin.H{"build_id": b.ID, "version": b.Version, "approved": views(approved), "reverted": views(reverted), "markdown": md})
	default:
		invalid(c, map[string]string{"format": "must be json or markdown"})
	}
}
