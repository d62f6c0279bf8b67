package schedule

import (
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// reasonSet is a set of evaluation reasons (a bit per reason), kept as bits
// so that evaluation allocates nothing for them.
type reasonSet uint16

const (
	rsTooYoung reasonSet = 1 << iota
	rsAgeGrace
	rsTooOld
	rsTooSoon
	rsIntervalGrace
	rsConflict
	rsVaccine
	rsInadvertent
	rsComplete
)

// reasonText is the CDC wording of each reason, in output order.
var reasonText = [...]string{
	"Age: Too Young", "Age: Grace Period", "Age: Too Old", "Interval: Too Soon", "Interval: Grace Period",
	"Live Virus Conflict", "Not a preferable or allowable vaccine", "Inadvertent Vaccine", "Series Already Complete",
}

// String joins the reasons with "; ".
func (r reasonSet) String() string {
	if r == 0 {
		return ""
	}
	var b strings.Builder
	for i, t := range reasonText {
		if r&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

// MaxDoses bounds the doses (and observations) of one patient, which keeps
// the cost of one forecast bounded for untrusted input.
const MaxDoses = 500

// run holds the per-forecast state shared by every antigen: the patient, the
// assessment date and the organised immunization history (§4.2).
type run struct {
	s        *Schedule
	dob      Date
	asOf     Date
	sex      string
	country  string
	doses    []pdose
	obs      map[string]Date // active observations: code -> latest date (0 = undated); nil if none
	byAnt    map[string][]rec
	complete map[string]bool // "antigen|seriesGroup" -> some relevant series complete (pass 1)
	dobY     int             // civil birth date, cached for age arithmetic
	dobM     int
	dobD     int
	inRecs   []bool   // by patient dose: a record of the antigen being processed
	tbuf     []target // arenas that the patient series slice into
	ebuf     []eval
	members  []*pseries // scratch: the relevant series of one series group (selectBest)
	scorable []*pseries // scratch: prioritize's scorable series
}

// age returns the date of birth plus u (CALCDTAGE-*), or 0 when u is unset.
func (r *run) age(u Duration) Date {
	if !u.Set {
		return 0
	}
	return addCivil(r.dobY, r.dobM, r.dobD, u)
}

// targets returns a zeroed slice of n targets with room to grow by extra.
func (r *run) targets(n, extra int) []target {
	if len(r.tbuf) < n+extra {
		r.tbuf = make([]target, n+extra)
	}
	t := r.tbuf[: n : n+extra]
	r.tbuf = r.tbuf[n+extra:]
	return t
}

// reserve sizes the arenas for evaluating each of the series once.
func (r *run) reserve(series []*pseries, nrecs int) {
	nt := 0
	for _, ps := range series {
		nt += len(ps.s.doses) + nrecs
	}
	if len(r.tbuf) < nt {
		r.tbuf = make([]target, nt)
	}
	if ne := len(series) * nrecs; len(r.ebuf) < ne {
		r.ebuf = make([]eval, ne)
	}
}

func (r *run) evals(n int) []eval {
	if len(r.ebuf) < n {
		r.ebuf = make([]eval, n)
	}
	e := r.ebuf[:n:n]
	r.ebuf = r.ebuf[n:]
	return e
}

type pdose struct {
	date     Date
	cvxID    int    // cvxEntry.id
	cvx, mvx string // cvx normalised
	raw      string // cvx as given
}

// rec is an antigen administered record.
type rec struct {
	dose  int // index into run.doses
	date  Date
	cvxID int // cvxEntry.id
	cvx   string
	mvx   string
}

type tStatus int8

const (
	tNotSatisfied tStatus = iota
	tSatisfied
	tSkipped
)

type target struct {
	sd     *seriesDose
	status tStatus
	rec    int // satisfying record, -1 if none
}

type eval struct {
	status      Status
	reasons     reasonSet
	target      int // index into targets; -1 when not evaluated against a target
	inadvertent bool
	done        bool
}

// pseries is a relevant patient series with its evaluation and forecast.
type pseries struct {
	s       *series
	recs    []rec
	targets []target
	evals   []eval
	fc      seriesForecast
	score   int
}

type seriesForecast struct {
	status                      SeriesStatus
	reason                      string
	target                      *seriesDose
	earliest, unadjRec, rec     Date
	unadjPastDue, pastDue, late Date
	finish                      Date // SELECTB-12
	completable                 bool
	priority                    bool // FORECASTPRIORITY-1
}

func (ps *pseries) validCount() int {
	n := 0
	for _, t := range ps.targets {
		if t.status == tSatisfied {
			n++
		}
	}
	return n
}

// Forecast evaluates the patient's immunization history and forecasts every
// vaccine group of the schedule as of asOf (the assessment date). It never
// reads the clock. Returns EINVALID naming the field (for example
// "doses[2].cvx") for an unknown CVX code, a dose before birth or after asOf,
// or a missing birth date.
func (s *Schedule) Forecast(p Patient, asOf time.Time) (res Result, err error) {
	defer recoverInternal(&err)
	r, err := s.newRun(p, asOf)
	if err != nil {
		return Result{}, err
	}
	return r.result(nil), nil
}

// recoverInternal turns a panic inside the engine (a bug, never expected) into
// an EINTERNAL error so that one bad history cannot take a server down.
func recoverInternal(err *error) {
	if v := recover(); v != nil {
		*err = registry.Errorf(registry.EINTERNAL, "schedule engine failure: %v", v)
	}
}

// ForecastGroups is Forecast restricted to the named vaccine groups (as named
// in the supporting data, for example "COVID-19"); only the antigens of those
// groups are processed, and only their evaluations are returned.
func (s *Schedule) ForecastGroups(p Patient, asOf time.Time, groups ...string) (res Result, err error) {
	defer recoverInternal(&err)
	r, err := s.newRun(p, asOf)
	if err != nil {
		return Result{}, err
	}
	want := make(map[string]bool, len(groups))
	for _, g := range groups {
		found := false
		for _, vg := range s.groups {
			if strings.EqualFold(vg.name, g) {
				want[vg.name] = true
				found = true
			}
		}
		if !found {
			return Result{}, registry.FieldErrorf(registry.EINVALID, "vaccine_group", "unknown vaccine group %q", g)
		}
	}
	return r.result(want), nil
}

func (s *Schedule) newRun(p Patient, asOf time.Time) (*run, error) {
	if p.BirthDate.IsZero() {
		return nil, registry.FieldErrorf(registry.EINVALID, "birth_date", "birth date is required")
	}
	if asOf.IsZero() {
		return nil, registry.FieldErrorf(registry.EINVALID, "assessment_date", "assessment date is required")
	}
	r := &run{s: s, dob: DateOf(p.BirthDate), asOf: DateOf(asOf), country: p.BirthCountry}
	r.dobY, r.dobM, r.dobD = r.dob.Civil()
	if r.asOf < r.dob {
		return nil, registry.FieldErrorf(registry.EINVALID, "assessment_date", "assessment date %s is before the birth date %s", r.asOf, r.dob)
	}
	switch strings.ToLower(strings.TrimSpace(p.Sex)) {
	case "f", "female":
		r.sex = "female"
	case "m", "male":
		r.sex = "male"
	case "", "u", "unknown":
		r.sex = "unknown"
	default:
		return nil, registry.FieldErrorf(registry.EINVALID, "sex", "sex %q is not F, M or unknown", p.Sex)
	}
	if len(p.Doses) > MaxDoses {
		return nil, registry.FieldErrorf(registry.EINVALID, "doses", "%d doses exceed the limit of %d", len(p.Doses), MaxDoses)
	}
	if len(p.Observations) > MaxDoses {
		return nil, registry.FieldErrorf(registry.EINVALID, "observations", "%d observations exceed the limit of %d", len(p.Observations), MaxDoses)
	}
	r.doses = make([]pdose, len(p.Doses))
	r.byAnt = map[string][]rec{}
	var counts map[string]int // antigen administered records per antigen
	nrecs := 0
	for i, d := range p.Doses {
		field := "doses[" + itoa(i) + "]"
		if d.Date.IsZero() {
			return nil, registry.FieldErrorf(registry.EINVALID, field+".date", "dose date is required")
		}
		dd := DateOf(d.Date)
		if dd < r.dob {
			return nil, registry.FieldErrorf(registry.EINVALID, field+".date", "dose date %s is before the birth date %s", dd, r.dob)
		}
		if dd > r.asOf {
			return nil, registry.FieldErrorf(registry.EINVALID, field+".date", "dose date %s is after the assessment date %s", dd, r.asOf)
		}
		cvx := normCVX(d.CVX)
		e, ok := s.cvx[cvx]
		if !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, field+".cvx", "unknown CVX code %q in schedule %s", d.CVX, s.name)
		}
		r.doses[i] = pdose{date: dd, cvxID: e.id, cvx: cvx, mvx: strings.ToUpper(strings.TrimSpace(d.MVX)), raw: strings.TrimSpace(d.CVX)}
		for _, as := range e.associations {
			if r.associated(as, dd) {
				if counts == nil {
					counts = map[string]int{}
				}
				counts[as.antigen]++
				nrecs++
			}
		}
	}
	// §4.2: split the doses into antigen administered records, honouring
	// the association begin and end ages; each antigen's records are a
	// slice of one arena, sized by the count above.
	arena := make([]rec, nrecs)
	for a, n := range counts {
		r.byAnt[a] = arena[:0:n]
		arena = arena[n:]
	}
	for i := range r.doses {
		d := &r.doses[i]
		for _, as := range s.cvx[d.cvx].associations {
			if r.associated(as, d.date) {
				r.byAnt[as.antigen] = append(r.byAnt[as.antigen], rec{dose: i, date: d.date, cvxID: d.cvxID, cvx: d.cvx, mvx: d.mvx})
			}
		}
	}
	for a, rs := range r.byAnt {
		slices.SortStableFunc(rs, func(a, b rec) int { return int(a.date - b.date) })
		r.byAnt[a] = rs
	}
	if len(p.Observations) > 0 {
		r.obs = make(map[string]Date, len(p.Observations))
	}
	for i, o := range p.Observations {
		code := strings.TrimSpace(o.Code)
		if code == "" {
			return nil, registry.FieldErrorf(registry.EINVALID, "observations["+itoa(i)+"].code", "observation code is required")
		}
		var od Date
		if !o.Date.IsZero() {
			od = DateOf(o.Date)
			if od > r.asOf {
				continue // not yet active at the assessment date
			}
		}
		if prev, ok := r.obs[code]; !ok || od > prev {
			r.obs[code] = od
		}
	}
	return r, nil
}

// associated reports whether a dose given on date d counts for the
// association's antigen: on or after its begin age and before its end age.
func (r *run) associated(as association, d Date) bool {
	if as.begin.Set && d < r.age(as.begin) {
		return false
	}
	return !as.end.Set || d < r.age(as.end)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

func (r *run) hasObs(code string) bool {
	_, ok := r.obs[code]
	return ok
}

// antigenResult is the outcome of evaluating and forecasting one antigen.
type antigenResult struct {
	name     string
	relevant []*pseries
	best     []*pseries
	rep      []*pseries // reportable best series, computed by evalFor
}

func (r *run) result(groups map[string]bool) Result {
	nf := len(r.s.groups)
	if groups != nil {
		nf = len(groups)
	}
	res := Result{Evaluations: make([]Evaluation, 0, len(r.doses)), Forecasts: make([]Forecast, 0, nf)}
	ants := map[string]*antigenResult{}
	for _, g := range r.s.groups {
		if groups != nil && !groups[g.name] {
			continue
		}
		var parts []*antigenResult
		for _, an := range g.antigens {
			a := r.s.antigens[an]
			if a == nil {
				continue
			}
			ar := r.antigen(a)
			ants[an] = ar
			parts = append(parts, ar)
		}
		res.Forecasts = r.groupForecasts(res.Forecasts, g, parts)
	}
	// Evaluations, in the order of the doses and of the CVX map associations.
	for i, d := range r.doses {
		e := r.s.cvx[d.cvx]
		for _, as := range e.associations {
			ar, ok := ants[as.antigen]
			if !ok {
				continue
			}
			ev, ps, found := ar.evalFor(i)
			if !found {
				continue
			}
			out := Evaluation{DoseIndex: i, Date: d.date.String(), CVX: d.raw, Antigen: as.antigen, Status: ev.status, Reason: ev.reasons.String()}
			if ps != nil {
				out.Series = ps.s.name
			}
			res.Evaluations = append(res.Evaluations, out)
		}
	}
	return res
}

// evalFor returns the evaluation of patient dose i for the antigen, from its
// first best patient series, else from its first relevant patient series.
//
// When several best series are reported, the most useful status wins: valid
// (the dose counts on some path), then not valid and sub-standard (it must
// be repeated), then extraneous.
func (ar *antigenResult) evalFor(dose int) (eval, *pseries, bool) {
	rank := func(s Status) int {
		switch s {
		case Valid:
			return 4
		case NotValid:
			return 3
		case SubStandard:
			return 2
		}
		return 1
	}
	if ar.rep == nil {
		ar.rep = reportable([]*antigenResult{ar})
	}
	for pass := 0; pass < 2; pass++ {
		set := ar.rep
		if pass == 1 {
			set = ar.relevant
		}
		var best eval
		var from *pseries
		for _, ps := range set {
			for k, rc := range ps.recs {
				if rc.dose == dose && (from == nil || rank(ps.evals[k].status) > rank(best.status)) {
					best, from = ps.evals[k], ps
				}
			}
		}
		if from != nil {
			return best, from, true
		}
	}
	return eval{}, nil, false
}

// antigen runs §4.3–4.5 for one antigen.
func (r *run) antigen(a *antigen) *antigenResult {
	ar := &antigenResult{name: a.name}
	recs := r.byAnt[a.name]
	if r.inRecs == nil {
		r.inRecs = make([]bool, len(r.doses))
	}
	clear(r.inRecs)
	for _, rc := range recs {
		r.inRecs[rc.dose] = true
	}
	// One allocation for the antigen's relevant patient series; the slices
	// do not grow, so the pointers into them stay valid.
	n := 0
	for _, s := range a.series {
		if r.relevantSeries(s) {
			n++
		}
	}
	pss := make([]pseries, n)
	ar.relevant = make([]*pseries, n)
	for i, k := 0, 0; i < len(a.series); i++ {
		if s := a.series[i]; r.relevantSeries(s) {
			pss[k].s, pss[k].recs = s, recs
			ar.relevant[k] = &pss[k]
			k++
		}
	}
	r.reserve(ar.relevant, len(recs))
	for _, ps := range ar.relevant {
		r.evaluate(ps)
		r.forecast(a, ps)
	}
	if a.hasCompletedDep && len(ar.relevant) > 0 {
		// Conditional skips of type "Completed Series" depend on the status
		// of other series of the antigen: re-run once with the statuses of
		// the first pass.
		if r.complete == nil {
			r.complete = map[string]bool{}
		}
		for _, ps := range ar.relevant {
			if ps.fc.status == Complete {
				r.complete[a.name+"|"+ps.s.group] = true
			}
		}
		r.reserve(ar.relevant, len(recs))
		again := make([]pseries, len(ar.relevant))
		for i, ps := range ar.relevant {
			np := &again[i]
			np.s, np.recs = ps.s, recs
			r.evaluate(np)
			r.forecast(a, np)
			ar.relevant[i] = np
		}
	}
	ar.best = r.selectBest(ar.relevant)
	return ar
}

// relevantSeries implements §5.1 (Tables 5-4 and 5-5).
func (r *run) relevantSeries(s *series) bool {
	if len(s.genders) > 0 {
		ok := false
		for _, g := range s.genders {
			if g == r.sex {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if s.typ != seriesRisk {
		return true
	}
	if len(r.obs) == 0 {
		return false
	}
	for _, in := range s.indications {
		if !r.hasObs(in.code) {
			continue
		}
		begin, end := minDate, maxDate
		if in.begin.Set {
			begin = r.age(in.begin)
		}
		if in.end.Set {
			end = r.age(in.end)
		}
		if begin <= r.asOf && r.asOf < end {
			return true
		}
	}
	return false
}

func ageFor(sd *seriesDose, d Date) *ageRule {
	for i := range sd.ages {
		if sd.ages[i].applies(d) {
			return &sd.ages[i]
		}
	}
	return nil
}

// evaluate implements the evaluate-immunization-history process (§4.4,
// Figure 4-6) with the chapter 6 evaluation of each record.
func (r *run) evaluate(ps *pseries) {
	ps.targets = r.targets(len(ps.s.doses), len(ps.recs))
	for i, sd := range ps.s.doses {
		ps.targets[i] = target{sd: sd, rec: -1}
	}
	ps.evals = r.evals(len(ps.recs))
	td := 0
	for i := range ps.recs {
		ev := &ps.evals[i]
		ev.target = -1
		for {
			if td >= len(ps.targets) {
				// §4.4 step 6a: no more target doses.
				ev.status = Extraneous
				ev.reasons = rsComplete
				ev.done = true
				break
			}
			sd := ps.targets[td].sd
			if r.skipTarget(ps, sd, ctxEvaluation, ps.recs[i].date, i, r.prevDate(ps, i)) {
				ps.targets[td].status = tSkipped
				td++
				continue
			}
			ev.target = td
			if r.evalDose(ps, i, sd) {
				ps.targets[td].status = tSatisfied
				ps.targets[td].rec = i
				if sd.recurring {
					// §4.4 step 5a: a recurring target dose repeats right after itself.
					ps.targets = append(ps.targets, target{})
					copy(ps.targets[td+2:], ps.targets[td+1:])
					ps.targets[td+1] = target{sd: sd, rec: -1}
				}
				td++
			}
			break
		}
	}
}

// prevDate returns the date of the record immediately before record i (any
// status), or 0 (CALCDTSKIP-5).
func (r *run) prevDate(ps *pseries, i int) Date {
	if i == 0 {
		return 0
	}
	return ps.recs[i-1].date
}

// evalDose evaluates record i against target dose sd (§6.3–6.10) and reports
// whether the target dose is satisfied.
func (r *run) evalDose(ps *pseries, i int, sd *seriesDose) bool {
	rc := ps.recs[i]
	ev := &ps.evals[i]
	ev.done = true
	// §6.3 inadvertent vaccine.
	for _, c := range sd.inadvertent {
		if c == rc.cvx {
			ev.status = NotValid
			ev.reasons = rsInadvertent
			ev.inadvertent = true
			return false
		}
	}
	var reasons reasonSet
	// §6.4 age.
	tooOld, tooYoung := false, false
	if age := ageFor(sd, rc.date); age != nil {
		absMin, min, max := minDate, minDate, maxDate
		if age.absMin.Set {
			absMin = r.age(age.absMin)
		}
		if age.min.Set {
			min = r.age(age.min)
		}
		if age.max.Set {
			max = r.age(age.max)
		}
		switch {
		case rc.date < absMin:
			tooYoung = true
			reasons |= rsTooYoung
		case rc.date < min:
			reasons |= rsAgeGrace
		case rc.date >= max:
			tooOld = true
			reasons |= rsTooOld
		}
	}
	// §6.5 preferable intervals.
	prefOK := true
	prefGrace := false
	for k := range sd.intervals {
		iv := &sd.intervals[k]
		if !iv.applies(rc.date) {
			continue
		}
		ref := r.refDate(ps, iv, i)
		if ref == 0 {
			continue
		}
		absMin, min := minDate, minDate
		if iv.absMin.Set {
			absMin = ref.Add(iv.absMin)
		}
		if iv.min.Set {
			min = ref.Add(iv.min)
		}
		if rc.date < absMin {
			prefOK = false
		} else if rc.date < min {
			prefGrace = true
		}
	}
	intervalOK := prefOK
	if !prefOK {
		// §6.6 allowable intervals: with none defined the dose cannot be
		// validated this way.
		allowOK, any := true, false
		for k := range sd.allowIntervals {
			iv := &sd.allowIntervals[k]
			if !iv.applies(rc.date) {
				continue
			}
			any = true
			ref := r.refDate(ps, iv, i)
			if ref == 0 {
				continue
			}
			absMin := minDate
			if iv.absMin.Set {
				absMin = ref.Add(iv.absMin)
			}
			if rc.date < absMin {
				allowOK = false
			}
		}
		intervalOK = any && allowOK
		if !intervalOK {
			reasons |= rsTooSoon
		}
	} else if prefGrace {
		reasons |= rsIntervalGrace
	}
	// §6.7 vaccine conflict.
	conflicted := r.conflicted(ps, i)
	if conflicted {
		reasons |= rsConflict
	}
	// §6.8 and §6.9 preferable or allowable vaccine.
	vaccineOK := false
	for _, pv := range sd.preferable {
		if pv.cvx != rc.cvx || !r.inAgeRange(rc.date, pv.begin, pv.end) {
			continue
		}
		if pv.mvx != "" && rc.mvx != "" && !strings.EqualFold(pv.mvx, rc.mvx) {
			continue
		}
		vaccineOK = true
		break
	}
	if !vaccineOK {
		for _, av := range sd.allowable {
			if av.cvx == rc.cvx && r.inAgeRange(rc.date, av.begin, av.end) {
				vaccineOK = true
				break
			}
		}
	}
	if !vaccineOK {
		reasons |= rsVaccine
	}
	// §6.10 satisfy target dose (Table 6-31).
	ev.reasons = reasons
	switch {
	case tooOld:
		ev.status = Extraneous
		return false
	case tooYoung || !intervalOK || conflicted || !vaccineOK:
		ev.status = NotValid
		return false
	}
	ev.status = Valid
	return true
}

func (r *run) inAgeRange(d Date, begin, end Duration) bool {
	if begin.Set && d < r.age(begin) {
		return false
	}
	if end.Set && d >= r.age(end) {
		return false
	}
	return true
}

// refDate returns the reference date of an interval for a dose evaluated or
// forecast after records [0, upto) (CALCDTINT-1, -2, -8, -9), or 0 when there
// is none.
func (r *run) refDate(ps *pseries, iv *interval, upto int) Date {
	switch {
	case iv.fromPrevious:
		for j := upto - 1; j >= 0; j-- {
			ev := &ps.evals[j]
			if ev.inadvertent || !ev.done {
				continue
			}
			if ev.status == Valid || ev.status == NotValid {
				return ps.recs[j].date
			}
		}
		return 0
	case iv.fromTargetDose > 0:
		for _, t := range ps.targets {
			if t.sd.number == iv.fromTargetDose && t.status == tSatisfied && t.rec >= 0 && t.rec < upto {
				return ps.recs[t.rec].date
			}
		}
		return 0
	case len(iv.fromMostRecent) > 0:
		// CALCDTINT-8: the most recent vaccine dose administered of one of
		// the vaccine types, not an inadvertent administration. The types
		// may lie outside the antigen (Td for pertussis, varicella for
		// zoster), so the patient's other doses count too.
		var ref Date
		for j := upto - 1; j >= 0; j-- {
			if !ps.evals[j].inadvertent && iv.recent.has(ps.recs[j].cvxID) {
				ref = ps.recs[j].date
				break
			}
		}
		limit := recLimit(ps, upto)
		for k := range r.doses {
			d := &r.doses[k]
			if d.date > ref && d.date < limit && iv.recent.has(d.cvxID) && !r.hasRec(k) {
				ref = d.date
			}
		}
		return ref
	case iv.fromObs != "":
		if d, ok := r.obs[iv.fromObs]; ok {
			return d
		}
		return 0
	}
	return 0
}

// recLimit is the date before which patient doses outside the antigen count
// as previous doses when records [0, upto) of the series count: the date of
// record upto when evaluating it, else (forecasting) after every dose.
func recLimit(ps *pseries, upto int) Date {
	if upto < len(ps.recs) {
		return ps.recs[upto].date
	}
	return maxDate + 1
}

// hasRec reports whether patient dose k is an antigen administered record of
// the antigen being processed (every series of an antigen has the same
// records, marked in r.inRecs by run.antigen).
func (r *run) hasRec(k int) bool { return r.inRecs[k] }

// conflicted implements §6.7 (CALCDTCONFLICT-1, -2 and CONFLICT-3) for record i.
func (r *run) conflicted(ps *pseries, i int) bool {
	rc := ps.recs[i]
	cs := r.s.byCurrent[rc.cvx]
	for k := range cs {
		c := &cs[k]
		for j, d := range r.doses {
			if j == rc.dose || d.cvx != c.previous || d.date >= rc.date {
				continue
			}
			begin := d.date.Add(c.begin)
			end := d.date.Add(c.minEnd)
			if st, ok := r.statusOf(ps, j); ok && st != Valid {
				end = d.date.Add(c.endInt)
			}
			if begin <= rc.date && rc.date < end {
				return true
			}
		}
	}
	return false
}

// statusOf returns the evaluation status of patient dose j in the series,
// if it has one.
func (r *run) statusOf(ps *pseries, dose int) (Status, bool) {
	for k, rc := range ps.recs {
		if rc.dose == dose && ps.evals[k].done {
			return ps.evals[k].status, true
		}
	}
	return "", false
}

// skipTarget reports whether any conditional skip of sd for the context
// allows the target dose to be skipped. ref is the conditional skip reference
// date (CONDSKIP-2); the sets in effect are chosen by the date administered
// when evaluating (RELEVANT-1) and by the assessment date when forecasting
// (RELEVANT-2), also when the forecast is validated at its earliest date.
func (r *run) skipTarget(ps *pseries, sd *seriesDose, ctx skipContext, ref Date, upto int, prev Date) bool {
	anchor := ref
	if ctx == ctxForecast {
		anchor = r.asOf
	}
	for _, cs := range sd.skips {
		if cs.context&ctx != 0 && r.skip(ps, cs, ref, anchor, upto, prev) {
			return true
		}
	}
	return false
}

// skip implements §6.2 (Tables 6-5 to 6-11). ref is the conditional skip
// reference date (CONDSKIP-2), anchor the date that selects the sets in
// effect (RELEVANT-1, RELEVANT-2), upto the number of records that count,
// and prev the date of the immediate previous dose (0 if none).
func (r *run) skip(ps *pseries, cs *condSkip, ref, anchor Date, upto int, prev Date) bool {
	met, relevant := 0, 0
	for si := range cs.sets {
		set := &cs.sets[si]
		if !set.applies(anchor) {
			continue
		}
		relevant++
		n := 0
		for ci := range set.conds {
			if r.condMet(ps, &set.conds[ci], ref, upto, prev) {
				n++
			}
		}
		ok := false
		if set.condAnd {
			ok = n == len(set.conds) && n > 0
		} else {
			ok = n > 0
		}
		if ok {
			met++
		}
	}
	if relevant == 0 || met == 0 {
		return false
	}
	if cs.setAnd {
		return met == relevant
	}
	return true
}

func (r *run) condMet(ps *pseries, c *skipCond, ref Date, upto int, prev Date) bool {
	switch c.typ {
	case condAge:
		begin, end := minDate, maxDate
		if c.begin.Set {
			begin = r.age(c.begin)
		}
		if c.endAg.Set {
			end = r.age(c.endAg)
		}
		return begin <= ref && ref < end
	case condCompletedSeries:
		for _, g := range c.seriesGroups {
			if r.complete[ps.s.antigen+"|"+g] {
				return true
			}
		}
		return false
	case condInterval:
		if prev == 0 || !c.interval.Set {
			return false
		}
		return ref >= prev.Add(c.interval)
	case condCount:
		begin, end := minDate, maxDate
		if c.begin.Set {
			begin = r.age(c.begin)
		}
		if c.endAg.Set {
			end = r.age(c.endAg)
		}
		start, stop := minDate, maxDate
		if c.start != 0 {
			start = c.start
		}
		if c.end != 0 {
			stop = c.end
		}
		n := 0
		for j := 0; j < upto && j < len(ps.recs); j++ {
			rc := ps.recs[j]
			if len(c.vaccines) > 0 && !c.vaccineSet.has(rc.cvxID) {
				continue
			}
			if rc.date < begin || rc.date >= end || rc.date < start || rc.date >= stop {
				continue
			}
			if c.validOnly && !(ps.evals[j].done && ps.evals[j].status == Valid) {
				continue
			}
			n++
		}
		if len(c.vaccines) > 0 && !c.validOnly {
			// CONDSKIP-1 counts vaccine doses administered, also those of
			// a listed vaccine type outside the antigen (Td for pertussis).
			// They have no evaluation status in this series, so only a
			// "Total" count includes them.
			limit := recLimit(ps, upto)
			for k := range r.doses {
				d := &r.doses[k]
				if d.date < limit && d.date >= begin && d.date < end && d.date >= start && d.date < stop &&
					c.vaccineSet.has(d.cvxID) && !r.hasRec(k) {
					n++
				}
			}
		}
		switch c.logic {
		case countGreater:
			return n > c.count
		case countEqual:
			return n == c.count
		case countLess:
			return n < c.count
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
