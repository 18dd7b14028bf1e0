// Package web holds the visitor widget and the operator console: plain
// JavaScript and CSS with no build step, embedded so that `go get` is all a
// shop needs. The chat Server serves them; nothing here is imported by shops
// directly.
package web

import "embed"

// FS holds widget.js, widget.css and console/: the console's page, its
// stylesheet and its ES modules (console.js is the entry the page loads as
// a module script; it imports the others).
//
//go:embed widget.js widget.css console
var FS embed.FS
