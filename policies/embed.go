// Package policies carries Haven's bundled policy packs, so that the binary
// can serve them without the source tree. Each immediate sub-folder holding a
// pack.yaml is one pack (see internal/policy for the format).
package policies

import (
	"embed"
	"io/fs"
)

// A new pack folder must be added to this list.
//
//go:embed 2021-09 inclusive inclusive-paid
var packs embed.FS

// FS returns the bundled packs: one folder per pack at the root, as
// policy.LoadPacks and policy.NewEngine expect.
func FS() fs.FS { return packs }
