package main

import (
	"context"
	"errors"
)

// forecastCommand implements "haven forecast …". Placeholder until its issue lands.
func forecastCommand(ctx context.Context, env *commandEnv, args []string) error {
	return errors.New("forecast: not implemented yet")
}
