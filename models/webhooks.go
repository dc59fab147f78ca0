package models

import (
	"fmt"
	"strings"
	"time"
)

// Webhook events of the contract.
const (
	EventChangeFlagged     = "change.flagged"
	EventChangeDecided     = "change.decided"
	EventBuildPromoted     = "build.promoted"
	EventProductRolledBack = "product.rolled_back"
	EventFeedbackCritical  = "feedback.critical"
)

// WebhookEvents lists every event a webhook may subscribe to.
var WebhookEvents = []string{EventChangeFlagged, EventChangeDecided, EventBuildPromoted, EventProductRolledBack, EventFeedbackCritical}

// Webhook posts a product's events to a URL, signed with its secret.
type Webhook struct {
	ID        int64      `json:"id" gorm:"primaryKey"`
	ProductID int64      `json:"product_id"`
	URL       string     `json:"url"`
	Events    string     `json:"-"`
	Secret    string     `json:"-"`
	Format    string     `json:"format"`
	CreatedBy int64      `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	DeletedAt *time.Time `json:"-"`
}

// EventList is the webhook's subscribed events.
func (w *Webhook) EventList() []string { return strings.Split(w.Events, ",") }

// Wants reports whether the webhook subscribed to event.
func (w *Webhook) Wants(event string) bool { return oneOf(event, w.EventList()) }

// OutboxItem is one event waiting to be delivered to one webhook; it is
// written in the same transaction as the change that causes it.
type OutboxItem struct {
	ID            int64 `gorm:"primaryKey"`
	WebhookID     int64
	Event         string
	Payload       string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	DeliveredAt   *time.Time
	FailedAt      *time.Time
}

// TableName names the outbox table.
func (OutboxItem) TableName() string { return "outbox" }

// Delivery is one attempt to deliver an outbox item.
type Delivery struct {
	ID         int64     `json:"id" gorm:"primaryKey"`
	OutboxID   int64     `json:"outbox_id"`
	WebhookID  int64     `json:"webhook_id"`
	Event      string    `json:"event"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

// TableName names the deliveries table.
func (Delivery) TableName() string { return "webhook_deliveries" }

// SlackText renders an event as a sentence for Slack and Discord.
func SlackText(event string, p map[string]any) string {
	str := func(k string) string { return fmt.Sprint(p[k]) }
	switch event {
	case EventChangeFlagged:
		return fmt.Sprintf(":warning: %s build %s: change %s %q is flagged for rollback. %s", str("product"), str("version"), str("key"), str("title"), strings.Join(anyStrings(p["reasons"]), " "))
	case EventChangeDecided:
		return fmt.Sprintf(":white_check_mark: %s build %s: change %s %q was %s.", str("product"), str("version"), str("key"), str("title"), str("decision"))
	case EventBuildPromoted:
		return fmt.Sprintf(":rocket: %s build %s was promoted to %s.", str("product"), str("version"), str("stage"))
	case EventProductRolledBack:
		return fmt.Sprintf(":rewind: %s was rolled back from build %s to build %s.", str("product"), str("from_version"), str("to_version"))
	case EventFeedbackCritical:
		return fmt.Sprintf(":rotating_light: %s build %s: a critical bug was filed: %q", str("product"), str("version"), str("title"))
	}
	return event
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = fmt.Sprint(s)
		}
		return out
	}
	return nil
}
