package main

import (
	"context"
	"errors"
)

// certPresentCommand implements "haven cert present". Placeholder until the
// SD-JWT work lands.
func certPresentCommand(ctx context.Context, env *commandEnv, args []string) error {
	return errors.New("cert present: not implemented yet")
}
