package main

import (
	"bytes"
	"testing"
)

func TestAddrRedactor(t *testing.T) {
	for _, line := range []string{
		"http: panic serving 192.168.10.22:53211: boom",
		"http2: error reading preface from client [2001:db8::1]:4431: EOF",
		"http: TLS handshake error from 10.0.0.7:61000: EOF",
	} {
		var buf bytes.Buffer
		addrRedactor{&buf}.Write([]byte(line))
		for _, leak := range []string{"192.168", "2001:db8", "10.0.0.7"} {
			if bytes.Contains(buf.Bytes(), []byte(leak)) {
				t.Errorf("%q kept the address: %q", line, buf.String())
			}
		}
		if !bytes.Contains(buf.Bytes(), []byte("[addr]")) {
			t.Errorf("%q: no [addr] in %q", line, buf.String())
		}
	}
}
