package sqlite

import (
	"context"
	"errors"

	"github.com/shopchat/chat"
)

// STUB: replaced by the store work for the tracking issue.

var errTODO = errors.New("sqlite: not implemented yet")

func (s *Store) AddPageViews(ctx context.Context, views []chat.PageView) error { return errTODO }
func (s *Store) PageViews(ctx context.Context, visitorID string, limit int) ([]chat.PageView, error) {
	return nil, errTODO
}
func (s *Store) AddActivities(ctx context.Context, as []chat.Activity) error { return errTODO }
func (s *Store) Activities(ctx context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	return nil, errTODO
}
func (s *Store) PutOrder(ctx context.Context, o *chat.Order) (*chat.Order, bool, error) {
	return nil, false, errTODO
}
func (s *Store) Orders(ctx context.Context, q chat.OrderQuery) ([]*chat.Order, error) {
	return nil, errTODO
}
func (s *Store) PutCanned(ctx context.Context, c *chat.CannedResponse) error { return errTODO }
func (s *Store) DeleteCanned(ctx context.Context, id string) error           { return errTODO }
func (s *Store) CannedResponses(ctx context.Context, operatorID string) ([]*chat.CannedResponse, error) {
	return nil, errTODO
}
func (s *Store) PutTrigger(ctx context.Context, t *chat.Trigger) error { return errTODO }
func (s *Store) DeleteTrigger(ctx context.Context, id string) error    { return errTODO }
func (s *Store) Triggers(ctx context.Context) ([]*chat.Trigger, error) { return nil, errTODO }
