package schedule

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/haven-registry/haven/internal/registry"
)

// data holds the supporting data of every built-in schedule, one folder per
// schedule name: data/cdc (CDC CDSi v4.64), data/who and data/cn.
//
//go:embed data
var data embed.FS

// Schedule is a compiled set of CDSi supporting data: antigen series plus the
// schedule data (CVX map, vaccine groups, live virus conflicts, observations).
// A Schedule is immutable and safe for concurrent use.
type Schedule struct {
	name         string
	antigens     map[string]*antigen
	antigenNames []string // sorted
	cvx          map[string]*cvxEntry
	groups       []*vaccineGroup
	groupOf      map[string]*vaccineGroup // antigen -> group
	conflicts    []conflict
	byCurrent    map[string][]conflict // live virus conflicts by impacted (current) CVX
	observations map[string]string     // observation code -> title (schedule data)
	obsInfo      []ObservationInfo     // codes the antigen data uses, sorted (Observations)
	obsIndex     map[string]int        // code -> index into obsInfo
}

// Name returns the schedule's name (for example "cdc").
func (s *Schedule) Name() string { return s.name }

// VaccineGroups returns the names of the schedule's vaccine groups, in the
// order of the supporting data.
func (s *Schedule) VaccineGroups() []string {
	out := make([]string, len(s.groups))
	for i, g := range s.groups {
		out[i] = g.name
	}
	return out
}

// Antigens returns the names of the antigens that have series, sorted.
func (s *Schedule) Antigens() []string { return append([]string(nil), s.antigenNames...) }

// GroupsOfCVX returns the vaccine groups whose antigens a dose of the CVX
// code counts for, in the order of the supporting data (nil for a code the
// schedule does not know). Evaluating one dose needs only these groups
// (ForecastGroups), not the whole schedule.
func (s *Schedule) GroupsOfCVX(cvx string) []string {
	e, ok := s.cvx[normCVX(cvx)]
	if !ok {
		return nil
	}
	var out []string
	for _, g := range s.groups {
		for _, as := range e.associations {
			if slices.Contains(g.antigens, as.antigen) && !slices.Contains(out, g.name) {
				out = append(out, g.name)
			}
		}
	}
	return out
}

type cached struct {
	once  sync.Once
	sched *Schedule
	err   error
}

var cache sync.Map // name -> *cached

// Load returns the built-in schedule with the given name ("cdc", "who" or
// "cn"), compiling its embedded supporting data on first use and returning
// the cached result afterwards. Returns ENOTFOUND if no such schedule exists
// or its folder holds no supporting data yet, and EMALFORMED naming the file
// and line if the data does not parse.
func Load(name string) (*Schedule, error) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "schedule", "unknown schedule %q", name)
	}
	v, _ := cache.LoadOrStore(name, &cached{})
	c := v.(*cached)
	c.once.Do(func() {
		sub, err := fs.Sub(data, "data/"+name)
		if err == nil {
			c.sched, c.err = LoadFS(name, sub)
		} else {
			c.err = err
		}
	})
	return c.sched, c.err
}

// Names returns the names of the built-in schedules that have supporting
// data, sorted.
func Names() []string {
	ents, err := data.ReadDir("data")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, _ := fs.Glob(data, "data/"+e.Name()+"/*.xml")
		if len(files) > 0 {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// LoadFS compiles the supporting data found in the *.xml files at the root of
// fsys. Files whose root element is <antigenSupportingData> define antigens;
// exactly one file must have <scheduleSupportingData>. It does not cache.
// Errors name the file and line; a folder with no XML files gives ENOTFOUND.
func LoadFS(name string, fsys fs.FS) (*Schedule, error) {
	files, err := fs.Glob(fsys, "*.xml")
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "schedule %s: %v", name, err)
	}
	if len(files) == 0 {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "schedule", "schedule %q has no supporting data", name)
	}
	sort.Strings(files)
	s := &Schedule{
		name:     name,
		antigens: map[string]*antigen{},
		cvx:      map[string]*cvxEntry{},
		groupOf:  map[string]*vaccineGroup{},
	}
	// Parse the files concurrently (parsing dominates the load time), then
	// compile them in name order.
	roots := make([]*node, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				errs[i] = registry.FieldErrorf(registry.EINTERNAL, path.Join(name, f), "read: %v", err)
				return
			}
			roots[i], err = parseXML(b)
			if err != nil {
				errs[i] = &registry.Error{Code: registry.EMALFORMED, Field: path.Join(name, f), Message: "malformed supporting data XML", Err: err}
			}
		}()
	}
	wg.Wait()
	var scheduleFile string
	for i, f := range files {
		if errs[i] != nil {
			return nil, errs[i]
		}
		root := roots[i]
		c := &compiler{file: path.Join(name, f)}
		switch root.name {
		case "antigenSupportingData":
			a := c.compileAntigen(root)
			if c.err != nil {
				return nil, &registry.Error{Code: registry.EMALFORMED, Field: c.file, Message: "invalid supporting data", Err: c.err}
			}
			if _, dup := s.antigens[a.name]; dup {
				return nil, registry.FieldErrorf(registry.EMALFORMED, c.file, "antigen %q is defined twice", a.name)
			}
			s.antigens[a.name] = a
			s.antigenNames = append(s.antigenNames, a.name)
		case "scheduleSupportingData":
			if scheduleFile != "" {
				return nil, registry.FieldErrorf(registry.EMALFORMED, c.file, "second scheduleSupportingData file (first: %s)", scheduleFile)
			}
			scheduleFile = f
			c.compileScheduleData(s, root)
			if c.err != nil {
				return nil, &registry.Error{Code: registry.EMALFORMED, Field: c.file, Message: "invalid supporting data", Err: c.err}
			}
		default:
			return nil, registry.FieldErrorf(registry.EMALFORMED, path.Join(name, f), "unexpected root element <%s>", root.name)
		}
	}
	if scheduleFile == "" {
		return nil, registry.FieldErrorf(registry.EMALFORMED, name, "no ScheduleSupportingData file")
	}
	if len(s.antigens) == 0 {
		return nil, registry.FieldErrorf(registry.EMALFORMED, name, "no AntigenSupportingData file")
	}
	sort.Strings(s.antigenNames)
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check verifies cross-file references and indexes the live virus
// conflicts: by impacted CVX, and on each series dose the conflicts that
// impact one of its preferable vaccines (CALCDTCONFLICT-3).
func (s *Schedule) check() error {
	s.byCurrent = map[string][]conflict{}
	for _, c := range s.conflicts {
		s.byCurrent[c.current] = append(s.byCurrent[c.current], c)
	}
	for _, n := range s.antigenNames {
		for _, sr := range s.antigens[n].series {
			for _, sd := range sr.doses {
				for i, pv := range sd.preferable {
					dup := false
					for _, q := range sd.preferable[:i] {
						if q.cvx == pv.cvx {
							dup = true
						}
					}
					if !dup {
						sd.conflicts = append(sd.conflicts, s.byCurrent[pv.cvx]...)
					}
				}
			}
		}
	}
	for _, n := range s.antigenNames {
		for _, sr := range s.antigens[n].series {
			for _, sd := range sr.doses {
				for i := range sd.intervals {
					sd.intervals[i].recent = s.cvxSetOf(sd.intervals[i].fromMostRecent)
				}
				for _, k := range sd.skips {
					for si := range k.sets {
						for ci := range k.sets[si].conds {
							cd := &k.sets[si].conds[ci]
							cd.vaccineSet = s.cvxSetOf(cd.vaccines)
						}
					}
				}
			}
		}
	}
	s.indexObservations()
	for _, n := range s.antigenNames {
		a := s.antigens[n]
		for _, sr := range a.series {
			if sr.vaccineGroup != "" {
				if _, ok := s.groupOf[a.name]; !ok {
					return registry.FieldErrorf(registry.EMALFORMED, s.name, "antigen %q (series %q) is in no vaccine group of the schedule data", a.name, sr.name)
				}
			}
		}
	}
	return nil
}

func (c *compiler) compileScheduleData(s *Schedule, root *node) {
	for _, lv := range root.child("liveVirusConflicts").all("liveVirusConflict") {
		s.conflicts = append(s.conflicts, conflict{
			previous: normCVX(lv.child("previous").val("cvx")),
			current:  normCVX(lv.child("current").val("cvx")),
			begin:    c.dur(lv, "conflictBeginInterval"),
			minEnd:   c.dur(lv, "minConflictEndInterval"),
			endInt:   c.dur(lv, "conflictEndInterval"),
		})
	}
	full := map[string]bool{}
	for _, g := range root.child("vaccineGroups").all("vaccineGroup") {
		full[g.val("name")] = yes(g.val("administerFullVaccineGroup"))
	}
	for _, m := range root.child("vaccineGroupToAntigenMap").all("vaccineGroupMap") {
		g := &vaccineGroup{name: m.val("name"), fullOnly: full[m.val("name")]}
		if g.name == "" {
			c.fail(m, "vaccine group without a name")
			return
		}
		for _, an := range m.all("antigen") {
			if an.text == "" {
				continue
			}
			g.antigens = append(g.antigens, an.text)
			s.groupOf[an.text] = g
		}
		s.groups = append(s.groups, g)
	}
	for _, m := range root.child("cvxToAntigenMap").all("cvxMap") {
		e := &cvxEntry{cvx: normCVX(m.val("cvx")), description: m.val("shortDescription")}
		if e.cvx == "" {
			c.fail(m, "cvxMap without a cvx")
			return
		}
		e.id = len(s.cvx)
		if prev, ok := s.cvx[e.cvx]; ok {
			e.id = prev.id
		}
		for _, as := range m.all("association") {
			if an := as.val("antigen"); an != "" {
				e.associations = append(e.associations, association{antigen: an, begin: c.dur(as, "associationBeginAge"), end: c.dur(as, "associationEndAge")})
			}
		}
		s.cvx[e.cvx] = e
	}
	s.observations = map[string]string{}
	for _, o := range root.child("observations").all("observation") {
		s.observations[strings.TrimSpace(o.val("observationCode"))] = strings.TrimSpace(o.val("observationTitle"))
	}
}
