package main

import (
	"fmt"
	"io"
	"strings"
)

// This file holds the usage texts of haven help, haven --help and haven CMD
// --help. run() answers every help request from here, before any command
// runs, so that asking for help never acts: no database is opened, no file
// written, no passphrase asked for. TestHelpMentionsEveryFlag checks that
// each text names every flag its command defines.

// helpTopic is the help of one command ("token") or subcommand ("token
// create").
type helpTopic struct {
	name    string
	summary string // one line, for the list of commands
	usage   string
}

// helpTopics lists the commands in the order haven help shows them, each
// followed by its subcommands. Every command in commands() has a topic.
var helpTopics = []helpTopic{
	{"serve", "run the HTTP server: the JSON API and the web app", serveUsage},
	{"migrate", "apply pending schema migrations", `usage: haven migrate

Apply the pending schema migrations to the database (--db, or the SQLite
database in the data folder), each in its own transaction. A server refuses
to start on an out-of-date database; a brand-new one is set up on the spot.
Run it once per release, with one process, before starting the servers.`},

	{"token", "create, list or revoke API tokens", `usage: haven token create --role ROLE [--site CODE]… [--label TEXT]
       haven token list
       haven token revoke ID

commands:
  create   print a new token (only its hash is stored)
  list     list the tokens: ID, role, sites, creation time, label
  revoke   revoke a token by its ID (from haven token list)

See haven help token SUBCOMMAND.`},
	{"token create", "print a new token", `usage: haven token create --role ROLE [--site CODE]… [--label TEXT]

Print a new API token, and nothing else, so that scripts can capture it. Only
its hash is stored: it cannot be shown again.

  --role ROLE   admin, vaccinator, analyst, auditor or node (an offline clinic
                node's token, for haven serve --upstream at the clinic) (required)
  --site CODE   a site a vaccinator or node may record at (repeatable, or
                comma-separated; required for those two roles)
  --label TEXT  the staff member or device the token is for, shown by token list

A node is enrolled with, for example:
  haven token create --role node --site YB-1 --label "Yanbian clinic laptop"`},
	{"token list", "list the tokens", `usage: haven token list

Print one line per token: ID, role, sites and creation time (tab-separated).
Tokens themselves are never stored, so they cannot be listed.`},
	{"token revoke", "revoke a token", `usage: haven token revoke ID

Revoke the token with this ID (from haven token list). A server sharing the
database stops accepting it within 15 seconds.`},

	{"policy", "check, test, compare and simulate eligibility policy packs", policyUsage},
	{"policy check", "decide eligibility for one set of facts", `usage: haven policy check --jurisdiction CODE --facts JSON [--pack PACK] [--service S]
                          [--as-of YYYY-MM-DD] [--explain] [--lang L] [--json]

Decide whether a person with these facts may be vaccinated or tested in a
jurisdiction, and say which rule decided and what would change the outcome.
The facts are used for this answer and never written anywhere.

  --jurisdiction CODE  jurisdiction code, e.g. CN-JL (required)
  --facts JSON         the facts as a JSON object, e.g. {"residence_status":"temporary_hukou"};
                       "-" reads standard input, "@FILE" a file (required; may be {})
  --pack PACK          a bundled pack by name (2021-09, inclusive…) or a pack folder;
                       default: the default bundled pack
  --service S          vaccination (default) or testing
  --as-of YYYY-MM-DD   the date of the decision (default: today)
  --explain            list every rule evaluated
  --lang L             language of the reasons: en, ko or zh-Hans
  --json               write the decision as JSON`},
	{"policy test", "run a pack's test cases", `usage: haven policy test --pack PACK [--json]

Run the cases of a pack (cases/*.yaml) and report those that fail; the exit
status is 1 if any does.

  --pack PACK  a bundled pack by name (2021-09, inclusive…) or a pack folder (required)
  --json       write the results as JSON`},
	{"policy diff", "compare two packs", `usage: haven policy diff --from PACK --to PACK [--as-of YYYY-MM-DD] [--service S] [--json]

List every residence status and place whose outcome differs between two
packs, on every date either pack changes (or on --as-of only).

  --from PACK          the pack to compare from: a bundled pack name or a folder (required)
  --to PACK            the pack to compare to: a bundled pack name or a folder (required)
  --as-of YYYY-MM-DD   compare on this date only
  --service S          vaccination or testing (default: both)
  --json               write the changes as JSON`},
	{"policy simulate", "estimate who a pack leaves out", `usage: haven policy simulate --population CSV [--pack PACK] [--as-of YYYY-MM-DD] [--service S]
                             [--flag-above 0.2] [--svg FILE] [--png FILE] [--json]

Run a population estimate (CSV: jurisdiction,residence_status,count) through
a pack and report, per jurisdiction, how many people each outcome covers and
the share left out (not eligible or referred): of each residence status
group, and of the whole population. Jurisdictions leaving out more than
--flag-above of their population are flagged.

  --population CSV     the population estimate (required)
  --pack PACK          a bundled pack by name or a pack folder (default: the default bundled pack)
  --as-of YYYY-MM-DD   the date of the decisions (default: today)
  --service S          vaccination (default) or testing
  --flag-above SHARE   flag jurisdictions leaving out more than this share, 0 to 1 (default 0.2)
  --svg FILE           write the chart as SVG (default simulation.svg; "" for none)
  --png FILE           also write the chart as PNG
  --json               write the simulation as JSON`},

	{"forecast", "evaluate a dose history and forecast the next doses (CDSi)", forecastUsage},

	{"keys", "make the certificate signing keys; export the trust list", keysUsage},
	{"keys init", "create the certificate signing keys", `usage: haven keys init --country CC [--org NAME] [--force]

Create a country signing CA (CSCA) and a document signer (DSC) in DATA/keys,
with the private keys wrapped under the key ring.

  --country CC   ISO 3166-1 alpha-2 country of the operator (env HAVEN_COUNTRY)
  --org NAME     organisation named in the certificates (default Haven)
  --force        replace existing keys; the old DSC stays in the trust list as
                 retired, so that certificates it signed keep verifying`},
	{"keys trust-list", "print the trust list", `usage: haven keys trust-list [--out FILE]

Print the trust list (kid → DSC) as JSON, for verifiers.

  --out FILE   write it to FILE instead of standard output`},

	{"cert", "issue, verify or present a certificate (EU DCC, SD-JWT)", certUsage},
	{"cert issue", "issue a certificate", `usage: haven cert issue [--in FILE|-] [--format hc1|sd-jwt] [--at RFC3339] [--validity DURATION]
                       [--qr-png FILE] [--qr-svg FILE] [--qr-size PIXELS] [--count N] [--json]

Sign a certificate for one person and one event with the keys in DATA/keys
(make them with haven keys init). The request format is in haven help cert.

  --in FILE          JSON request file (default -, standard input)
  --format F         hc1 (EU DCC, default) or sd-jwt (minimal disclosure, vaccinations only)
  --at RFC3339       issuing time (default now)
  --validity D       how long the signature stays valid (default 8760h; capped at the DSC's expiry)
  --qr-png FILE      write the QR code as PNG
  --qr-svg FILE      write the QR code as SVG
  --qr-size PIXELS   PNG width and height (default 512)
  --count N          sd-jwt: number of single-use credentials in the batch (default 10)
  --json             print a JSON object instead of the bare text`},
	{"cert verify", "verify a certificate offline", `usage: haven cert verify [--trust FILE | --dsc CERT…] [--at RFC3339 | --skip-time] [--json] (TEXT | -)

Verify a certificate (HC1:… or an SD-JWT presentation) offline: it never
uses the network. The exit status is 1 if it does not verify.

  --trust FILE            trust list JSON (from haven keys trust-list)
  --dsc CERT              trusted document signer certificate: a file (PEM, DER or base64 DER)
                          or inline base64 DER; repeatable
  --at RFC3339            verification time (default now)
  --skip-time             skip the validity-period checks
  --json                  print the result as JSON
  --require-key-binding   sd-jwt: require a key-binding JWT from the holder's device
  --aud AUD               sd-jwt: the audience the key-binding JWT must name
  --nonce NONCE           sd-jwt: the nonce the key-binding JWT must carry
  --check-phrase PHRASE   sd-jwt: the check phrase the holder said`},
	{"cert present", "choose what an SD-JWT presentation reveals", `usage: haven cert present [--reveal NAME,…] [--index N] [--list]
                         [--holder-key FILE --aud AUD --nonce NONCE] [FILE | -]

Read a batch of SD-JWT credentials (one per line) and print a presentation of
one of them that discloses only the claims named by --reveal.

  --reveal NAMES     comma-separated claims to disclose ("" for none; default: vaccinated and valid-until)
  --index N          which credential of the batch to present, from 0; present each only once
  --list             list the claims the credential can disclose, and exit
  --holder-key FILE  PEM file with the holder's EC P-256 private key, for a key-binding JWT
  --aud AUD          the verifier's audience for the key-binding JWT
  --nonce NONCE      the verifier's nonce for the key-binding JWT`},

	{"import", "load persons, doses and tests from CSV or NDJSON", importHelp},

	{"erase", "destroy a person: their key and card-code link", `usage: haven erase CARD

Destroy the person with this card code: their data key (so their
demographics can never be read again) and the link from the card code. Their
doses and tests stay only as anonymous counts. It cannot be undone.`},

	{"audit", "verify the access log and its signed checkpoints", `usage: haven audit verify [--checkpoints FILE] [--key PUB]… [--json]
       haven audit checkpoint | checkpoints | key

commands:
  verify        check the access log's hash chain, MACs and signed checkpoints
  checkpoint    sign a checkpoint of the log now and print it
  checkpoints   print the stored checkpoints as JSON Lines
  key           print the checkpoint signing public key

See haven help audit SUBCOMMAND.`},
	{"audit verify", "check the access log", `usage: haven audit verify [--checkpoints FILE] [--key PUB]… [--json]

Check the access log's hash chain and MACs against its signed checkpoints and
the external copies of them. The exit status is 1 if anything is wrong.

  --checkpoints FILE  JSON Lines file of checkpoints kept outside the database
                      (haven serve --audit-export; default $HAVEN_AUDIT_EXPORT)
  --key PUB           trusted checkpoint public key (ed25519:BASE64), repeatable;
                      default: every key recorded in the data folder
  --json              print the report as JSON`},
	{"audit checkpoint", "sign a checkpoint now", `usage: haven audit checkpoint

Sign a checkpoint of the access log now and print it as JSON Lines; with
HAVEN_AUDIT_EXPORT set to a file, also append it there.`},
	{"audit checkpoints", "print the stored checkpoints", `usage: haven audit checkpoints

Print the checkpoints stored in the database as JSON Lines.`},
	{"audit key", "print the checkpoint public key", `usage: haven audit key

Print the public key that signs the access log's checkpoints (ed25519:BASE64),
to keep where verifiers can find it.`},

	{"stats", "suppressed coverage tables, or the gap report", `usage: haven stats [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--k N] [--epsilon E] [--gaps] [--json|--csv]

Print the coverage tables, with small counts suppressed, or with --gaps the
gap report for the week of --to.

  --from YYYY-MM-DD   first day (default: 12 weeks ago)
  --to YYYY-MM-DD     last day (default: today)
  --k N               smallest count published (at least the default)
  --epsilon E         add two-sided geometric noise with this privacy parameter (0: none)
  --gaps              print the gap report instead
  --json              JSON output
  --csv               CSV output`},
	{"iis", "the upstream IIS feed's outbox: status, retry a rejected report", `usage: haven iis status [--json] [--limit N]
       haven iis retry SEQ

The outbox of the feed that reports each recorded dose to an immunization
information system (haven serve --iis-upstream). Run on the server's machine,
with its data folder or --db, while it runs or not.

commands:
  status   counts, the oldest pending report's age, the last error, and the reports
  retry    put a report the IIS rejected back in the queue

See haven help iis SUBCOMMAND.`},
	{"iis status", "show the outbox", `usage: haven iis status [--json] [--limit N]

Print how many reports wait and how many the IIS rejected, when the oldest
waiting one was queued and the last delivery error, then one row per report,
oldest first: its number (SEQ), the record ID, A (recorded) or D (entered in
error), when it was queued, delivery attempts, whether the IIS rejected it
(such a report is set aside, not retried) and its last error. The outbox
holds references only: no card code or name is shown.

  --json      write the status as JSON (the shape of GET /api/v1/iis/outbox)
  --limit N   list at most N reports, oldest first (1 to 1000; default 100)`},
	{"iis retry", "queue a rejected report again", `usage: haven iis retry SEQ

Put the report SEQ (from haven iis status), which the IIS rejected, back in
the queue in its place, once the cause is fixed: the feed of a running server
sends it at its next look at the outbox. The exit status is 1 if there is no
such report.`},

	{"sync", "offline clinic nodes: sync status, send refused records again", `usage: haven sync status [--json]
       haven sync retry SEQ|--all

The sync of an offline clinic node (haven serve --upstream) with its central
registry, or, at a central, the nodes enrolled with it. Run on the server's
machine, with its data folder or --db, while it runs or not: a data folder
holding upstream.token is a node's. Nodes are enrolled at the central with
haven token create --role node --site CODE.

commands:
  status   the link to the central: state, what waits, what was refused, the last error; at a central, its nodes
  retry    queue records the central refused again

See haven help sync SUBCOMMAND.`},
	{"sync status", "show the state of sync", `usage: haven sync status [--json]

On a node: its role and central, its state (online, offline, revoked,
refused, sealed or disk_full), how many events wait to be sent and since
when, how many the central refused, the last contact with the central, the
last error, and how far this clock is off the central's; then the refused
events, oldest first, with the central's reason. At a central: one row per
node, with its sites, the last event applied, what it reported waiting, its
last contact, its clock skew and whether its token was revoked. Events hold
references only: no card code or name is shown.

  --json   write the status as JSON (the shape of GET /api/v1/sync/status)`},
	{"sync retry", "queue refused records again", `usage: haven sync retry SEQ|--all

Queue again the events of the person of refused event SEQ (from haven sync
status), or with --all every refused event, once the cause is fixed (an
unknown product, a site missing at the central): a running node sends them
at its next push. Print how many events were queued again. The exit status
is 1 if SEQ is not a refused event.

  --all   queue every event the central refused again`},

	{"backup", "write an online snapshot without any data keys", `usage: haven backup DEST

Write a consistent snapshot of the SQLite database to the new file DEST while
the server runs. It holds no data keys, so no demographics can be read from
it, and restoring it never undoes an erasure. See docs/privacy.md.`},
	{"seal", "make the running server drop its key", `usage: haven seal [--shred]

Ask the server at --addr to drop its key-encryption key from memory: until
haven unlock it answers every request except /healthz, /readyz and unlock
with 503 sealed. The admin token comes from HAVEN_TOKEN.

  --shred   also overwrite and delete the key ring: nothing stored can be read again`},
	{"unlock", "give a sealed server its key again", `usage: haven unlock [--no-passphrase]

Ask the sealed server at --addr to load its key again. With a passphrase-
derived key, the passphrase is read from HAVEN_PASSPHRASE_FILE, or asked for
on the terminal (without echo). The admin token comes from HAVEN_TOKEN.

  --no-passphrase   the key ring has no passphrase: do not ask for one`},
	{"vault", "rotate the key-encryption key; make a new ring after a shred", vaultUsage},
	{"vault rotate", "a new key-encryption key", `usage: haven vault rotate

Make a new key-encryption key and fresh epoch keys, rewrap every data key and
key file, and destroy the old keys. Stop the server first: it holds the old
keys in memory.`},
	{"vault init-master", "a new key ring after a shred", `usage: haven vault init-master --after-shred

Make a new key ring where the old one was shredded. Persons keep their card
codes, doses and tests; their demographics stay unreadable for good.

  --after-shred   confirm that the old key ring was shredded`},
	{"vault shred", "destroy the key ring without a server", shredUsage},
	{"shred", "destroy the key ring without a server", shredUsage},
	{"bench", "load test: clients record doses for a while", `usage: haven bench [--url URL --token TOKEN --site CODE] [--clients N] [--duration D]
                   [--persons N] [--no-birth-date] [--mode doses|vxu|fhir-search] [--doses N] [--json]

Register a pool of persons, then have N clients record doses for them for D,
against a running server (--url) or one started in-process on the configured
database, and print the throughput and latency.

  --url URL         base URL of a running server (default: start one in-process)
  --token TOKEN     vaccinator token (with --url)
  --site CODE       site code the token may record at (with --url)
  --clients N       concurrent clients (default 32)
  --duration D      how long to run (default 10s)
  --persons N       size of the pool of persons (default 5000)
  --no-birth-date   register the persons without a birth date, so that their doses are not evaluated
  --mode M          what each request is: doses (default; POST a dose as JSON), vxu (POST an HL7
                    VXU^V04 with one dose to /api/v1/hl7) or fhir-search (GET /fhir/r4/Immunization by card)
  --doses N         doses recorded for each person before a fhir-search run (default 10)
  --batch N         with --mode vxu: messages per request, each one dose for another person (default 1)
  --json            print the result as JSON`},
}

const serveUsage = `usage: haven serve [--schedule cdc|who|cn] [--policies DIR] [--trust FILE] [--stats-epsilon E]
                   [--read-limit N] [--max-in-flight N] [--trusted-proxy CIDR]… [--secure-cookies]
                   [--tls-cert FILE --tls-key FILE] [--audit-export FILE|-] [--checkpoint-every D] [--idempotency-retention D] [--log-level L]
                   [--hl7-addr ADDR --hl7-tls-cert FILE --hl7-tls-key FILE [--hl7-client-ca FILE]]
                   [--iis-upstream URL [--iis-ca FILE|--iis-pin SHA256] [--iis-cert FILE --iis-key FILE]
                    [--iis-profile FIELDS] [--iis-receiver NAME]] [--hl7-facility NAME]
                   [--upstream URL [--upstream-ca FILE|--upstream-pin SHA256] [--node-label NAME]]
                   [--sync-concurrency N] [--sync-share-birth-date]

Run the HTTP server (the JSON API under /api/v1/ and the web app at /) on
--addr until interrupted. A fresh data folder is set up on the spot: the
database is created and migrated, and a key ring is made with mode 0600.

  --schedule NAME        schedule that evaluates recorded doses: cdc, who (default) or cn (env HAVEN_SCHEDULE)
  --policies DIR         folder of policy packs (env HAVEN_POLICIES; default: the bundled packs)
  --trust FILE           extra trust list (JSON, kid → DSC) for verifying certificates (env HAVEN_TRUST_LIST)
  --stats-epsilon E      add geometric noise to the coverage tables (0: none; see docs/privacy.md)
  --read-limit N         person-level reads a minute per token (default 120; env HAVEN_READ_LIMIT)
  --max-in-flight N      requests served at once; beyond it, 503 with Retry-After at once (default 256)
  --trusted-proxy CIDR   a proxy whose X-Forwarded-For names the client; repeatable (env HAVEN_TRUSTED_PROXIES)
  --secure-cookies       mark session cookies Secure: set it behind a TLS-terminating proxy (env HAVEN_SECURE_COOKIES)
  --tls-cert FILE        serve HTTPS with this certificate (PEM, with its chain; TLS 1.2 or later) (env HAVEN_TLS_CERT)
  --tls-key FILE         the private key (PEM) of --tls-cert; with it, session cookies are Secure (env HAVEN_TLS_KEY)
  --audit-export FILE    append every signed audit checkpoint to FILE as JSON Lines, or to standard
                         output with -, somewhere the database host cannot rewrite (env HAVEN_AUDIT_EXPORT)
  --checkpoint-every D   how often to sign an audit checkpoint while the log grows (default 2s)
  --idempotency-retention D  how long a write's Idempotency-Key is kept (default 168h, at least 1h)
  --log-level L          debug, info (default), warn or error

HL7 v2, inbound (POST /api/v1/hl7 is always on; this adds MLLP):
  --hl7-addr ADDR        accept HL7 v2 over MLLP here, each message with a Haven token in MSH-8 (env HAVEN_HL7_ADDR);
                         needs --hl7-tls-cert and --hl7-tls-key unless the address is loopback
  --hl7-tls-cert FILE    TLS certificate (PEM) of the MLLP listener (env HAVEN_HL7_TLS_CERT)
  --hl7-tls-key FILE     its private key (PEM) (env HAVEN_HL7_TLS_KEY)
  --hl7-client-ca FILE   require client certificates signed by these CAs (PEM) (env HAVEN_HL7_CLIENT_CA)
  --hl7-facility NAME    Haven's name in MSH-4 of the messages it writes (default HAVEN; env HAVEN_HL7_FACILITY)

HL7 v2, outbound: report each recorded dose to an IIS as a VXU, in order (haven iis status):
  --iis-upstream URL     https://host/path (bearer token from env HAVEN_IIS_TOKEN), mllp://host:port or
                         mllps://host:port; plain only to a loopback address (env HAVEN_IIS_UPSTREAM)
  --iis-ca FILE          CA certificates (PEM) the IIS's certificate must chain to (default: the system's) (env HAVEN_IIS_CA)
  --iis-pin SHA256       SHA-256 of the IIS certificate's public key (hex), instead of a CA (env HAVEN_IIS_PIN)
  --iis-cert FILE        client certificate (PEM) to present to the IIS (env HAVEN_IIS_CERT)
  --iis-key FILE         its private key (PEM) (env HAVEN_IIS_KEY)
  --iis-profile FIELDS   person fields the IIS requires beyond the card code, from PID-5,PID-7,PID-8,PID-13
                         (default: the card code only) (env HAVEN_IIS_PROFILE)
  --iis-receiver NAME    the IIS's name in MSH-5 and MSH-6 (env HAVEN_IIS_RECEIVER)

Offline clinic nodes (haven sync status; docs/adr/0006-offline-clinic-nodes.md):
  --upstream URL         run as a clinic node of this central, https://host[:port]; the node token comes from env
                         HAVEN_UPSTREAM_TOKEN the first time and is kept, encrypted, in DATA/upstream.token (env HAVEN_UPSTREAM)
  --upstream-ca FILE     CA certificates (PEM) the central's certificate must chain to (default: the system's) (env HAVEN_UPSTREAM_CA)
  --upstream-pin SHA256  SHA-256 of the central certificate's public key (hex), instead of a CA (env HAVEN_UPSTREAM_PIN)
  --node-label NAME      this node's name at the central and in its signing certificate (default: the host name) (env HAVEN_NODE_LABEL)
  --sync-concurrency N   central: node pushes applied at once; beyond it, 503 with Retry-After (default 2)
  --sync-share-birth-date  central: keep full birth dates of persons registered at nodes (default: the year only)

Keys and secrets come from the environment, never from flags:
HAVEN_MASTER_KEY_FILE (default DATA/master.key) or HAVEN_PASSPHRASE_FILE.`

const shredUsage = `usage: haven shred --yes   (or haven vault shred --yes)

Destroy the key ring without a server, for a clinic whose server is stopped
when a raid is expected: no name, birth date or phone stored so far can ever
be read again, by anyone. Card codes, doses and tests are kept. A server still
running on the ring seals itself within seconds; haven seal --shred asks it
at once. To run Haven again: haven vault init-master --after-shred.

  --yes   really destroy the key ring`

// overviewText is what haven, haven help and haven --help print.
func overviewText() string {
	var b strings.Builder
	b.WriteString(`Haven: an immunization and testing registry. One binary: the server and its operator commands.

usage: haven [--data DIR] [--db URL] [--addr HOST:PORT] COMMAND [ARGUMENTS]

commands:
`)
	for _, t := range helpTopics {
		if !strings.Contains(t.name, " ") {
			fmt.Fprintf(&b, "  %-9s %s\n", t.name, t.summary)
		}
	}
	fmt.Fprintf(&b, "  %-9s %s\n", "help", "this list, or the usage of a command: haven help COMMAND [SUBCOMMAND]")
	fmt.Fprintf(&b, "  %-9s %s\n", "version", "print the version and the build's VCS revision (also haven --version)")
	b.WriteString(`
global flags, accepted before or after the command:
  --data DIR         data folder: SQLite database and key ring (env HAVEN_DATA; default ./haven-data)
  --db URL           sqlite:PATH or postgres://… (env HAVEN_DB; default: SQLite in the data folder)
  --addr HOST:PORT   where serve listens and where seal and unlock find the server
                     (env HAVEN_ADDR; default 127.0.0.1:8080)

haven COMMAND --help (or -h) prints the usage of a command and does nothing else.
Exit status: 0 on success and for help, 1 when a command fails, 2 for wrong usage.
`)
	return b.String()
}

// topicFor returns the help topic for a command and its arguments: the
// subcommand's topic when the first argument that is not a flag names one,
// otherwise the command's.
func topicFor(name string, args []string) (helpTopic, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "help" || strings.HasPrefix(a, "-") {
			continue
		}
		if t, ok := findTopic(name + " " + a); ok {
			return t, true
		}
		break
	}
	return findTopic(name)
}

func findTopic(name string) (helpTopic, bool) {
	for _, t := range helpTopics {
		if t.name == name {
			return t, true
		}
	}
	return helpTopic{}, false
}

// hasSubcommands reports whether a command is a group (token, policy…).
func hasSubcommands(name string) bool {
	for _, t := range helpTopics {
		if strings.HasPrefix(t.name, name+" ") {
			return true
		}
	}
	return false
}

// helpRequest reports whether args (a command's arguments, after the global
// flags were taken out) ask for help: -h, -help or --help anywhere before
// "--", or "help" as the subcommand of a command that has subcommands.
func helpRequest(name string, args []string) bool {
	if len(args) > 0 && args[0] == "help" && hasSubcommands(name) {
		return true
	}
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// helpCommand implements "haven help [COMMAND [SUBCOMMAND]]".
func helpCommand(w io.Writer, args []string) error {
	if len(args) == 0 {
		_, err := io.WriteString(w, overviewText())
		return err
	}
	switch args[0] {
	case "help":
		_, err := io.WriteString(w, overviewText())
		return err
	case "version":
		_, err := fmt.Fprintln(w, "usage: haven version   (or haven --version)\n\nPrint the version, the build's VCS revision and time, and the Go version.")
		return err
	}
	t, ok := topicFor(args[0], args[1:])
	if !ok {
		return usageErrorf("help: unknown command %q (haven help lists them)", args[0])
	}
	_, err := fmt.Fprintln(w, t.usage)
	return err
}
