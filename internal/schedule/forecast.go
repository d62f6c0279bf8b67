package schedule

import (
	"slices"
	"strings"
)

// forecast implements chapter 7 for one relevant patient series after its
// evaluation.
func (r *run) forecast(a *antigen, ps *pseries) {
	fc := &ps.fc
	*fc = seriesForecast{}
	td := 0
	for td < len(ps.targets) && ps.targets[td].status != tNotSatisfied {
		td++
	}
	// The evaluation may have stopped on a target that a later record did
	// not satisfy; the current target is the first one not satisfied and not
	// skipped.
	upto := len(ps.recs)
	prev := Date(0)
	if upto > 0 {
		prev = ps.recs[upto-1].date
	}
	immune := r.immune(a)
	antigenContra := r.antigenContraindicated(a)
	for {
		// §7.1 conditional skip at the assessment date.
		for td < len(ps.targets) {
			sd := ps.targets[td].sd
			if r.skipTarget(ps, sd, ctxForecast, r.asOf, upto, prev) {
				ps.targets[td].status = tSkipped
				td++
				continue
			}
			break
		}
		// §7.4 determine forecast need (Table 7-10).
		switch {
		case immune:
			fc.status, fc.reason = Immune, "Patient has evidence of immunity"
			return
		case antigenContra || (td < len(ps.targets) && r.vaccineContraindicated(a, ps.targets[td].sd)):
			fc.status, fc.reason = Contraindicated, "Patient has a contraindication"
			return
		case td >= len(ps.targets):
			if ps.validCount() > 0 {
				fc.status, fc.reason = Complete, "Patient series is complete"
			} else {
				fc.status, fc.reason = NotRecommended, "Not recommended at this time due to past immunization history"
			}
			return
		}
		sd := ps.targets[td].sd
		fc.target = sd
		if sd.seasonEnd != 0 && r.asOf > sd.seasonEnd {
			fc.status, fc.reason = NotRecommended, "Past seasonal recommendation end date"
			return
		}
		age := ageFor(sd, r.asOf)
		var maxAge Date
		if age != nil && age.max.Set {
			maxAge = r.age(age.max)
		}
		if maxAge != 0 && r.asOf >= maxAge {
			fc.status, fc.reason = AgedOut, "Patient has exceeded the maximum age"
			return
		}
		r.dates(ps, sd, age, upto)
		// Table 7-9: an empty candidate earliest date or maximum age date is
		// assumed to be 12/31/2999.
		cand, limit := fc.earliest, maxAge
		if cand == 0 {
			cand = maxDate
		}
		if limit == 0 {
			limit = maxDate
		}
		if cand >= limit {
			fc.status, fc.reason = AgedOut, "Patient is unable to finish the series prior to the maximum age"
			fc.clearDates()
			return
		}
		// §7.6 validate the recommendation at the earliest date.
		if r.skipTarget(ps, sd, ctxForecast, fc.earliest, upto, prev) {
			ps.targets[td].status = tSkipped
			td++
			fc.clearDates()
			continue
		}
		fc.status = NotComplete
		r.finish(ps, td)
		return
	}
}

func (fc *seriesForecast) clearDates() {
	fc.earliest, fc.unadjRec, fc.rec, fc.unadjPastDue, fc.pastDue, fc.late = 0, 0, 0, 0, 0, 0
}

// dates implements §7.5 (FORECASTDTCAN-1, FORECASTDT-1 … -6).
func (r *run) dates(ps *pseries, sd *seriesDose, age *ageRule, upto int) {
	fc := &ps.fc
	var earliest, recAge, pastAge, maxAge Date
	var recInt, pastInt Date
	if age != nil {
		if age.min.Set {
			earliest = r.age(age.min)
		}
		if age.earliestRec.Set {
			recAge = r.age(age.earliestRec)
		}
		if age.latestRec.Set {
			pastAge = r.age(age.latestRec)
		}
		if age.max.Set {
			maxAge = r.age(age.max)
		}
	}
	nPref, nPrio := 0, 0
	for k := range sd.intervals {
		iv := &sd.intervals[k]
		if !iv.applies(r.asOf) {
			continue
		}
		nPref++
		if iv.priority {
			nPrio++
		}
		ref := r.refDate(ps, iv, upto)
		if ref == 0 {
			continue
		}
		earliest = maxD(earliest, after(ref, iv.min))
		recInt = maxD(recInt, after(ref, iv.earliestRec))
		pastInt = maxD(pastInt, after(ref, iv.latestRec))
	}
	fc.priority = nPref > 0 && nPrio == nPref
	// Forecast conflict end dates (CALCDTCONFLICT-3).
	for k := range sd.conflicts {
		c := &sd.conflicts[k]
		for _, d := range r.doses {
			if d.cvx == c.previous {
				earliest = maxD(earliest, d.date.Add(c.endInt))
			}
		}
	}
	earliest = maxD(earliest, sd.seasonStart)
	// The most recent record evaluated against a target dose of the series
	// (including inadvertent administrations).
	for j := upto - 1; j >= 0; j-- {
		if ps.evals[j].target >= 0 {
			earliest = maxD(earliest, ps.recs[j].date)
			break
		}
	}
	fc.earliest = earliest
	if earliest == 0 {
		// No minimum age, interval, season or dose to start from: the
		// candidate earliest date is empty (Table 7-9).
		return
	}
	switch {
	case recAge != 0:
		fc.unadjRec = recAge
	case recInt != 0:
		fc.unadjRec = recInt
	default:
		fc.unadjRec = earliest
	}
	switch {
	case pastAge != 0:
		fc.unadjPastDue = pastAge - 1
	case pastInt != 0:
		fc.unadjPastDue = pastInt - 1
	}
	if maxAge != 0 {
		fc.late = maxAge - 1
	}
	fc.rec = maxD(earliest, fc.unadjRec)
	if fc.unadjPastDue != 0 {
		fc.pastDue = maxD(earliest, fc.unadjPastDue)
	}
}

// finish computes the forecast finish date (SELECTB-12) and whether the
// series is completable (SELECTB-3).
func (r *run) finish(ps *pseries, td int) {
	fc := &ps.fc
	var latestMin Duration
	var latestDays int
	for k := td + 1; k < len(ps.targets); k++ {
		sd := ps.targets[k].sd
		for i := range sd.intervals {
			iv := &sd.intervals[i]
			if !iv.applies(r.asOf) || !iv.min.Set {
				continue
			}
			// Compare durations by their effect from the earliest date.
			d := int(fc.earliest.Add(iv.min) - fc.earliest)
			if !latestMin.Set || d > latestDays {
				latestMin, latestDays = iv.min, d
			}
		}
	}
	fc.finish = fc.earliest
	if latestMin.Set {
		fc.finish = fc.earliest.Add(latestMin)
	}
	fc.completable = true
	last := ps.targets[len(ps.targets)-1].sd
	if age := ageFor(last, r.asOf); age != nil && age.max.Set {
		fc.completable = fc.finish < r.age(age.max)
	}
}

func maxD(a, b Date) Date {
	if b > a {
		return b
	}
	return a
}

// immune implements §7.2 (Table 7-3).
func (r *run) immune(a *antigen) bool {
	for _, g := range a.immunity.guidelines {
		if r.hasObs(g) {
			return true
		}
	}
	for _, b := range a.immunity.birth {
		if r.dob >= b.before {
			continue
		}
		excluded := false
		for _, x := range b.exclusions {
			if r.hasObs(x) {
				excluded = true
			}
		}
		if excluded {
			continue
		}
		if b.country == "" || countryMatch(b.country, r.country) {
			return true
		}
	}
	return false
}

func countryMatch(want, got string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.TrimSpace(s))
		s = strings.ReplaceAll(s, ".", "")
		switch s {
		case "US", "USA", "UNITED STATES":
			return "US"
		}
		return s
	}
	return got != "" && norm(want) == norm(got)
}

// antigenContraindicated implements Table 7-5.
func (r *run) antigenContraindicated(a *antigen) bool {
	for _, c := range a.groupContra {
		if r.hasObs(c.code) && r.inAgeRange(r.asOf, c.begin, c.end) {
			return true
		}
	}
	return false
}

// vaccineContraindicated implements Tables 7-6 and 7-7 for the target dose:
// true when every vaccine that could satisfy it has an applicable vaccine
// contraindication. Table 7-7 names the preferable vaccines only; Haven also
// requires every allowable vaccine to be contraindicated, because an allowable
// vaccine (DT after encephalopathy following DTaP) still satisfies the target
// dose. CDC case 2016-UC-0003 expects exactly this (docs/cdsi-conformance.md).
func (r *run) vaccineContraindicated(a *antigen, sd *seriesDose) bool {
	if len(a.vaccineContra) == 0 || len(sd.preferable) == 0 {
		return false
	}
	for _, pv := range sd.preferable {
		if !r.vaccineContra(a, pv.cvx) {
			return false
		}
	}
	for _, av := range sd.allowable {
		if !r.vaccineContra(a, av.cvx) {
			return false
		}
	}
	return true
}

func (r *run) vaccineContra(a *antigen, cvx string) bool {
	for _, c := range a.vaccineContra {
		if !r.hasObs(c.code) {
			continue
		}
		for _, v := range c.vaccines {
			if v.cvx == cvx && r.inAgeRange(r.asOf, v.begin, v.end) {
				return true
			}
		}
	}
	return false
}

// selectBest implements chapter 8: one prioritized patient series per series
// group, then the best patient series among them.
func (r *run) selectBest(relevant []*pseries) []*pseries {
	if len(relevant) == 0 {
		return nil
	}
	// Series groups in order of first appearance, with their prioritized
	// patient series.
	type group struct {
		name string
		p    *pseries
	}
	var gbuf [8]group
	groups := gbuf[:0]
	for i, ps := range relevant {
		if firstOfGroup(relevant, i) {
			r.members = r.members[:0]
			for _, q := range relevant[i:] {
				if q.s.group == ps.s.group {
					r.members = append(r.members, q)
				}
			}
			groups = append(groups, group{ps.s.group, r.prioritize(r.members)})
		}
	}
	// equivalent reports whether series group b is one of the equivalent
	// series groups named by the series of group a. The relation is
	// directed: standard series name the risk group that supersedes them.
	equivalent := func(a, b string) bool {
		if a == b {
			return false
		}
		for _, ps := range relevant {
			if ps.s.group == a && contains(ps.s.equivalent, b) {
				return true
			}
		}
		return false
	}
	best := make([]*pseries, 0, len(groups))
	for _, g := range groups {
		p := g.p
		if p == nil {
			continue
		}
		// Table 8-14.
		if p.fc.status == Complete {
			best = append(best, p)
			continue
		}
		if p.s.typ == seriesEvalOnly {
			continue
		}
		eqComplete, eqRisk := false, false
		for _, h := range groups {
			q := h.p
			if q == nil || !equivalent(g.name, h.name) {
				continue
			}
			if q.fc.status == Complete {
				eqComplete = true
			}
			if q.s.typ == seriesRisk {
				eqRisk = true
			}
		}
		if eqComplete {
			continue
		}
		if p.s.typ == seriesRisk || !eqRisk {
			best = append(best, p)
		}
	}
	return best
}

// firstOfGroup reports whether l[i] is the first series of its series group
// in l.
func firstOfGroup(l []*pseries, i int) bool {
	for _, q := range l[:i] {
		if q.s.group == l[i].s.group {
			return false
		}
	}
	return true
}

// prioritize implements §8.1–8.7 for one series group.
func (r *run) prioritize(group []*pseries) *pseries {
	// §8.1 pre-filter (SELECTB-24, SELECTSCORE-2).
	allContra := true
	for _, ps := range group {
		if ps.fc.status != Contraindicated {
			allContra = false
		}
	}
	topPriority := ""
	for _, ps := range group {
		if topPriority == "" || strings.ToUpper(ps.s.priority) < topPriority {
			topPriority = strings.ToUpper(ps.s.priority)
		}
	}
	noneValid := true
	var def *pseries
	for _, ps := range group {
		if ps.validCount() > 0 {
			noneValid = false
		}
		if ps.s.isDefault && def == nil && r.startable(ps) {
			def = ps
		}
	}
	scorable := r.scorable[:0]
	defer func() { r.scorable = scorable[:0] }()
	for _, ps := range group {
		if !r.startable(ps) {
			continue
		}
		candidate := ps.fc.status != Contraindicated || allContra
		ok := false
		switch ps.s.typ {
		case seriesRisk:
			ok = candidate && strings.ToUpper(ps.s.priority) == topPriority
		case seriesStandard:
			if !candidate {
				break
			}
			if first := firstValid(ps); first != 0 {
				ok = !ps.s.maxAgeToStart.Set || first < r.age(ps.s.maxAgeToStart)
			} else if noneValid && def == nil {
				ok = true
			}
		case seriesEvalOnly:
			ok = ps.fc.status == Complete
		}
		if ok {
			scorable = append(scorable, ps)
		}
	}
	// §8.2 (Table 8-3).
	var complete, inProcess []*pseries
	for _, ps := range scorable {
		switch {
		case ps.fc.status == Complete:
			complete = append(complete, ps)
		case ps.fc.status == NotComplete && ps.validCount() > 0:
			inProcess = append(inProcess, ps)
		}
	}
	switch {
	case len(scorable) == 0:
		return def
	case len(scorable) == 1:
		return scorable[0]
	case len(complete) == 1:
		return complete[0]
	case len(complete) == 0 && len(inProcess) == 1:
		return inProcess[0]
	case len(complete) == 0 && len(inProcess) == 0 && def != nil:
		// Table 8-3 rule 5: the default series of the group, whether or
		// not it is itself scorable.
		return def
	}
	// §8.3 classify, §8.4–8.6 score.
	var scored []*pseries
	switch {
	case len(complete) >= 2:
		scored = complete
		scoreComplete(scored)
	case len(inProcess) >= 2:
		scored = inProcess
		scoreInProcess(scored)
	case allZero(scorable):
		scored = scorable
		scoreNoValid(scored)
	default:
		// Table 8-5 has no rule for this group (for example scorable series
		// that are all contraindicated, some with valid doses): score the
		// series with valid doses as in-process series, so that the one with
		// the most valid doses is preferred.
		for _, ps := range scorable {
			if ps.validCount() > 0 {
				scored = append(scored, ps)
			}
		}
		scoreInProcess(scored)
	}
	// §8.7 highest score, ties broken by series preference.
	slices.SortStableFunc(scored, func(a, b *pseries) int {
		if a.score != b.score {
			return b.score - a.score
		}
		return a.s.preference - b.s.preference
	})
	return scored[0]
}

// startable reports whether the series can be the patient's path yet: a
// series with no valid dose cannot be started before its minimum age to start
// (Appendix A glossary: "the earliest age an antigen series may be started").
// The maximum age to start is applied by SELECTSCORE-2 only.
func (r *run) startable(ps *pseries) bool {
	if ps.validCount() > 0 {
		return true
	}
	if ps.s.minAgeToStart.Set && r.asOf < r.age(ps.s.minAgeToStart) {
		return false
	}
	return true
}

func allZero(l []*pseries) bool {
	for _, ps := range l {
		if ps.validCount() > 0 {
			return false
		}
	}
	return true
}

func firstValid(ps *pseries) Date {
	for k := range ps.evals {
		if ps.evals[k].status == Valid {
			return ps.recs[k].date
		}
	}
	return 0
}

// award gives pts to series for which cond holds when exactly one does, 0
// when two or more do, and -pts to the others.
func award(list []*pseries, pts int, tieZero bool, cond func(*pseries) bool) {
	n := 0
	for _, ps := range list {
		if cond(ps) {
			n++
		}
	}
	for _, ps := range list {
		switch {
		case !cond(ps):
			ps.score -= pts
		case n >= 2 && tieZero:
		default:
			ps.score += pts
		}
	}
}

func mostValid(list []*pseries) func(*pseries) bool {
	m := 0
	for _, ps := range list {
		if v := ps.validCount(); v > m {
			m = v
		}
	}
	return func(ps *pseries) bool { return ps.validCount() >= m }
}

func scoreComplete(list []*pseries) {
	for _, ps := range list {
		ps.score = 0
	}
	award(list, 1, true, mostValid(list)) // Table 8-7
}

func scoreInProcess(list []*pseries) {
	for _, ps := range list {
		ps.score = 0
	}
	// Table 8-9.
	award(list, 2, false, func(ps *pseries) bool { return ps.s.productPath && allValid(ps) })
	award(list, 3, false, func(ps *pseries) bool { return ps.fc.completable })
	award(list, 2, true, mostValid(list))
	minLeft := -1
	for _, ps := range list {
		if l := notSatisfied(ps); minLeft < 0 || l < minLeft {
			minLeft = l
		}
	}
	award(list, 2, true, func(ps *pseries) bool { return notSatisfied(ps) == minLeft })
	var firstFinish Date
	for _, ps := range list {
		if ps.fc.completable && (firstFinish == 0 || ps.fc.finish < firstFinish) {
			firstFinish = ps.fc.finish
		}
	}
	award(list, 1, true, func(ps *pseries) bool { return ps.fc.completable && ps.fc.finish <= firstFinish })
}

func scoreNoValid(list []*pseries) {
	for _, ps := range list {
		ps.score = 0
	}
	// Table 8-11.
	var first Date
	for _, ps := range list {
		if ps.fc.earliest != 0 && (first == 0 || ps.fc.earliest < first) {
			first = ps.fc.earliest
		}
	}
	award(list, 1, true, func(ps *pseries) bool { return ps.fc.earliest != 0 && ps.fc.earliest == first })
	award(list, 1, false, func(ps *pseries) bool { return ps.fc.status == NotComplete && ps.fc.completable })
	for _, ps := range list {
		if ps.s.productPath {
			ps.score--
		} else {
			ps.score++
		}
	}
}

func allValid(ps *pseries) bool {
	for k := range ps.evals {
		if ps.evals[k].target >= 0 && ps.evals[k].status != Valid {
			return false
		}
	}
	return true
}

func notSatisfied(ps *pseries) int {
	n := 0
	for _, t := range ps.targets {
		if t.status == tNotSatisfied {
			n++
		}
	}
	return n
}

// groupForecasts implements chapter 9: it appends to dst one vaccine group
// forecast per series group that holds a best patient series of the group's
// antigens (DEFFORECAST-012, -013, -019; FORECASTVG-1). A multiple antigen
// vaccine group blends, in each forecast, the best series of its antigens
// that belong to the same series group, so that only series of the same
// series type are blended (chapter 9). The forecasts of the group are ordered
// by entryOrder, so that the first is the one a one-per-group consumer reads.
func (r *run) groupForecasts(dst []Forecast, g *vaccineGroup, parts []*antigenResult) []Forecast {
	fcs := reportable(parts)
	start := len(dst)
	members := make([]*pseries, 0, len(fcs))
	for i, ps := range fcs {
		if !firstOfGroup(fcs, i) {
			continue
		}
		members = members[:0]
		for _, q := range fcs[i:] {
			if q.s.group == ps.s.group {
				members = append(members, q)
			}
		}
		dst = append(dst, r.groupForecast(g, ps.s.group, members, parts))
	}
	if len(dst)-start > 1 {
		slices.SortStableFunc(dst[start:], entryOrder)
	}
	return dst
}

// entryOrder orders the forecasts of one vaccine group (docs/adr/0003): the
// forecast that a consumer reading one forecast per vaccine group should read
// comes first. That is the forecast the earlier merged vaccine group forecast
// agreed with: a contraindication first (Table 9-4 ranks it first), then the
// paths the patient can still follow (not complete), the one recommended
// first ahead (then the one due first), then aged out and not recommended,
// then immune and complete. Ties keep the series group order of the data.
func entryOrder(a, b Forecast) int {
	if d := statusOrder(a.SeriesStatus) - statusOrder(b.SeriesStatus); d != 0 {
		return d
	}
	if a.SeriesStatus != NotComplete {
		return 0
	}
	if c := cmpDateText(a.Recommended, b.Recommended); c != 0 {
		return c
	}
	return cmpDateText(a.Earliest, b.Earliest)
}

func statusOrder(s SeriesStatus) int {
	switch s {
	case Contraindicated:
		return 0
	case NotComplete:
		return 1
	case AgedOut:
		return 2
	case NotRecommended:
		return 3
	case Immune:
		return 4
	case Complete:
		return 5
	}
	return 6
}

// cmpDateText compares two YYYY-MM-DD dates; an empty date comes last.
func cmpDateText(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return strings.Compare(a, b)
}

// groupForecast makes the vaccine group forecast of group g for series group
// sg from fcs, the best patient series of that series group (chapter 9).
func (r *run) groupForecast(g *vaccineGroup, sg string, fcs []*pseries, parts []*antigenResult) Forecast {
	out := Forecast{VaccineGroup: g.name, SeriesGroup: sg}
	risk := false
	for _, ps := range fcs {
		if out.SeriesGroupName == "" {
			out.SeriesGroupName = ps.s.groupName
		}
		if ps.s.typGiven && (out.SeriesType == "" || !risk && ps.s.typ == seriesRisk) {
			out.SeriesType = ps.s.typ.String()
			risk = ps.s.typ == seriesRisk
		}
	}
	// Status: SINGLEANTVG-1, Table 9-4.
	has := func(st SeriesStatus) bool {
		for _, ps := range fcs {
			if ps.fc.status == st {
				return true
			}
		}
		return false
	}
	all := func(sts ...SeriesStatus) bool {
		for _, ps := range fcs {
			ok := false
			for _, st := range sts {
				if ps.fc.status == st {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	switch {
	case len(fcs) == 1:
		out.SeriesStatus = fcs[0].fc.status
	case has(Contraindicated):
		out.SeriesStatus = Contraindicated
	case has(AgedOut):
		out.SeriesStatus = AgedOut
	case has(NotRecommended):
		out.SeriesStatus = NotRecommended
	case has(NotComplete):
		out.SeriesStatus = NotComplete
	case all(Immune):
		out.SeriesStatus = Immune
	case all(Complete, Immune):
		out.SeriesStatus = Complete
	default:
		out.SeriesStatus = NotComplete
	}
	var reasons []string
	seen := map[string]bool{}
	for _, ps := range fcs {
		out.Series = append(out.Series, ps.s.name)
		if ps.fc.reason != "" && !seen[ps.fc.reason] {
			seen[ps.fc.reason] = true
			reasons = append(reasons, ps.fc.reason)
		}
		if ps.fc.status == NotComplete {
			out.Guidance = append(out.Guidance, ps.s.guidance...)
		}
	}
	out.Guidance = r.observationGuidance(out.Guidance, fcs, parts)
	out.Reason = strings.Join(reasons, "; ")
	if out.SeriesStatus != NotComplete {
		return out
	}
	var dated []*pseries
	for _, ps := range fcs {
		if ps.fc.status == NotComplete && ps.fc.earliest != 0 {
			dated = append(dated, ps)
		}
	}
	if len(dated) == 0 {
		return out
	}
	var earliest, rec, past, late Date
	multi := len(g.antigens) > 1
	priority := false
	for _, ps := range dated {
		if ps.fc.priority {
			priority = true
		}
	}
	for i, ps := range dated {
		f := &ps.fc
		if i == 0 {
			earliest, rec, past, late = f.earliest, f.rec, f.pastDue, f.late
			continue
		}
		if multi && !priority {
			earliest = maxD(earliest, f.earliest) // MULTIANTVG-1, no priority forecast
		} else if f.earliest < earliest {
			earliest = f.earliest // SINGLEANTVG-2 and MULTIANTVG-1 with priority
		}
		if f.rec < rec {
			rec = f.rec
		}
		if f.pastDue != 0 && (past == 0 || f.pastDue < past) {
			past = f.pastDue
		}
		if f.late != 0 && (late == 0 || f.late < late) {
			late = f.late
		}
	}
	if multi && priority {
		// MULTIANTVG-1: not before the latest dose of a vaccine in the group.
		for _, d := range r.doses {
			for _, as := range r.s.cvx[d.cvx].associations {
				if contains(g.antigens, as.antigen) {
					earliest = maxD(earliest, d.date)
				}
			}
		}
	}
	rec = maxD(rec, earliest) // FORECASTVG-2
	if past != 0 {
		past = maxD(past, earliest) // FORECASTVG-3
	}
	out.Earliest, out.Recommended, out.PastDue, out.Latest = earliest.String(), rec.String(), past.String(), late.String()
	return out
}

// observationGuidance adds to the series guidance (FORECASTGUIDANCE-1) the
// guidance of each indication of the forecast's series and of each
// contraindication of the forecast's antigens for which the patient has an
// active observation, once each.
func (r *run) observationGuidance(g []string, fcs []*pseries, parts []*antigenResult) []string {
	if len(r.obs) == 0 {
		return g
	}
	add := func(text, code string) {
		if text != "" && r.hasObs(code) && !slices.Contains(g, text) {
			g = append(g, text)
		}
	}
	for _, ps := range fcs {
		for _, in := range ps.s.indications {
			add(in.guidance, in.code)
		}
	}
	for _, ar := range parts {
		in := false
		for _, ps := range fcs {
			if ps.s.antigen == ar.name {
				in = true
			}
		}
		if !in {
			continue
		}
		a := r.s.antigens[ar.name]
		for _, c := range a.groupContra {
			add(c.guidance, c.code)
		}
		for _, c := range a.vaccineContra {
			add(c.guidance, c.code)
		}
	}
	return g
}

// reportable returns the best patient series of the antigens that make up a
// vaccine group forecast. When one antigen has several best series, a series
// of that antigen that has aged out is dropped in favour of the others: the
// patient can no longer follow it, and another path to immunity against the
// same antigen exists. An antigen whose only best series have aged out keeps
// them, so that Table 9-4 makes a multiple antigen vaccine group "Aged Out".
func reportable(parts []*antigenResult) []*pseries {
	var out []*pseries
	for _, ar := range parts {
		live := 0
		for _, ps := range ar.best {
			if ps.fc.status != AgedOut {
				live++
			}
		}
		for _, ps := range ar.best {
			if live == 0 || ps.fc.status != AgedOut {
				out = append(out, ps)
			}
		}
	}
	return out
}
