package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// CreateWebhook subscribes a URL to a product's events.
func (s *Store) CreateWebhook(ctx context.Context, actor int64, w *models.Webhook) error {
	w.CreatedBy, w.CreatedAt = actor, s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&models.Product{}).Where("id = ?", w.ProductID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return problem(ErrNotFound, "Product not found.")
		}
		if err := tx.Create(w).Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "webhook.created", "webhook", w.ID, map[string]any{"product_id": w.ProductID, "url": w.URL, "events": w.EventList()})
	})
}

// Webhooks lists a product's live webhooks.
func (s *Store) Webhooks(ctx context.Context, productID int64) ([]models.Webhook, error) {
	out := []models.Webhook{}
	err := s.read(ctx).Where("product_id = ? AND deleted_at IS NULL", productID).Order("id").Find(&out).Error
	return out, err
}

// Webhook loads one live webhook.
func (s *Store) Webhook(ctx context.Context, id int64) (*models.Webhook, error) {
	var w models.Webhook
	if err := s.read(ctx).Where("deleted_at IS NULL").First(&w, id).Error; err != nil {
		return nil, notFound(err, "Webhook")
	}
	return &w, nil
}

// DeleteWebhook stops a webhook; its pending deliveries are dropped.
func (s *Store) DeleteWebhook(ctx context.Context, actor, productID, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&models.Webhook{}).Where("id = ? AND product_id = ? AND deleted_at IS NULL", id, productID).Update("deleted_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return problem(ErrNotFound, "Webhook not found.")
		}
		if err := tx.Model(&models.OutboxItem{}).Where("webhook_id = ? AND delivered_at IS NULL AND failed_at IS NULL", id).Update("failed_at", now).Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "webhook.deleted", "webhook", id, nil)
	})
}

// Deliveries lists a webhook's delivery attempts, newest first.
func (s *Store) Deliveries(ctx context.Context, webhookID int64, p Page) ([]models.Delivery, string, error) {
	var out []models.Delivery
	next, err := keyset(s.read(ctx).Model(&models.Delivery{}).Where("webhook_id = ?", webhookID), p, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}

// hook queues event for every webhook of the build's product that wants
// it, inside the caller's transaction: the outbox row commits with the
// change, or not at all.
func (s *Store) hook(tx *gorm.DB, buildID int64, event string, payload map[string]any) error {
	var b models.Build
	if err := tx.Select("id", "product_id", "version").First(&b, buildID).Error; err != nil {
		return err
	}
	return s.hookProduct(tx, b.ProductID, &b, event, payload)
}

func (s *Store) hookProduct(tx *gorm.DB, productID int64, b *models.Build, event string, payload map[string]any) error {
	var hooks []models.Webhook
	if err := tx.Where("product_id = ? AND deleted_at IS NULL", productID).Find(&hooks).Error; err != nil {
		return err
	}
	var wanted []models.Webhook
	for _, h := range hooks {
		if h.Wants(event) {
			wanted = append(wanted, h)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	var p models.Product
	if err := tx.Select("id", "name").First(&p, productID).Error; err != nil {
		return err
	}
	now := s.now()
	payload["event"], payload["at"], payload["product_id"], payload["product"] = event, now.Format(time.RFC3339), p.ID, p.Name
	if b != nil {
		payload["build_id"], payload["version"] = b.ID, b.Version
	}
	doc, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	for _, h := range wanted {
		item := models.OutboxItem{WebhookID: h.ID, Event: event, Payload: string(doc), CreatedAt: now, NextAttemptAt: now}
		if err := tx.Create(&item).Error; err != nil {
			return err
		}
	}
	// Set before the commit: a commit of another write may take it first
	// and wake the worker too early (PostgreSQL); its poll then finds it.
	s.outboxQueued.Store(true)
	return nil
}

// Pending is an outbox item due for delivery, with its webhook.
type Pending struct {
	Item    models.OutboxItem
	Webhook models.Webhook
}

// DueDeliveries leases up to limit due outbox items for lease: another
// worker (or replica) skips them until the lease ends, so an item is sent
// by one worker at a time, and a crashed worker's items come back.
func (s *Store) DueDeliveries(ctx context.Context, limit int, lease time.Duration) ([]Pending, error) {
	now := s.now()
	var items []models.OutboxItem
	err := s.read(ctx).Where("delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?", now).
		Order("next_attempt_at, id").Limit(limit).Find(&items).Error
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, it := range items {
		res := s.w.WithContext(ctx).Model(&models.OutboxItem{}).Where("id = ? AND next_attempt_at = ? AND delivered_at IS NULL AND failed_at IS NULL", it.ID, it.NextAttemptAt).
			Update("next_attempt_at", now.Add(lease))
		if res.Error != nil {
			return out, res.Error
		}
		if res.RowsAffected != 1 {
			continue // someone else leased it
		}
		var w models.Webhook
		if err := s.read(ctx).First(&w, it.WebhookID).Error; err != nil {
			return out, err
		}
		out = append(out, Pending{Item: it, Webhook: w})
	}
	return out, nil
}

// RecordDelivery logs an attempt and settles the item: delivered, retried
// at next, or given up when next is nil.
func (s *Store) RecordDelivery(ctx context.Context, it *models.OutboxItem, d *models.Delivery, delivered bool, next *time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		d.OutboxID, d.WebhookID, d.Event, d.At = it.ID, it.WebhookID, it.Event, s.now()
		if err := tx.Create(d).Error; err != nil {
			return err
		}
		up := map[string]any{"attempts": d.Attempt}
		switch {
		case delivered:
			up["delivered_at"] = d.At
		case next != nil:
			up["next_attempt_at"] = *next
		default:
			up["failed_at"] = d.At
		}
		return tx.Model(&models.OutboxItem{}).Where("id = ?", it.ID).Updates(up).Error
	})
}

// OutboxLag is the age of the oldest undelivered item (0 when none).
func (s *Store) OutboxLag(ctx context.Context) (time.Duration, error) {
	var oldest []time.Time
	err := s.read(ctx).Model(&models.OutboxItem{}).Where("delivered_at IS NULL AND failed_at IS NULL").
		Order("created_at").Limit(1).Pluck("created_at", &oldest).Error
	if err != nil || len(oldest) == 0 {
		return 0, err
	}
	return s.now().Sub(oldest[0]), nil
}
