package postgres_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
)

func TestAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, func(t *testing.T) registry.Store { return MustOpenDB(t) })
}
