//go:build !testclock

package main

import "time"

// clockFor is the clock of the commands: the system's (see
// clock_testclock.go for the test build).
func clockFor() func() time.Time { return time.Now }
