//go:build !linux

package main

import "errors"

// echoOff is only implemented on Linux; elsewhere a passphrase typed on a
// terminal is echoed.
func echoOff(fd int) (restore func() error, err error) {
	return nil, errors.New("turning echo off is not supported on this system")
}
