// Package hl7 reads and writes the HL7 v2.5.1 messages of the CDC's "HL7
// Version 2.5.1 Implementation Guide for Immunization Messaging, Release 1.5":
// VXU^V04 (send immunization history), ACK, QBP^Q11 (profiles Z34 and Z44)
// and RSP^K11 (profiles Z32, Z42 and Z33). It is a codec and a message
// model only: no transport, no storage, no actions. Transports decode with
// Parse and ReadVXU or ReadQBP, call the actions, and encode with NewACK,
// NewRSP, NewRSPNotFound or NewRSPError; the outbound feed writes with
// NewVXU and reads the answer with ReadACK.
//
// # Grammar
//
// Parse reads a body in the ER7 ("pipe") encoding:
//
//	body      = [bom] { blank | batchseg | message }
//	bom       = UTF-8 byte order mark (dropped) | UTF-16 byte order mark (the body is UTF-16)
//	message   = msh { eol segment }                    ; ends at the next MSH, FHS, BHS, BTS or FTS
//	batchseg  = ("FHS" | "BHS") fs enc { fs field }    ; declare their own delimiters
//	          | ("BTS" | "FTS") { fs field }           ; use those of the header before them
//	msh       = "MSH" fs enc { fs field }              ; fs is MSH-1, enc is MSH-2
//	enc       = comp [rep [esc [sub [trunc]]]]          ; usually ^~\& ; trunc (v2.7, "#") tolerated
//	segment   = id { fs field }                        ; id: a letter, then two letters or digits (readers report others, 100)
//	field     = repetition { rep repetition }
//	repetition = component { comp component }
//	component = subcomp { sub subcomp }
//	subcomp   = { char | escape }
//	escape    = esc ( "F" | "S" | "T" | "R" | "E" | "P"       ; fs, comp, sub, rep, esc, trunc
//	                | "X" { hexdigit hexdigit }              ; bytes in the message's character set
//	                | ".br" | ".sp" [n]                      ; line break
//	                | ".fi" | ".nf" | ".in" n | ".ti" n | ".sk" n | ".ce" | "H" | "N"   ; formatting, dropped
//	                | "C" 4hex | "M" 4hex [2hex] | "Z" ... ) esc ; charset switches and local escapes, dropped
//	eol       = CR | LF | CR LF                         ; blank lines are skipped
//
// The delimiters are whatever MSH-1 and MSH-2 declare: any printable ASCII
// characters other than letters and digits, all different. An escape that
// is not one of the above, or is not closed, is kept as written. HL7's
// explicit null ("") reads as empty. Leading spaces, tabs and MLLP framing
// bytes (0x0B, 0x1C) on a line are dropped; MLLP framing itself is the
// transport's job.
//
// # Character sets
//
// MSH-18 is read from the raw bytes of MSH before the rest of the message is
// decoded: segment terminators are single bytes that no supported multibyte
// set uses inside a character, so messages can be found first and decoded
// one by one, and only then split, since in GB 18030, Big5 and ISO-2022-JP
// the bytes of a character may be '|', '^', '~' or '\'. (When such a
// character in MSH-3 to MSH-17 pushes MSH-18 one field to the right, the next
// fields are tried.) The values of HL7 table 0211 that Haven reads:
//
//	(empty), ASCII, ISO IR6        UTF-8 is accepted too; other 8-bit text is read as ISO 8859-1, with a warning
//	UNICODE, UNICODE UTF-8         UTF-8; invalid bytes become U+FFFD, with a warning
//	8859/1 ... 8859/9, 8859/15     ISO 8859 (8859/5 is Cyrillic)
//	ISO IR14                       JIS X 0201 (read with the Shift JIS decoder)
//	ISO IR87, ISO IR159            JIS X 0208 / 0212 through ISO 2022 escapes (ISO-2022-JP)
//	GB 18030-2000                  GB 18030
//	KS X 1001, ISO IR149           EUC-KR
//	BIG-5                          Big5
//	UNICODE UTF-16                 only with a byte order mark, or ASCII-first, for the whole body
//
// Names outside the table that the WHATWG encoding standard knows ("euc-kr",
// "shift_jis", "iso-8859-1") are read with a warning. When MSH-18 repeats
// ("ASCII~ISO IR87"), a legacy set in a later repetition is used. Any other
// value rejects the message (103 at MSH-18), unless its text is plain
// ASCII. \Xhh\ escapes are decoded in the message's character set.
//
// Haven writes UTF-8 with the standard delimiters |^~\& and CR after each
// segment, declaring "UNICODE UTF-8" in MSH-18 only when the text is not
// plain ASCII. A reply is written in the request's character set when that
// set can represent it.
//
// # Limits
//
// Limits bound the body (16 MiB), a message (1 MiB), the messages in a body
// (10,000), the segments in a message (2,000), the fields in a segment (256)
// and the repetitions the readers look at (100). Parsing keeps one copy of
// the body's text (shared by its messages, so a Message keeps the whole body
// alive), 4 bytes per field and 48 per segment; repetitions, components and
// subcomponents are found only when read. The parser never panics
// (FuzzParse), and no input makes it do more than linear work
// (TestHostileInputs).
//
// # Message model
//
// ReadVXU keeps from PID only what Haven's person model holds: the PID-3
// identifiers (CX.1 and CX.4), PID-5 names (family, given, further given,
// type), PID-7 birth date (YYYY, YYYYMM or YYYYMMDD), PID-8 sex and PID-13
// telephone numbers. Everything else (address, race, ethnicity, mother's
// maiden name, PD1, NK1, PV1, insurance, providers, NTE and free-text OBX)
// is checked for its place in the message and never copied into the result.
// Haven does not require PID-5, PID-7 or PID-8 (the guide does): a person
// may be registered with nothing but a card code. Each ORC/RXA group becomes
// an Administration. Errors carry the location (ERR-2), the table 0357 code
// (ERR-3) and the severity (ERR-4):
//
//	100 segment sequence error    a known segment out of place; a missing PID, QPD or MSH; a message over a limit
//	    (warning)                 an RXA without its ORC; a segment with no place in the structure (ignored)
//	101 required field missing    MSH-9, MSH-10, MSH-11, MSH-12, PID-3, RXA-3, RXA-5, QPD-1, QPD-2
//	102 data type error           a bad date (RXA-3 must name the day), bad MSH-1/MSH-2
//	103 table value not found     RXA-5 without CVX, RXA-20 or RXA-21 outside their tables, an unknown charset
//	200/201                       MSH-9 other than VXU^V04 (or QBP^Q11)
//	202                           MSH-11 other than P, T or D (Rules.ProcessingIDs)
//	203                           MSH-12 other than 2.5.1 (Rules.Versions)
//	204/205/207                   from the actions layer, through FromError
//
// Errors.Ack gives MSA-1: AR when an error is in MSH, concerns the whole
// message (no location) or has a code of 200 or more (the message was not
// processed), AE for any other error, and AA otherwise, warnings (W) and
// information (I) included. Either way a message with an error of severity E
// must not be written at all.
//
// # Card codes
//
// A PID-3 (or QPD-3) repetition whose assigning authority (CX.4) is HAVEN
// carries a card code. When Haven registers a new person from a VXU, the ACK
// returns the card code in an ERR segment of severity I, code 0 (message
// accepted), at PID^1^3^1^1, with ERR-5 "CARD^Card code assigned^HAVEN",
// the card code alone in ERR-6 (application error parameter) and "Card code
// assigned: <code>" in ERR-8. The ACK structure (MSH, MSA, ERR) has no other
// place for it, and the guide lets a receiver send informational ERR
// segments. Ack.CardCode reads it back.
//
// Queries are answered by card code only: NewRSPNotFound when QPD-3 holds
// none that Haven knows. Outbound VXUs name the person by card code only
// (PID-3 ^^^HAVEN^PI), plus the fields a Profile names.
//
// # API
//
//	Parse(body) (*Batch, error); Limits{...}.Parse; ParseMessage(body) (*Message, error)
//	(*Message).Header() *Header; Segments(); Find(id, seq); (*Segment).Field(n) Value; Value.Rep/Comp/Sub/Text
//	ReadVXU(m) (*VXU, Errors); ReadQBP(m) (*Query, Errors); ReadACK(m) (*Ack, Errors); Rules{Versions, ProcessingIDs}
//	NewACK(req *Header, errs Errors, env Envelope); CardCodeAssigned(card) Error; FromError(err, loc) Error
//	NewRSP(q, *History, env); NewRSPNotFound(q, warnings, env); NewRSPError(q, errs, env)
//	NewVXU(Person, []Administration, Profile, env); NewBatch(in *Batch, replies, env)
package hl7
