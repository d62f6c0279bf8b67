package cert_test

import (
	"github.com/haven-registry/haven/internal/testenv"
	"testing"
)

// sharedTestdata returns ../shared/testdata/<sub> (see testenv.SharedTestdata).
func sharedTestdata(t testing.TB, sub string) string { return testenv.SharedTestdata(t, sub) }
