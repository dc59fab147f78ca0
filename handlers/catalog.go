package handlers

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"playgate/models"
	"playgate/store"
)

var (
	slugPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	changeKeyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/#-]{0,63}$`)
)

type productRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

func (a *API) createProduct(c *gin.Context) {
	var req productRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	checkName(fields, "name", req.Name, true, 100)
	if !slugPattern.MatchString(req.Slug) {
		fields["slug"] = "must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	p := &models.Product{Name: strings.TrimSpace(req.Name), Slug: req.Slug}
	if err := a.store.CreateProduct(c.Request.Context(), currentUser(c).ID, p); err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, p)
}

func (a *API) listProducts(c *gin.Context) {
	p, ok := pageParams(c)
	if !ok {
		return
	}
	products, next, err := a.store.Products(c.Request.Context(), p)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, products, next)
}

func (a *API) getProduct(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	p, err := a.store.Product(c.Request.Context(), id)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// policyRequest is a partial policy: absent fields keep their value.
type policyRequest struct {
	MinVotes        *int     `json:"min_votes"`
	RevertThreshold *float64 `json:"revert_threshold"`
	Confidence      *float64 `json:"confidence"`
	BlockSeverity   *string  `json:"block_severity"`
}

func (r *policyRequest) over(p models.Policy) models.Policy {
	if r.MinVotes != nil {
		p.MinVotes = *r.MinVotes
	}
	if r.RevertThreshold != nil {
		p.RevertThreshold = *r.RevertThreshold
	}
	if r.Confidence != nil {
		p.Confidence = *r.Confidence
	}
	if r.BlockSeverity != nil {
		p.BlockSeverity = *r.BlockSeverity
	}
	return p
}

type buildRequest struct {
	Version  string          `json:"version"`
	Notes    string          `json:"notes"`
	Access   *models.Access  `json:"access"`
	ClosesAt json.RawMessage `json:"closes_at"`
	Policy   *policyRequest  `json:"policy"`
}

// parseClosesAt reads an RFC 3339 time or null; set tells whether the field was sent.
func parseClosesAt(raw json.RawMessage, fields map[string]string) (t *time.Time, set bool) {
	if len(raw) == 0 {
		return nil, false
	}
	if string(raw) == "null" {
		return nil, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := time.Parse(time.RFC3339, s); err == nil {
			v = v.UTC()
			return &v, true
		}
	}
	fields["closes_at"] = "must be an RFC 3339 time such as 2026-12-01T18:00:00Z, or null"
	return nil, true
}

func checkAccess(fields map[string]string, acc *models.Access) {
	if acc == nil {
		return
	}
	for k, v := range map[string]string{"access.url": acc.URL, "access.server": acc.Server, "access.key": acc.Key} {
		if utf8.RuneCountInString(v) > 2000 {
			fields[k] = "must be at most 2000 characters"
		}
	}
	if utf8.RuneCountInString(acc.Instructions) > 10000 {
		fields["access.instructions"] = "must be at most 10000 characters"
	}
	if acc.URL != "" && !strings.HasPrefix(acc.URL, "https://") && !strings.HasPrefix(acc.URL, "http://") {
		fields["access.url"] = "must be an http or https address"
	}
}

func (a *API) createBuild(c *gin.Context) {
	productID, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req buildRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	checkName(fields, "version", req.Version, true, 64)
	checkName(fields, "notes", req.Notes, false, 10000)
	checkAccess(fields, req.Access)
	closes, _ := parseClosesAt(req.ClosesAt, fields)
	policy := models.DefaultPolicy()
	if req.Policy != nil {
		policy = req.Policy.over(policy)
	}
	for k, v := range policy.Validate() {
		fields[k] = v
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	b := &models.Build{ProductID: productID, Version: strings.TrimSpace(req.Version), Notes: req.Notes, ClosesAt: closes, Policy: policy}
	if req.Access != nil {
		b.Access = *req.Access
	}
	if err := a.store.CreateBuild(c.Request.Context(), currentUser(c).ID, b); err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, b)
}

type buildPatchRequest struct {
	Notes    *string         `json:"notes"`
	Access   *models.Access  `json:"access"`
	ClosesAt json.RawMessage `json:"closes_at"`
	Policy   *policyRequest  `json:"policy"`
}

func (a *API) updateBuild(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req buildPatchRequest
	if !bindJSON(c, &req) {
		return
	}
	b, err := a.store.Build(c.Request.Context(), id)
	if err != nil {
		a.answer(c, err)
		return
	}
	fields := map[string]string{}
	patch := store.BuildPatch{Notes: req.Notes, Access: req.Access}
	if req.Notes != nil {
		checkName(fields, "notes", *req.Notes, false, 10000)
	}
	checkAccess(fields, req.Access)
	if closes, set := parseClosesAt(req.ClosesAt, fields); set {
		patch.ClosesAt = &closes
	}
	if req.Policy != nil {
		p := req.Policy.over(b.Policy)
		for k, v := range p.Validate() {
			fields[k] = v
		}
		patch.Policy = &p
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	b, err = a.store.UpdateBuild(c.Request.Context(), currentUser(c).ID, id, patch)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (a *API) listBuilds(c *gin.Context) {
	p, ok := pageParams(c)
	if !ok {
		return
	}
	productID, ok := optionalID(c, "product_id")
	if !ok {
		return
	}
	f := store.BuildFilter{ProductID: productID, Page: p}
	if u := currentUser(c); u.Role == models.RoleTester {
		f.TesterID = &u.ID
	}
	builds, next, err := a.store.Builds(c.Request.Context(), f)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, builds, next)
}

// buildFor loads the build in path parameter name if the current user may
// read it: staff any build, testers only the ones granted to them (404 for
// the rest, so other builds' existence stays hidden).
func (a *API) buildFor(c *gin.Context, name string) (*models.Build, bool) {
	id, ok := idParam(c, name)
	if !ok {
		return nil, false
	}
	return a.buildByID(c, id)
}

func (a *API) buildByID(c *gin.Context, id int64) (*models.Build, bool) {
	ctx := c.Request.Context()
	u := currentUser(c)
	if !u.Role.Staff() {
		granted, err := a.store.ActiveGrant(ctx, id, u.ID)
		if err != nil {
			a.answer(c, err)
			return nil, false
		}
		if !granted {
			notFound(c, "Build")
			return nil, false
		}
	}
	b, err := a.store.Build(ctx, id)
	if err != nil {
		a.answer(c, err)
		return nil, false
	}
	return b, true
}

func (a *API) getBuild(c *gin.Context) {
	if b, ok := a.buildFor(c, "id"); ok {
		c.JSON(http.StatusOK, b)
	}
}

type changeRequest struct {
	Key         string `json:"key"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Area        string `json:"area"`
}

func (a *API) createChange(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	var req changeRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if !changeKeyPattern.MatchString(req.Key) {
		fields["key"] = "must be 1-64 letters, digits or . _ / # - (e.g. PG-142)"
	}
	checkName(fields, "title", req.Title, true, 200)
	checkName(fields, "description", req.Description, false, 10000)
	checkName(fields, "area", req.Area, false, 100)
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	if b.Stage != models.StageQC && b.Stage != models.StageStaging {
		fail(c, http.StatusConflict, "conflict", "This build has shipped: its change list is closed.")
		return
	}
	ch := &models.Change{BuildID: b.ID, Key: req.Key, Title: strings.TrimSpace(req.Title), Description: req.Description, Area: req.Area}
	if err := a.store.CreateChange(c.Request.Context(), currentUser(c).ID, ch); err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, changeView{Change: ch})
}

// changeView is a change as the API shows it: testers also see their vote.
type changeView struct {
	*models.Change
	Evidence json.RawMessage `json:"evidence"`
	MyVote   json.RawMessage `json:"my_vote,omitempty"`
}

func viewChange(ch *models.Change) changeView {
	v := changeView{Change: ch}
	if ch.Evidence != nil {
		v.Evidence = json.RawMessage(*ch.Evidence)
	}
	return v
}

func (a *API) listChanges(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	p, ok := pageParams(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	changes, next, err := a.store.ChangesPage(ctx, b.ID, p)
	if err != nil {
		a.answer(c, err)
		return
	}
	var mine map[int64]string
	u := currentUser(c)
	if u.Role == models.RoleTester {
		if mine, err = a.store.MyVotes(ctx, b.ID, u.ID); err != nil {
			a.answer(c, err)
			return
		}
	}
	out := make([]changeView, len(changes))
	for i := range changes {
		out[i] = viewChange(&changes[i])
		if mine != nil {
			out[i].MyVote = json.RawMessage("null")
			if v, voted := mine[changes[i].ID]; voted {
				out[i].MyVote = json.RawMessage(`"` + v + `"`)
			}
		}
	}
	list(c, out, next)
}
