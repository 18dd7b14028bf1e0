package main

import (
	"fmt"
	"io/fs"
	"regexp"
)

// currency is the shop's only currency; prices are in its minor unit.
const currency = "EUR"

// product is one item of the catalogue.
type product struct {
	Slug        string // URL-safe id: /product/<slug>
	Name        string
	PriceCents  int64
	Description string
	// Image is the product picture's path under the shop, filled in by
	// newShop: /static/products/<slug>.svg if embedded, else a placeholder.
	Image string
}

// catalogue is the demo shop's default range: a small coffee and tea shop.
func catalogue() []product {
	return []product{
		{Slug: "house-blend", Name: "House Blend Coffee, 250 g", PriceCents: 950,
			Description: "Our everyday espresso blend from Brazil and Guatemala: chocolate, hazelnut, a hint of caramel. Roasted every Tuesday."},
		{Slug: "ethiopia-yirgacheffe", Name: "Ethiopia Yirgacheffe, 250 g", PriceCents: 1390,
			Description: "A washed single origin for filter brewing, bright with bergamot, jasmine and stone fruit."},
		{Slug: "colombia-decaf", Name: "Colombia Decaf, 250 g", PriceCents: 1150,
			Description: "Sugar-cane decaffeinated Colombian beans with a round body and notes of red apple and milk chocolate."},
		{Slug: "sencha", Name: "Sencha Green Tea, 100 g tin", PriceCents: 890,
			Description: "Steamed Japanese green tea with a fresh, grassy sweetness. Brew at 70 °C for one minute."},
		{Slug: "earl-grey", Name: "Earl Grey Supreme, 100 g tin", PriceCents: 790,
			Description: "Ceylon black tea scented with Calabrian bergamot and a few cornflower petals."},
		{Slug: "chamomile", Name: "Chamomile Blossoms, 50 g tin", PriceCents: 650,
			Description: "Whole Egyptian chamomile flowers, caffeine free, honeyed and calming for the evening."},
		{Slug: "stoneware-mug", Name: "Stoneware Mug, 350 ml", PriceCents: 1600,
			Description: "Hand-glazed in a small Portuguese workshop; every mug is a little different. Dishwasher safe."},
		{Slug: "pour-over-dripper", Name: "Ceramic Pour-Over Dripper", PriceCents: 2400,
			Description: "A classic cone dripper for one to two cups. Fits size 02 paper filters."},
		{Slug: "gooseneck-kettle", Name: "Gooseneck Kettle, 1 l", PriceCents: 5900,
			Description: "Stainless steel kettle with a slim spout for a slow, even pour. Works on gas, electric and induction."},
		{Slug: "hand-grinder", Name: "Burr Hand Grinder", PriceCents: 7900,
			Description: "Conical steel burrs with 30 click settings, from espresso to French press. Grinds 20 g in under a minute."},
		{Slug: "paper-filters", Name: "Paper Filters, size 02 (100)", PriceCents: 450,
			Description: "Unbleached, oxygen-whitened filter papers for cone drippers. Rinse before brewing."},
		{Slug: "tasting-box", Name: "Tasting Gift Box", PriceCents: 3900,
			Description: "Three 100 g coffees and two teas picked by our roasters each month, in a box ready to give."},
	}
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// indexCatalogue checks products and fills in their images from static.
func indexCatalogue(products []product, static fs.FS) ([]product, map[string]*product, error) {
	list := make([]product, len(products))
	copy(list, products)
	bySlug := make(map[string]*product, len(list))
	for i := range list {
		p := &list[i]
		if !slugRE.MatchString(p.Slug) {
			return nil, nil, fmt.Errorf("product %q: slug must be lowercase letters, digits and dashes", p.Slug)
		}
		if bySlug[p.Slug] != nil {
			return nil, nil, fmt.Errorf("product %q listed twice", p.Slug)
		}
		if p.Name == "" || p.PriceCents <= 0 {
			return nil, nil, fmt.Errorf("product %q needs a name and a positive price", p.Slug)
		}
		if p.Image == "" {
			p.Image = "/static/products/placeholder.svg"
			if _, err := fs.Stat(static, "products/"+p.Slug+".svg"); err == nil {
				p.Image = "/static/products/" + p.Slug + ".svg"
			}
		}
		bySlug[p.Slug] = p
	}
	return list, bySlug, nil
}

// money formats cents as euros, e.g. "€1,234.50".
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	euros := fmt.Sprint(cents / 100)
	for i := len(euros) - 3; i > 0; i -= 3 {
		euros = euros[:i] + "," + euros[i:]
	}
	return fmt.Sprintf("%s€%s.%02d", sign, euros, cents%100)
}
