// Package static holds the web UI, embedded into the binary.
package static

import "embed"

// Files is the web UI: index.html, the ES modules, styles and vendored assets.
//
//go:embed all:ui
var Files embed.FS
