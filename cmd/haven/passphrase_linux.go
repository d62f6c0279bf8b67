package main

import "golang.org/x/sys/unix"

// echoOff turns off the echo of the terminal fd, keeping line editing and
// signals (as golang.org/x/term's ReadPassword does), and returns the
// function that restores the terminal's previous settings. It fails when fd
// is not a terminal.
func echoOff(fd int) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO | unix.ECHONL
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() error { return unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
