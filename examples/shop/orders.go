package main

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// order is a placed order.
type order struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customer_id,omitempty"` // empty for guest checkout
	Owner      string      `json:"owner"`                 // MAC of the placing session's id: who may view it
	Name       string      `json:"name"`
	Email      string      `json:"email"`
	Address    string      `json:"address"`
	Notes      string      `json:"notes,omitempty"`
	Items      []orderItem `json:"items"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	CreatedAt  time.Time   `json:"created_at"`
	// Channel is chat.ChannelChat when a chat led to the order (then
	// ConversationID and OperatorID say which), else "" (the web shop).
	// Kept on the shop's own order so its pages and exports need no chat
	// lookup.
	Channel        string `json:"channel,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	OperatorID     string `json:"operator_id,omitempty"`
	TriggerID      string `json:"trigger_id,omitempty"`
}

// ChannelLabel is the order's channel as the order page shows it: "chat"
// or "web".
func (o order) ChannelLabel() string {
	if o.Channel == "" {
		return "web"
	}
	return o.Channel
}

// OperatorName is the name of the operator whose chat led to the order.
func (o order) OperatorName() string {
	if op := findOperator(o.OperatorID); op != nil {
		return op.Name
	}
	return o.OperatorID
}

// ShortConversation is the start of the conversation id, enough to find it
// in the console.
func (o order) ShortConversation() string { return o.ConversationID[:min(8, len(o.ConversationID))] }

type orderItem struct {
	Slug       string `json:"slug"`
	Name       string `json:"name"`
	Qty        int    `json:"qty"`
	PriceCents int64  `json:"price_cents"` // per unit, at the time of the order
}

// LineCents is the item's price times its quantity.
func (it orderItem) LineCents() int64 { return it.PriceCents * int64(it.Qty) }

// orderBook keeps orders in memory and, when path is set, in a JSON file
// rewritten atomically (temp file, then rename) after each order. Fine for
// a demo; a real shop has an orders table.
type orderBook struct {
	path string

	mu     sync.Mutex
	orders []*order // oldest first
	byID   map[string]*order
}

func openOrders(path string) (*orderBook, error) {
	b := &orderBook{path: path, byID: map[string]*order{}}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	if err := json.Unmarshal(data, &b.orders); err != nil {
		return nil, fmt.Errorf("orders: %s: %w", path, err)
	}
	for _, o := range b.orders {
		b.byID[o.ID] = o
	}
	return b, nil
}

var orderIDEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// add assigns o an id and its time, and stores it.
func (b *orderBook) add(o *order) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		var raw [5]byte
		rand.Read(raw[:])
		o.ID = "KC-" + orderIDEnc.EncodeToString(raw[:])
		if b.byID[o.ID] == nil {
			break
		}
	}
	o.CreatedAt = time.Now().UTC().Truncate(time.Second)
	b.orders = append(b.orders, o)
	b.byID[o.ID] = o
	if err := b.save(); err != nil {
		b.orders = b.orders[:len(b.orders)-1]
		delete(b.byID, o.ID)
		return err
	}
	return nil
}

func (b *orderBook) save() error {
	if b.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(b.orders, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), filepath.Base(b.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), b.path)
	}
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	return nil
}

// get returns a copy of the order with this id.
func (b *orderBook) get(id string) (order, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.byID[id]
	if o == nil {
		return order{}, false
	}
	return *o, true
}

// byCustomer returns copies of a customer's orders, newest first.
func (b *orderBook) byCustomer(customerID string) []order {
	b.mu.Lock()
	defer b.mu.Unlock()
	var list []order
	for _, o := range slices.Backward(b.orders) {
		if o.CustomerID == customerID {
			list = append(list, *o)
		}
	}
	return list
}
