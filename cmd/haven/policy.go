package main

import (
	"context"
	"errors"
)

// policyCommand implements "haven policy …". Placeholder until its issue lands.
func policyCommand(ctx context.Context, env *commandEnv, args []string) error {
	return errors.New("policy: not implemented yet")
}
