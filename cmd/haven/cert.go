package main

import (
	"context"
	"errors"
)

// certCommand implements "haven cert …". Placeholder until its issue lands.
func certCommand(ctx context.Context, env *commandEnv, args []string) error {
	return errors.New("cert: not implemented yet")
}
