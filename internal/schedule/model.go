package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// The types in this file are the compiled form of the CDSi supporting data
// (Logic Specification v4.6, chapter 2.4 and appendix A). Every duration is
// parsed once at load time and every date once, so evaluation does no string
// work.

type antigen struct {
	name            string
	immunity        immunity
	groupContra     []antigenContra
	vaccineContra   []vaccineContra
	series          []*series
	hasCompletedDep bool // some conditional skip refers to completed series groups
}

type immunity struct {
	guidelines []string // clinical history observation codes
	birth      []immunityBirth
}

type immunityBirth struct {
	before     Date
	country    string
	exclusions []string
}

type antigenContra struct {
	code       string
	text       string
	guidance   string
	begin, end Duration
}

type vaccineContra struct {
	code     string
	text     string
	guidance string
	vaccines []contraVaccine
}

type contraVaccine struct {
	cvx        string
	begin, end Duration
}

type seriesType int

const (
	seriesStandard seriesType = iota
	seriesRisk
	seriesEvalOnly
)

func (t seriesType) String() string {
	switch t {
	case seriesRisk:
		return "risk"
	case seriesEvalOnly:
		return "evaluation_only"
	}
	return "standard"
}

type series struct {
	name          string
	antigen       string
	vaccineGroup  string
	guidance      []string
	typ           seriesType
	typGiven      bool // the data states the series type
	equivalent    []string
	genders       []string // lower case; empty means any
	isDefault     bool
	productPath   bool
	group         string
	groupName     string // seriesGroupName, for display
	priority      string
	preference    int
	minAgeToStart Duration
	maxAgeToStart Duration
	indications   []indication
	doses         []*seriesDose
}

type indication struct {
	code       string
	obsText    string // the observation's text in the indication
	text       string
	begin, end Duration
	guidance   string
}

type seriesDose struct {
	number         int // 1-based position in the series
	label          string
	ages           []ageRule
	intervals      []interval
	allowIntervals []interval
	preferable     []prefVaccine
	allowable      []allowVaccine
	inadvertent    []string
	skips          []*condSkip
	recurring      bool
	seasonStart    Date
	seasonEnd      Date
	conflicts      []conflict // conflicts impacting a preferable vaccine (set at load)
}

type effective struct {
	from, to Date // zero means unbounded
}

// applies implements RELEVANT-1 and RELEVANT-2: d must lie within the
// effective and cessation dates, where empty means unbounded.
func (e effective) applies(d Date) bool {
	if e.from != 0 && d < e.from {
		return false
	}
	if e.to != 0 && d > e.to {
		return false
	}
	return true
}

type ageRule struct {
	absMin, min, earliestRec, latestRec, max Duration
	effective
}

type interval struct {
	fromPrevious   bool
	fromTargetDose int // 0 when not used
	fromMostRecent []string
	recent         cvxSet // fromMostRecent as CVX ids (set by Schedule.check)
	fromObs        string
	fromObsText    string
	absMin, min    Duration
	earliestRec    Duration
	latestRec      Duration
	priority       bool
	effective
}

type prefVaccine struct {
	cvx        string
	begin, end Duration
	mvx        string
	forecast   bool
}

type allowVaccine struct {
	cvx        string
	begin, end Duration
}

type skipContext int

const (
	ctxEvaluation skipContext = 1 << iota
	ctxForecast
)

type condSkip struct {
	context skipContext
	setAnd  bool // set logic AND (default OR / n/a)
	sets    []skipSet
}

type skipSet struct {
	desc    string
	condAnd bool
	effective
	conds []skipCond
}

type condType int

const (
	condAge condType = iota
	condCompletedSeries
	condInterval
	condCount
)

type countLogic int

const (
	countGreater countLogic = iota
	countEqual
	countLess
)

type skipCond struct {
	typ          condType
	start, end   Date // zero means unbounded
	begin, endAg Duration
	interval     Duration
	count        int
	validOnly    bool
	logic        countLogic
	vaccines     []string
	vaccineSet   cvxSet // vaccines as CVX ids (set by Schedule.check)
	seriesGroups []string
}

type vaccineGroup struct {
	name     string
	fullOnly bool // administer full vaccine group
	antigens []string
}

type cvxEntry struct {
	id           int // dense index, for cvxSet
	cvx          string
	description  string
	associations []association
}

type association struct {
	antigen    string
	begin, end Duration
}

type conflict struct {
	previous, current     string
	begin, minEnd, endInt Duration
}

// cvxSet is a set of CVX codes as a bitset of cvxEntry ids, so that the
// engine tests membership without comparing strings.
type cvxSet []uint64

func (c cvxSet) has(id int) bool {
	w := id >> 6
	return id >= 0 && w < len(c) && c[w]&(1<<(uint(id)&63)) != 0
}

// cvxSetOf returns the set of the codes that the schedule's CVX map knows;
// a code it does not know can match no dose, so it is left out.
func (s *Schedule) cvxSetOf(codes []string) cvxSet {
	var set cvxSet
	for _, c := range codes {
		e, ok := s.cvx[c]
		if !ok {
			continue
		}
		for len(set) <= e.id>>6 {
			set = append(set, 0)
		}
		set[e.id>>6] |= 1 << (uint(e.id) & 63)
	}
	return set
}

// normCVX normalises a CVX code: trims space and leading zeros so that "03"
// and "3" match.
func normCVX(s string) string {
	s = strings.TrimSpace(s)
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func cvxList(s string) []string {
	l := splitList(s)
	for i := range l {
		l[i] = normCVX(l[i])
	}
	return l
}

func yes(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return s == "y" || s == "yes" || s == "true"
}

// fieldErr collects the first error while compiling one file.
type compiler struct {
	file string
	err  error
}

func (c *compiler) fail(n *node, format string, args ...any) {
	if c.err != nil {
		return
	}
	line := 0
	if n != nil {
		line = n.line
	}
	c.err = fmt.Errorf("%s:%d: %s", c.file, line, fmt.Sprintf(format, args...))
}

func (c *compiler) dur(n *node, name string) Duration {
	e := n.child(name)
	if e == nil {
		return Duration{}
	}
	d, err := ParseDuration(e.text)
	if err != nil {
		c.fail(e, "<%s>: %v", name, err)
	}
	return d
}

func (c *compiler) date(n *node, name string) Date {
	e := n.child(name)
	if e == nil || e.text == "" || strings.EqualFold(e.text, "n/a") {
		return 0
	}
	d, err := ParseDate(e.text)
	if err != nil {
		c.fail(e, "<%s>: %v", name, err)
	}
	return d
}

func (c *compiler) eff(n *node) effective {
	return effective{from: c.date(n, "effectiveDate"), to: c.date(n, "cessationDate")}
}

// compileAntigen turns one antigenSupportingData document into an antigen.
func (c *compiler) compileAntigen(root *node) *antigen {
	if root.name != "antigenSupportingData" {
		c.fail(root, "root element is <%s>, want <antigenSupportingData>", root.name)
		return nil
	}
	a := &antigen{}
	if im := root.child("immunity"); im != nil {
		for _, h := range im.all("clinicalHistory") {
			if code := h.val("guidelineCode"); code != "" {
				a.immunity.guidelines = append(a.immunity.guidelines, code)
			}
		}
		for _, b := range im.all("dateOfBirth") {
			ib := immunityBirth{before: c.date(b, "immunityBirthDate"), country: b.val("birthCountry")}
			for _, ex := range b.all("exclusion") {
				if code := ex.val("exclusionCode"); code != "" {
					ib.exclusions = append(ib.exclusions, code)
				}
			}
			if ib.before != 0 {
				a.immunity.birth = append(a.immunity.birth, ib)
			}
		}
	}
	if ci := root.child("contraindications"); ci != nil {
		for _, x := range ci.child("vaccineGroup").all("contraindication") {
			a.groupContra = append(a.groupContra, antigenContra{
				code: x.val("observationCode"), text: x.val("contraindicationText"), guidance: x.val("contraindicationGuidance"),
				begin: c.dur(x, "beginAge"), end: c.dur(x, "endAge"),
			})
		}
		for _, x := range ci.child("vaccine").all("contraindication") {
			vc := vaccineContra{code: x.val("observationCode"), text: x.val("contraindicationText"), guidance: x.val("contraindicationGuidance")}
			for _, v := range x.all("contraindicatedVaccine") {
				vc.vaccines = append(vc.vaccines, contraVaccine{cvx: normCVX(v.val("cvx")), begin: c.dur(v, "beginAge"), end: c.dur(v, "endAge")})
			}
			a.vaccineContra = append(a.vaccineContra, vc)
		}
	}
	for _, sn := range root.all("series") {
		s := c.compileSeries(sn)
		if s == nil {
			return nil
		}
		if a.name == "" {
			a.name = s.antigen
		} else if a.name != s.antigen {
			c.fail(sn, "series %q targets %q, but the file is for %q", s.name, s.antigen, a.name)
			return nil
		}
		for _, d := range s.doses {
			for _, set := range skipSets(d.skips) {
				for _, cd := range set.conds {
					if cd.typ == condCompletedSeries {
						a.hasCompletedDep = true
					}
				}
			}
		}
		a.series = append(a.series, s)
	}
	if len(a.series) == 0 {
		c.fail(root, "no <series>")
		return nil
	}
	return a
}

func (c *compiler) compileSeries(n *node) *series {
	s := &series{
		name:         n.val("seriesName"),
		antigen:      n.val("targetDisease"),
		vaccineGroup: n.val("vaccineGroup"),
		equivalent:   splitList(n.val("equivalentSeriesGroups")),
	}
	if s.antigen == "" {
		c.fail(n, "series %q has no <targetDisease>", s.name)
		return nil
	}
	for _, g := range n.all("seriesAdminGuidance") {
		if g.text != "" {
			s.guidance = append(s.guidance, g.text)
		}
	}
	s.typGiven = strings.TrimSpace(n.val("seriesType")) != ""
	switch t := strings.ToLower(n.val("seriesType")); t {
	case "standard", "":
		s.typ = seriesStandard
	case "risk":
		s.typ = seriesRisk
	case "evaluation only":
		s.typ = seriesEvalOnly
	default:
		c.fail(n.child("seriesType"), "unknown series type %q", t)
	}
	for _, g := range n.all("requiredGender") {
		if g.text != "" {
			s.genders = append(s.genders, strings.ToLower(g.text))
		}
	}
	if sel := n.child("selectSeries"); sel != nil {
		s.isDefault = yes(sel.val("defaultSeries"))
		s.productPath = yes(sel.val("productPath"))
		s.group = sel.val("seriesGroup")
		s.groupName = sel.val("seriesGroupName")
		s.priority = sel.val("seriesPriority")
		if p := sel.val("seriesPreference"); p != "" {
			v, err := strconv.Atoi(p)
			if err != nil {
				c.fail(sel.child("seriesPreference"), "bad series preference %q", p)
			}
			s.preference = v
		}
		s.minAgeToStart = c.dur(sel, "minAgeToStart")
		s.maxAgeToStart = c.dur(sel, "maxAgeToStart")
	}
	for _, in := range n.all("indication") {
		code := in.child("observationCode").val("code")
		if code == "" {
			continue
		}
		s.indications = append(s.indications, indication{
			code: code, obsText: in.child("observationCode").val("text"), text: in.val("description"),
			begin: c.dur(in, "beginAge"), end: c.dur(in, "endAge"), guidance: in.val("guidance"),
		})
	}
	for i, dn := range n.all("seriesDose") {
		d := c.compileDose(dn)
		d.number = i + 1
		s.doses = append(s.doses, d)
	}
	if len(s.doses) == 0 {
		c.fail(n, "series %q has no <seriesDose>", s.name)
		return nil
	}
	return s
}

func (c *compiler) compileDose(n *node) *seriesDose {
	d := &seriesDose{label: n.val("doseNumber"), recurring: yes(n.val("recurringDose"))}
	for _, a := range n.all("age") {
		if len(a.children) == 0 {
			continue
		}
		d.ages = append(d.ages, ageRule{
			absMin: c.dur(a, "absMinAge"), min: c.dur(a, "minAge"),
			earliestRec: c.dur(a, "earliestRecAge"), latestRec: c.dur(a, "latestRecAge"),
			max: c.dur(a, "maxAge"), effective: c.eff(a),
		})
	}
	for _, iv := range n.all("interval") {
		if len(iv.children) == 0 {
			continue
		}
		it := interval{
			fromPrevious:   yes(iv.val("fromPrevious")),
			fromMostRecent: cvxList(iv.val("fromMostRecent")),
			fromObs:        iv.child("fromRelevantObs").val("code"),
			fromObsText:    iv.child("fromRelevantObs").val("text"),
			absMin:         c.dur(iv, "absMinInt"), min: c.dur(iv, "minInt"),
			earliestRec: c.dur(iv, "earliestRecInt"), latestRec: c.dur(iv, "latestRecInt"),
			priority: yes(iv.val("intervalPriority")) || strings.EqualFold(iv.val("intervalPriority"), "override"), effective: c.eff(iv),
		}
		if t := iv.val("fromTargetDose"); t != "" && !strings.EqualFold(t, "n/a") {
			v, err := strconv.Atoi(t)
			if err != nil || v < 1 {
				c.fail(iv.child("fromTargetDose"), "bad target dose %q", t)
			}
			it.fromTargetDose = v
		}
		d.intervals = append(d.intervals, it)
	}
	for _, iv := range n.all("allowableInterval") {
		if len(iv.children) == 0 {
			continue
		}
		it := interval{fromPrevious: yes(iv.val("fromPrevious")), absMin: c.dur(iv, "absMinInt"), effective: c.eff(iv)}
		if t := iv.val("fromTargetDose"); t != "" && !strings.EqualFold(t, "n/a") {
			v, err := strconv.Atoi(t)
			if err != nil || v < 1 {
				c.fail(iv.child("fromTargetDose"), "bad target dose %q", t)
			}
			it.fromTargetDose = v
		}
		d.allowIntervals = append(d.allowIntervals, it)
	}
	for _, v := range n.all("preferableVaccine") {
		cvx := normCVX(v.val("cvx"))
		if cvx == "" {
			continue
		}
		d.preferable = append(d.preferable, prefVaccine{cvx: cvx, begin: c.dur(v, "beginAge"), end: c.dur(v, "endAge"),
			mvx: strings.TrimSpace(v.val("mvx")), forecast: yes(v.val("forecastVaccineType"))})
	}
	for _, v := range n.all("allowableVaccine") {
		cvx := normCVX(v.val("cvx"))
		if cvx == "" {
			continue
		}
		d.allowable = append(d.allowable, allowVaccine{cvx: cvx, begin: c.dur(v, "beginAge"), end: c.dur(v, "endAge")})
	}
	for _, v := range n.all("inadvertentVaccine") {
		if cvx := normCVX(v.val("cvx")); cvx != "" {
			d.inadvertent = append(d.inadvertent, cvx)
		}
	}
	for _, cs := range n.all("conditionalSkip") {
		if len(cs.children) == 0 {
			continue
		}
		if k := c.compileSkip(cs); k != nil {
			d.skips = append(d.skips, k)
		}
	}
	if sr := n.child("seasonalRecommendation"); sr != nil {
		d.seasonStart = c.date(sr, "startDate")
		d.seasonEnd = c.date(sr, "endDate")
	}
	return d
}

func (c *compiler) compileSkip(n *node) *condSkip {
	cs := &condSkip{}
	switch ctx := strings.ToLower(n.val("context")); ctx {
	case "evaluation":
		cs.context = ctxEvaluation
	case "forecast":
		cs.context = ctxForecast
	case "both":
		cs.context = ctxEvaluation | ctxForecast
	case "n/a", "":
		return nil
	default:
		c.fail(n.child("context"), "unknown conditional skip context %q", ctx)
	}
	cs.setAnd = strings.EqualFold(n.val("setLogic"), "and")
	for _, sn := range n.all("set") {
		set := skipSet{desc: sn.val("setDescription"), condAnd: strings.EqualFold(sn.val("conditionLogic"), "and"), effective: c.eff(sn)}
		for _, cn := range sn.all("condition") {
			set.conds = append(set.conds, c.compileCond(cn))
		}
		cs.sets = append(cs.sets, set)
	}
	return cs
}

func (c *compiler) compileCond(n *node) skipCond {
	cd := skipCond{
		start: c.date(n, "startDate"), end: c.date(n, "endDate"),
		begin: c.dur(n, "beginAge"), endAg: c.dur(n, "endAge"), interval: c.dur(n, "interval"),
		validOnly: strings.EqualFold(n.val("doseType"), "valid"),
		vaccines:  cvxList(n.val("vaccineTypes")), seriesGroups: splitList(n.val("seriesGroups")),
	}
	switch t := strings.ToLower(n.val("conditionType")); t {
	case "age":
		cd.typ = condAge
	case "completed series":
		cd.typ = condCompletedSeries
	case "interval":
		cd.typ = condInterval
	case "vaccine count by age", "vaccine count by date", "vaccine count by date and age", "vaccine count by age and date":
		cd.typ = condCount
	default:
		c.fail(n.child("conditionType"), "unknown condition type %q", t)
	}
	if cd.typ == condCount {
		if v := n.val("doseCount"); v != "" {
			k, err := strconv.Atoi(v)
			if err != nil {
				c.fail(n.child("doseCount"), "bad dose count %q", v)
			}
			cd.count = k
		}
		switch l := strings.ToLower(n.val("doseCountLogic")); l {
		case "greater than", "":
			cd.logic = countGreater
		case "equal to", "equal":
			cd.logic = countEqual
		case "less than":
			cd.logic = countLess
		default:
			c.fail(n.child("doseCountLogic"), "unknown dose count logic %q", l)
		}
	}
	return cd
}

func skipSets(l []*condSkip) []skipSet {
	var out []skipSet
	for _, k := range l {
		out = append(out, k.sets...)
	}
	return out
}
