// Package web holds the visitor widget and the operator console: plain
// JavaScript and CSS with no build step, embedded so that `go get` is all a
// shop needs. The chat Server serves them; nothing here is imported by shops
// directly.
package web

import "embed"

// FS holds widget.js, widget.css and console/.
//
//go:embed widget.js widget.css console
var FS embed.FS
