package sqlite_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/storetest"
)

func TestKeyEpochs(t *testing.T) {
	storetest.RunKeyEpochs(t, func(t *testing.T) storetest.EpochStore { return MustOpenDB(t) })
}
