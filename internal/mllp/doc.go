// Package mllp carries HL7 v2 messages over TCP, optionally with TLS, in
// the Minimal Lower Layer Protocol, release 1 (HL7 v2.5.1 Implementation
// Guide, appendix C). It moves payloads only: it does not parse HL7, which
// is internal/hl7's work.
//
// # Framing
//
// A frame is
//
//	frame = 0x0B payload 0x1C 0x0D
//
// where the payload holds neither 0x0B nor 0x1C. Frame writes one; a
// Reader reads them, leniently: it skips bytes between frames (junk, stray
// CR or LF), ends a frame at 0x1C without waiting for the 0x0D, restarts a
// frame at an unexpected 0x0B, and never returns the partial payload of a
// frame cut off by the end of the stream (io.ErrUnexpectedEOF). See Reader.
//
// # Server contract
//
//   - Order: the messages of one connection are handled one at a time, in
//     the order received; the reply to one is written before the next is
//     read (HL7 original-mode acknowledgement). Connections are handled
//     concurrently, at most Server.MaxConns at once; beyond that a new
//     connection is accepted and closed at once.
//   - One reply per message: the Handler's return value. An empty reply, a
//     handler panic, a frame over Server.MaxMessageBytes (default 4 MiB),
//     a frame not complete within ReadTimeout, a reply not written within
//     WriteTimeout, and no new frame within IdleTimeout all close the
//     connection without a reply; the sender then reconnects and, in
//     original mode, resends.
//   - TLS: with Server.TLSConfig set (see ServerTLS), optionally requiring
//     client certificates; the verified chain reaches the Handler in Peer.
//   - Shutdown stops accepting, closes idle connections, and lets messages
//     being handled finish and be answered.
//   - Logging: peer addresses, client certificate subjects, message and
//     reply sizes, durations and errors. Never message content, which
//     holds personal data, nor the value of a handler's panic (its type
//     is logged, or the text of a runtime error).
//   - The server does not panic on any input; the Reader is fuzzed.
//
// # Client
//
// Client sends one message at a time over a kept-open connection and waits
// for the reply, reconnecting after an error. It never resends on its own.
package mllp
