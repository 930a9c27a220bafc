package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Subscription is one HTTP callback subscription to the framework's events
// (Marathon's /v2/eventSubscriptions).
type Subscription struct {
	// CallbackURL is where the events are POSTed; it identifies the
	// subscription.
	CallbackURL string
	// ClientIP is the address the subscription was made from.
	ClientIP  string
	CreatedAt time.Time
}

// Subscriptions returns every callback subscription, oldest first.
func (s *Store) Subscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT callback_url, client_ip, created_at FROM services.event_subscriptions
		ORDER BY created_at, callback_url`)
	if err != nil {
		return nil, fmt.Errorf("listing event subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscription, error) {
		var sub Subscription
		err := row.Scan(&sub.CallbackURL, &sub.ClientIP, &sub.CreatedAt)
		sub.CreatedAt = sub.CreatedAt.UTC()
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing event subscriptions: %w", err)
	}
	return subs, nil
}

// Subscribe stores a callback subscription for url (not empty), made from
// clientIP. Subscribing a URL again keeps its first creation time and
// records the new client address: it is idempotent.
func (s *Store) Subscribe(ctx context.Context, url, clientIP string) error {
	if url == "" {
		return fmt.Errorf("storing event subscription: empty callback URL: %w", ErrInvalid)
	}
	return s.write(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `
			INSERT INTO services.event_subscriptions (callback_url, client_ip) VALUES ($1, $2)
			ON CONFLICT (callback_url) DO UPDATE SET client_ip = excluded.client_ip`,
			url, clientIP)
		if err != nil {
			return fmt.Errorf("storing event subscription %q: %w", url, err)
		}
		return nil
	})
}

// Unsubscribe removes the callback subscription of url and reports
// whether there was one.
func (s *Store) Unsubscribe(ctx context.Context, url string) (bool, error) {
	var removed bool
	err := s.write(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `DELETE FROM services.event_subscriptions WHERE callback_url = $1`, url)
		if err != nil {
			return fmt.Errorf("deleting event subscription %q: %w", url, err)
		}
		removed = tag.RowsAffected() > 0
		return nil
	})
	return removed, err
}
