package handlers

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"playgate/models"
	"playgate/store"
)

type voteRequest struct {
	Vote    string `json:"vote"`
	Comment string `json:"comment"`
}

func (a *API) vote(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	var req voteRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if req.Vote != models.VoteKeep && req.Vote != models.VoteRevert {
		fields["vote"] = "must be keep or revert"
	}
	checkName(fields, "comment", req.Comment, false, 1000)
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	v, err := a.store.CastVote(ctx, u.ID, id, req.Vote, req.Comment)
	if err != nil {
		a.answer(c, err)
		return
	}
	a.metrics.votes.Inc()
	c.JSON(http.StatusOK, v)
}

type feedbackRequest struct {
	Kind     string           `json:"kind"`
	Title    string           `json:"title"`
	Body     string           `json:"body"`
	ChangeID *int64           `json:"change_id"`
	Severity *string          `json:"severity"`
	Platform *models.Platform `json:"platform"`
}

// createdFeedback is the 201 answer: the item, and with ?similar=true the
// look-alikes already filed.
type createdFeedback struct {
	*models.Feedback
	Similar *[]store.Similar `json:"similar,omitempty"`
}

// createFeedback files a tester's item. The grant and the build's closing
// date are checked inside the write's transaction (404 without a grant),
// not read beforehand: this is the hottest write path.
func (a *API) createFeedback(c *gin.Context) {
	bid, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req feedbackRequest
	if !bindFeedback(c, &req) {
		return
	}
	var platform models.Platform
	if req.Platform != nil {
		platform = *req.Platform
	}
	fields := models.ValidateFeedback(req.Kind, req.Severity, req.Title, req.Body, platform)
	key := c.GetHeader("Idempotency-Key")
	if len(key) > 200 || !utf8.ValidString(key) {
		fields["Idempotency-Key"] = "must be at most 200 characters of UTF-8 text"
	}
	if req.ChangeID != nil && *req.ChangeID <= 0 {
		fields["change_id"] = "is not a change of this build"
	}
	// The look-alike search costs more than filing the item, so only
	// callers that show it ask for it (the web UI does).
	withSimilar := false
	switch c.Query("similar") {
	case "", "false":
	case "true":
		withSimilar = true
	default:
		fields["similar"] = "must be true or false"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	if req.Kind != models.KindBug {
		req.Severity = nil
	}
	fb, created, err := a.store.CreateFeedback(ctx, store.NewFeedback{BuildID: bid, TesterID: u.ID, ChangeID: req.ChangeID,
		Kind: req.Kind, Severity: req.Severity, Title: strings.TrimSpace(req.Title), Body: req.Body, Platform: platform, IdempotencyKey: key})
	if err != nil {
		a.answer(c, err)
		return
	}
	fb.TesterName = u.Name
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.metrics.feedback.Inc()
	}
	if !withSimilar {
		// c.JSON's bytes, without reflection (fastjson.go).
		c.Data(status, jsonContentType, appendFeedbackJSON(make([]byte, 0, 512), fb))
		return
	}
	similar := []store.Similar{}
	if created && fb.Kind == models.KindBug {
		if similar, err = a.store.SimilarFeedback(ctx, bid, fb.Title, fb.ID); err != nil {
			a.answer(c, err)
			return
		}
	}
	c.JSON(status, createdFeedback{Feedback: fb, Similar: &similar})
}

func (a *API) similarFeedback(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	title := c.Query("title")
	if utf8.RuneCountInString(title) > models.MaxTitle {
		invalid(c, map[string]string{"title": "must be at most 200 characters"})
		return
	}
	items, err := a.store.SimilarFeedback(c.Request.Context(), b.ID, title, 0)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (a *API) listFeedback(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	p, ok := pageParams(c)
	if !ok {
		return
	}
	changeID, ok := optionalID(c, "change_id")
	if !ok {
		return
	}
	f := store.FeedbackFilter{BuildID: b.ID, Kind: c.Query("kind"), Severity: c.Query("severity"), Status: c.Query("status"),
		ChangeID: changeID, Q: c.Query("q"), Page: p}
	fields := map[string]string{}
	if f.Kind != "" && !models.ValidKind(f.Kind) {
		fields["kind"] = "must be one of bug, suggestion, praise, other"
	}
	if f.Severity != "" && models.SeverityRank(f.Severity) == 0 {
		fields["severity"] = "must be one of low, medium, high, critical"
	}
	if f.Status != "" && !models.ValidStatus(f.Status) {
		fields["status"] = "must be one of new, acknowledged, in_progress, resolved, wont_fix, duplicate"
	}
	if utf8.RuneCountInString(f.Q) > 200 {
		fields["q"] = "must be at most 200 characters"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	if u := currentUser(c); u.Role == models.RoleTester {
		f.TesterID = &u.ID
	}
	items, next, err := a.store.ListFeedback(c.Request.Context(), f)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, items, next)
}

// feedbackFor loads a feedback item the current user may read: staff any,
// a tester only their own on a build still granted to them (404 otherwise).
func (a *API) feedbackFor(c *gin.Context, id int64) (*models.Feedback, bool) {
	return a.readableFeedback(c, id, "Feedback")
}

// readableFeedback is feedbackFor answering "<what> not found." when the user
// may not read the item, so a hidden attachment reads like a missing one.
func (a *API) readableFeedback(c *gin.Context, id int64, what string) (*models.Feedback, bool) {
	ctx := c.Request.Context()
	fb, err := a.store.Feedback(ctx, id)
	if err != nil {
		a.answer(c, err)
		return nil, false
	}
	u := currentUser(c)
	if u.Role.Staff() {
		return fb, true
	}
	if fb.TesterID == u.ID {
		granted, err := a.store.ActiveGrant(ctx, fb.BuildID, u.ID)
		if err != nil {
			a.answer(c, err)
			return nil, false
		}
		if granted {
			return fb, true
		}
	}
	notFound(c, what)
	return nil, false
}

// feedbackDetail is one item with its conversation and screenshots.
type feedbackDetail struct {
	*models.Feedback
	Comments    []models.Comment    `json:"comments"`
	Attachments []models.Attachment `json:"attachments"`
}

func (a *API) getFeedback(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	fb, ok := a.feedbackFor(c, id)
	if !ok {
		return
	}
	a.writeFeedbackDetail(c, fb)
}

func (a *API) writeFeedbackDetail(c *gin.Context, fb *models.Feedback) {
	ctx := c.Request.Context()
	comments, err := a.store.Comments(ctx, fb.ID)
	if err != nil {
		a.answer(c, err)
		return
	}
	atts, err := a.store.Attachments(ctx, fb.ID)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, feedbackDetail{Feedback: fb, Comments: comments, Attachments: atts})
}

type triageRequest struct {
	Status      string `json:"status"`
	DuplicateOf *int64 `json:"duplicate_of"`
}

func (a *API) triageFeedback(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req triageRequest
	if !bindJSON(c, &req) {
		return
	}
	if !models.ValidStatus(req.Status) {
		invalid(c, map[string]string{"status": "must be one of new, acknowledged, in_progress, resolved, wont_fix, duplicate"})
		return
	}
	fb, err := a.store.SetFeedbackStatus(c.Request.Context(), currentUser(c).ID, id, req.Status, req.DuplicateOf)
	if err != nil {
		a.answer(c, err)
		return
	}
	a.writeFeedbackDetail(c, fb)
}

type commentRequest struct {
	Body string `json:"body"`
}

func (a *API) addComment(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	fb, ok := a.feedbackFor(c, id)
	if !ok {
		return
	}
	var req commentRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	checkName(fields, "body", req.Body, true, models.MaxBody)
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	u := currentUser(c)
	cm := &models.Comment{FeedbackID: fb.ID, AuthorID: u.ID, Staff: u.Role.Staff(), Body: req.Body}
	if err := a.store.AddComment(c.Request.Context(), cm); err != nil {
		a.answer(c, err)
		return
	}
	cm.AuthorName = u.Name
	c.JSON(http.StatusCreated, cm)
}
