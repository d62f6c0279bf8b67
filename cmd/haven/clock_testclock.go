//go:build testclock

package main

import (
	"os"
	"time"
)

// clockFor is the clock of a binary built with -tags testclock, for tests
// of clocks that are wrong: HAVEN_TEST_CLOCK_OFFSET (a Go duration such as
// "-48h") moves it. Production binaries have no such setting.
func clockFor() func() time.Time {
	d, err := time.ParseDuration(os.Getenv("HAVEN_TEST_CLOCK_OFFSET"))
	if err != nil || d == 0 {
		return time.Now
	}
	return func() time.Time { return time.Now().Add(d) }
}
