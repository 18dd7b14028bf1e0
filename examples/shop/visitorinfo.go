package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopchat/chat"
)

// linkCart remembers which cart the chat visitor of a shop page (resolved
// by middleware.Track) shops with, so that the chat's hooks below find an
// anonymous visitor's cart, which the shop keys by its own session.
func (s *shop) linkCart(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := chat.VisitorFrom(r.Context()); v != nil {
			if ss, ok := s.readSession(r); ok {
				s.carts.link(v.ID, ss.cartKey())
			}
		}
		next.ServeHTTP(w, r)
	})
}

// visitorCart returns the key of v's cart: a logged-in customer's by
// customer id, an anonymous visitor's as linkCart saw it.
func (s *shop) visitorCart(v *chat.Visitor) (string, bool) {
	if c := findCustomer(v.CustomerID); c != nil {
		return "customer:" + c.ID, true
	}
	return s.carts.keyOf(v.ID)
}

// cannedVariables is the chat Config.CannedVariables hook: the shop's own
// variables in canned responses ({customer.first_name}, {cart.total}).
// Every variable always has a value, so a response never goes out with a
// placeholder in it.
func (s *shop) cannedVariables(ctx context.Context, v *chat.Visitor) map[string]string {
	name := v.Name
	if c := findCustomer(v.CustomerID); c != nil {
		name = c.Name
	}
	first, _, _ := strings.Cut(strings.TrimSpace(name), " ")
	var total int64
	if key, ok := s.visitorCart(v); ok {
		total = s.cartView(key).TotalCents
	}
	return map[string]string{
		"customer.first_name": orDefault(first, "there"),
		"cart.total":          money(total),
	}
}

// visitorInfo is the chat Config.VisitorInfo hook: what the operator's side
// panel and live visitor list show about a visitor. Anonymous visitors get
// their cart (through linkCart); logged-in customers, whom /login binds to
// the chat visitor with Identify, also their account and orders.
func (s *shop) visitorInfo(ctx context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
	info := &chat.VisitorInfo{Currency: currency}
	c := findCustomer(v.CustomerID)
	if v.CustomerID != "" && c == nil {
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

	if c != nil {
		info.Sections = append(info.Sections, chat.InfoSection{
			Title: "Customer",
			Rows: []chat.InfoRow{
				{Label: "Name", Value: c.Name},
				{Label: "Email", Value: c.Email},
				{Label: "Account", Value: c.ID},
			},
		})
	}

	cartSec := chat.InfoSection{Title: "Cart"}
	if key, ok := s.visitorCart(v); ok {
		cart := s.cartView(key)
		info.CartValue = cart.TotalCents
		for _, l := range cart.Lines {
			cartSec.Rows = append(cartSec.Rows, chat.InfoRow{
				Label: l.Product.Name,
				Value: fmt.Sprintf("%d × %s = %s", l.Qty, money(l.Product.PriceCents), money(l.LineCents)),
				URL:   link("/product/" + l.Product.Slug),
			})
		}
		if len(cart.Lines) > 0 {
			cartSec.Rows = append(cartSec.Rows, chat.InfoRow{Label: "Total", Value: money(cart.TotalCents)})
		}
	}
	if len(cartSec.Rows) == 0 {
		cartSec.Rows = []chat.InfoRow{{Label: "Empty"}}
	}
	info.Sections = append(info.Sections, cartSec)
	if c == nil {
		info.Labels = []string{"guest"}
		return info, nil
	}

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
			Value: fmt.Sprintf("%s · %d item(s) · %s · %s", o.CreatedAt.Format("2 Jan 2006"), n, money(o.TotalCents), o.ChannelLabel()),
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
