package clinic

import (
	"slices"

	"github.com/haven-registry/haven/internal/registry"
)

// Action names one thing a caller may ask Haven to do. Its value is also the
// action written to the access log, so the log and the code use one
// vocabulary: an audit entry's action is always one of these constants.
type Action string

// The actions. Replays and refusals that are audited have actions of their
// own, so that an auditor can tell a retried write or a failed attempt from
// a fresh one.
const (
	ActProductList Action = "product.list"

	ActPersonCreate    Action = "person.create"
	ActPersonReplay    Action = "person.replay"
	ActPersonRead      Action = "person.read"
	ActPersonEdit      Action = "person.edit"
	ActPersonErase     Action = "person.erase"
	ActPersonForecast  Action = "person.forecast"
	ActHistoryEvaluate Action = "history.evaluate"
	ActHistoryImport   Action = "history.import"
	ActHistoryReplay   Action = "history.replay"
	ActCardPrint       Action = "card.print"

	ActVaccinationCreate  Action = "vaccination.create"
	ActVaccinationReplay  Action = "vaccination.replay"
	ActVaccinationPreview Action = "vaccination.preview"
	ActTestCreate         Action = "test.create"
	ActTestPreview        Action = "test.preview"
	ActTestReplay         Action = "test.replay"
	ActCorrectionCreate   Action = "correction.create"
	ActCorrectionReplay   Action = "correction.replay"

	ActCertificateIssue    Action = "certificate.issue"
	ActCertificateOverride Action = "certificate.override"
	ActCertificateVerify   Action = "certificate.verify"

	ActEligibility Action = "eligibility.decide"

	ActHolderRead        Action = "holder.read"
	ActHolderCertificate Action = "holder.certificate"
	ActHolderDenied      Action = "holder.denied"

	ActSiteCreate Action = "site.create"
	ActSiteReplay Action = "site.replay"
	ActSiteList   Action = "site.list"

	ActTokenCreate Action = "token.create"
	ActTokenList   Action = "token.list"
	ActTokenRevoke Action = "token.revoke"

	ActVaultSeal         Action = "vault.seal"
	ActVaultShred        Action = "vault.shred"
	ActVaultUnlock       Action = "vault.unlock"
	ActVaultUnlockFailed Action = "vault.unlock_failed"

	ActStatsCoverage Action = "stats.coverage"
	ActStatsGaps     Action = "stats.gaps"

	// ActReportSend is the upstream feed sending a record to an IIS (an
	// export of the record, audited as a read by the system).
	ActReportSend  Action = "report.send"
	ActOutboxList  Action = "outbox.list"
	ActOutboxRetry Action = "outbox.retry"

	ActAuditList   Action = "audit.list"
	ActAuditVerify Action = "audit.verify"

	// Offline clinic node sync (docs/adr/0006-offline-clinic-nodes.md).
	// The first four are a node token's only actions at the central;
	// ActSyncApply (one entry per person of a push) and ActSyncErase (an
	// erasure pulled from the central, on the node) are audit-only.
	ActSyncHello  Action = "sync.hello"
	ActSyncPush   Action = "sync.push"
	ActSyncPull   Action = "sync.pull"
	ActSyncLookup Action = "sync.lookup"
	ActSyncStatus Action = "sync.status"
	ActSyncRetry  Action = "sync.retry"
	ActSyncApply  Action = "sync.apply"
	ActSyncErase  Action = "sync.erase"
)

// RoleHolder is the role of a person reading their own record with their card
// code and holder secret, RolePublic the role of an unauthenticated caller of
// a public action (a verifier), and RoleOperator the role of a command run
// on the server's machine by someone who holds its data folder and keys: it
// may call every action. None is a token role.
const (
	RoleHolder   registry.Role = "holder"
	RolePublic   registry.Role = "public"
	RoleOperator registry.Role = "operator"
)

// Permission says who may call an action and whether it works while the vault
// is sealed. A nil Roles list marks a public action.
type Permission struct {
	Roles       []registry.Role
	WhileSealed bool
}

var (
	public     []registry.Role
	admin      = []registry.Role{registry.RoleAdmin}
	vaccinator = []registry.Role{registry.RoleVaccinator}
	analyst    = []registry.Role{registry.RoleAnalyst}
	auditor    = []registry.Role{registry.RoleAuditor}
	node       = []registry.Role{registry.RoleNode}
	staff      = []registry.Role{registry.RoleAdmin, registry.RoleVaccinator, registry.RoleAnalyst}
)

// permissions is the one table of who may do what. Every action a caller can
// invoke has a row; audit-only actions (replays, refusals) have none.
var permissions = map[Action]Permission{
	ActProductList: {Roles: staff},

	ActPersonCreate:    {Roles: vaccinator},
	ActPersonRead:      {Roles: vaccinator},
	ActPersonEdit:      {Roles: vaccinator},
	ActPersonErase:     {Roles: admin},
	ActPersonForecast:  {Roles: vaccinator},
	ActHistoryEvaluate: {Roles: vaccinator},
	ActHistoryImport:   {Roles: vaccinator},
	ActCardPrint:       {Roles: vaccinator},

	ActVaccinationCreate:  {Roles: vaccinator},
	ActVaccinationPreview: {Roles: vaccinator},
	ActTestCreate:         {Roles: vaccinator},
	ActTestPreview:        {Roles: vaccinator},
	ActCorrectionCreate:   {Roles: vaccinator},

	ActCertificateIssue:  {Roles: vaccinator},
	ActCertificateVerify: {Roles: public},

	ActEligibility: {Roles: staff},

	ActHolderRead:        {Roles: public},
	ActHolderCertificate: {Roles: public},

	ActSiteCreate: {Roles: admin},
	ActSiteList:   {Roles: staff},

	ActTokenCreate: {Roles: admin},
	ActTokenList:   {Roles: admin},
	ActTokenRevoke: {Roles: admin},

	ActVaultSeal:   {Roles: admin},
	ActVaultShred:  {Roles: admin, WhileSealed: true},
	ActVaultUnlock: {Roles: admin, WhileSealed: true},

	ActStatsCoverage: {Roles: analyst},
	ActStatsGaps:     {Roles: analyst},

	ActReportSend:  {Roles: admin}, // called by the feed inside the server as the operator; no route offers it
	ActOutboxList:  {Roles: admin},
	ActOutboxRetry: {Roles: admin},

	ActAuditList:   {Roles: auditor},
	ActAuditVerify: {Roles: auditor},

	ActSyncHello:  {Roles: node},
	ActSyncPush:   {Roles: node},
	ActSyncPull:   {Roles: node},
	ActSyncLookup: {Roles: node},
	ActSyncStatus: {Roles: admin},
	ActSyncRetry:  {Roles: admin},
}

// PermissionOf returns the permission of an action a caller can invoke, and
// false for an audit-only action. Transports use it to refuse a request early
// with the same outcome the action itself would give.
func PermissionOf(a Action) (Permission, bool) {
	p, ok := permissions[a]
	return p, ok
}

// Actions returns every action a caller can invoke, in a stable order.
func Actions() []Action {
	out := make([]Action, 0, len(permissions))
	for a := range permissions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Public reports whether the action needs no token.
func (p Permission) Public() bool { return p.Roles == nil }

// Admits reports whether role may call the action.
func (p Permission) Admits(role registry.Role) bool {
	return p.Roles == nil || role == RoleOperator || slices.Contains(p.Roles, role)
}
