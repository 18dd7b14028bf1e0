package main

import (
	"context"
	"fmt"

	"github.com/shopchat/chat"
)

// visitorInfo is the chat Config.VisitorInfo hook: what the operator's side
// panel shows about the visitor they are talking to.
//
// It can only find a cart through Visitor.CustomerID. The chat's visitor
// cookie ("shopchat_visitor") has Path=/chat/, so the browser never sends it
// to the shop's own pages: a shop page cannot tell which chat visitor is
// looking at it, and an anonymous visitor's cart (keyed by the shop's
// session cookie) cannot be linked to their chat. Logged-in customers'
// carts are keyed by customer id, which /login also binds to the chat
// visitor with Identify, so for them the panel shows cart and orders. A
// later release adds middleware.Track, which resolves the chat visitor on
// every page; then anonymous carts can be shown too.
func (s *shop) visitorInfo(ctx context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
	info := &chat.VisitorInfo{Currency: currency}
	if v.CustomerID == "" {
		info.Labels = []string{"guest"}
		info.Sections = []chat.InfoSection{{
			Title: "Cart",
			Rows:  []chat.InfoRow{{Label: "No cart data for anonymous visitors", Value: "ask them to log in, or for the product names"}},
		}}
		return info, nil
	}
	c := findCustomer(v.CustomerID)
	if c == nil {
		info.Labels = []string{"unknown customer " + v.CustomerID}
		return info, nil
	}
	base, _ := s.baseURL() // "" without one: rows then carry no links
	link := func(path string) string {
		if base == "" {
			return ""
		}
		return base + path
	}

	info.Sections = append(info.Sections, chat.InfoSection{
		Title: "Customer",
		Rows: []chat.InfoRow{
			{Label: "Name", Value: c.Name},
			{Label: "Email", Value: c.Email},
			{Label: "Account", Value: c.ID},
		},
	})

	cart := s.cartView("customer:" + c.ID)
	info.CartValue = cart.TotalCents
	cartSec := chat.InfoSection{Title: "Cart"}
	for _, l := range cart.Lines {
		cartSec.Rows = append(cartSec.Rows, chat.InfoRow{
			Label: l.Product.Name,
			Value: fmt.Sprintf("%d × %s = %s", l.Qty, money(l.Product.PriceCents), money(l.LineCents)),
			URL:   link("/product/" + l.Product.Slug),
		})
	}
	if len(cart.Lines) == 0 {
		cartSec.Rows = []chat.InfoRow{{Label: "Empty"}}
	} else {
		cartSec.Rows = append(cartSec.Rows, chat.InfoRow{Label: "Total", Value: money(cart.TotalCents)})
	}
	info.Sections = append(info.Sections, cartSec)

	orders := s.orders.byCustomer(c.ID)
	ordSec := chat.InfoSection{Title: "Orders"}
	var spent int64
	for _, o := range orders {
		spent += o.TotalCents
		n := 0
		for _, it := range o.Items {
			n += it.Qty
		}
		ordSec.Rows = append(ordSec.Rows, chat.InfoRow{
			Label: o.ID,
			Value: fmt.Sprintf("%s · %d item(s) · %s", o.CreatedAt.Format("2 Jan 2006"), n, money(o.TotalCents)),
			URL:   link("/order/" + o.ID),
		})
	}
	if len(orders) == 0 {
		ordSec.Rows = []chat.InfoRow{{Label: "No orders yet"}}
	}
	info.Sections = append(info.Sections, ordSec)

	info.Labels = []string{"logged in"}
	switch {
	case len(orders) == 0:
		info.Labels = append(info.Labels, "new customer")
	default:
		info.Labels = append(info.Labels, "returning customer")
	}
	if spent >= 10000 {
		info.Labels = append(info.Labels, "spent "+money(spent))
	}
	return info, nil
}
