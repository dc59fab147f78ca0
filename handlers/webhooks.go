package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"playgate/models"
)

type webhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
	Format string   `json:"format"`
}

// webhookView shows a webhook without its secret.
type webhookView struct {
	*models.Webhook
	Events []string `json:"events"`
}

func viewWebhook(w *models.Webhook) webhookView {
	return webhookView{Webhook: w, Events: w.EventList()}
}

func validWebhookURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && len(raw) <= 2000
}

func (a *API) createWebhook(c *gin.Context) {
	pid, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req webhookRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Format == "" {
		req.Format = "json"
	}
	fields := map[string]string{}
	if !validWebhookURL(req.URL) {
		fields["url"] = "must be an http or https address without credentials"
	}
	seen := map[string]bool{}
	for _, ev := range req.Events {
		known := false
		for _, k := range models.WebhookEvents {
			known = known || ev == k
		}
		if !known {
			fields["events"] = "must list events among " + strings.Join(models.WebhookEvents, ", ")
		}
		seen[ev] = true
	}
	if len(req.Events) == 0 {
		fields["events"] = "must list at least one of " + strings.Join(models.WebhookEvents, ", ")
	}
	if len(req.Secret) < 16 || len(req.Secret) > 200 {
		fields["secret"] = "must be 16 to 200 characters: the receiver checks signatures with it"
	}
	if req.Format != "json" && req.Format != "slack" {
		fields["format"] = "must be json or slack"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	events := make([]string, 0, len(seen))
	for _, k := range models.WebhookEvents {
		if seen[k] {
			events = append(events, k)
		}
	}
	w := &models.Webhook{ProductID: pid, URL: req.URL, Events: strings.Join(events, ","), Secret: req.Secret, Format: req.Format}
	if err := a.store.CreateWebhook(c.Request.Context(), currentUser(c).ID, w); err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, viewWebhook(w))
}

func (a *API) listWebhooks(c *gin.Context) {
	pid, ok := idParam(c, "id")
	if !ok {
		return
	}
	if _, err := a.store.Product(c.Request.Context(), pid); err != nil {
		a.answer(c, err)
		return
	}
	hooks, err := a.store.Webhooks(c.Request.Context(), pid)
	if err != nil {
		a.answer(c, err)
		return
	}
	out := make([]webhookView, len(hooks))
	for i := range hooks {
		out[i] = viewWebhook(&hooks[i])
	}
	list(c, out, "")
}

func (a *API) deleteWebhook(c *gin.Context) {
	pid, ok := idParam(c, "id")
	if !ok {
		return
	}
	id, ok := idParam(c, "webhook_id")
	if !ok {
		return
	}
	if err := a.store.DeleteWebhook(c.Request.Context(), currentUser(c).ID, pid, id); err != nil {
		a.answer(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) listDeliveries(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	p, ok := pageParams(c)
	if !ok {
		return
	}
	if _, err := a.store.Webhook(c.Request.Context(), id); err != nil {
		a.answer(c, err)
		return
	}
	ds, next, err := a.store.Deliveries(c.Request.Context(), id, p)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, ds, next)
}
