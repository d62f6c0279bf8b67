package schedule

import (
	"slices"
	"strings"
)

// ObservationInfo describes a CDSi coded patient observation that the
// supporting data of a schedule uses: one that can change a forecast when
// the patient has it. The web app offers these (translated) for the visit.
type ObservationInfo struct {
	// Code is the CDSi observation code, for example "007".
	Code string `json:"code"`
	// Title is the official English title from the schedule supporting
	// data's observation list ("Pregnant"); when the list has no entry for
	// the code, the text that the antigen data gives with it.
	Title string `json:"title"`
	// Indication: the observation makes risk series relevant (Table 5-4).
	Indication bool `json:"indication,omitempty"`
	// Contraindication: the observation contraindicates an antigen or some
	// of its vaccines (Tables 7-5 to 7-7).
	Contraindication bool `json:"contraindication,omitempty"`
	// Immunity: the observation is evidence of immunity, or excludes the
	// birth-date evidence of immunity (Table 7-3).
	Immunity bool `json:"immunity,omitempty"`
	// Dated: the observation's date is the reference date of an interval
	// (CALCDTINT-9; "Onset of pregnancy", the date of a transplant), so the
	// forecast dates it drives need Observation.Date. Without a date the
	// interval has no reference and the target dose it governs cannot be
	// forecast.
	Dated bool `json:"dated,omitempty"`
	// Needs lists the Dated observations that the series this observation
	// makes relevant measure intervals from, for example "170" (onset of
	// pregnancy) for "007" (pregnant). Give them, with their dates, together
	// with this observation: without the date the interval has no reference
	// date, so the series' forecast has no dates (Table 7-9) and an earlier
	// dose may satisfy its target dose (Table 6-17 assumes 01/01/1900).
	Needs []string `json:"needs,omitempty"`
	// VaccineGroups names the vaccine groups whose forecast the observation
	// can change, in the order of the supporting data.
	VaccineGroups []string `json:"vaccine_groups"`
}

// Observations returns the observation codes that the schedule's supporting
// data uses (indications, contraindications, evidence of immunity and
// intervals from an observation), sorted by code, each with its official
// English title. A code outside this list has no effect on a forecast. The
// result is a copy; callers may modify it.
func (s *Schedule) Observations() []ObservationInfo {
	out := make([]ObservationInfo, len(s.obsInfo))
	for i, o := range s.obsInfo {
		o.VaccineGroups = slices.Clone(o.VaccineGroups)
		o.Needs = slices.Clone(o.Needs)
		out[i] = o
	}
	return out
}

// Observation returns what the schedule's supporting data does with the
// observation code (see Observations), and false if the data does not use
// it. Codes are compared after trimming space, as Forecast reads them.
func (s *Schedule) Observation(code string) (ObservationInfo, bool) {
	i, ok := s.obsIndex[strings.TrimSpace(code)]
	if !ok {
		return ObservationInfo{}, false
	}
	o := s.obsInfo[i]
	o.VaccineGroups = slices.Clone(o.VaccineGroups)
	o.Needs = slices.Clone(o.Needs)
	return o, true
}

// ObservationsOf returns undated observations with the given codes, for
// example the conditions chosen at a visit: ObservationsOf("007", "055").
// An undated observation is active at the assessment date with no known
// start; give Observation.Date where ObservationInfo.Dated says the date
// matters (the onset of pregnancy, code 170). Empty codes are skipped.
func ObservationsOf(codes ...string) []Observation {
	out := make([]Observation, 0, len(codes))
	for _, c := range codes {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, Observation{Code: c})
		}
	}
	return out
}

// indexObservations builds the list that Observations returns from the
// compiled antigens and the schedule data's observation titles.
func (s *Schedule) indexObservations() {
	type entry struct {
		ObservationInfo
		fallback string
	}
	byCode := map[string]*entry{}
	use := func(code, text, antigen string, set func(*ObservationInfo)) {
		code = strings.TrimSpace(code)
		if code == "" {
			return
		}
		e := byCode[code]
		if e == nil {
			e = &entry{ObservationInfo: ObservationInfo{Code: code}}
			byCode[code] = e
		}
		if e.fallback == "" {
			e.fallback = strings.TrimSpace(text)
		}
		set(&e.ObservationInfo)
		if g := s.groupOf[antigen]; g != nil && !slices.Contains(e.VaccineGroups, g.name) {
			e.VaccineGroups = append(e.VaccineGroups, g.name)
		}
	}
	contra := func(o *ObservationInfo) { o.Contraindication = true }
	immune := func(o *ObservationInfo) { o.Immunity = true }
	dated := func(o *ObservationInfo) { o.Dated = true }
	for _, name := range s.antigenNames {
		a := s.antigens[name]
		for _, code := range a.immunity.guidelines {
			use(code, "", name, immune)
		}
		for _, b := range a.immunity.birth {
			for _, code := range b.exclusions {
				use(code, "", name, immune)
			}
		}
		for _, c := range a.groupContra {
			use(c.code, c.text, name, contra)
		}
		for _, c := range a.vaccineContra {
			use(c.code, c.text, name, contra)
		}
		for _, sr := range a.series {
			var needs []string
			for _, d := range sr.doses {
				for _, iv := range d.intervals {
					use(iv.fromObs, iv.fromObsText, name, dated)
					if iv.fromObs != "" && !slices.Contains(needs, iv.fromObs) {
						needs = append(needs, iv.fromObs)
					}
				}
			}
			for _, in := range sr.indications {
				use(in.code, in.obsText, name, func(o *ObservationInfo) {
					o.Indication = true
					for _, n := range needs {
						if n != o.Code && !slices.Contains(o.Needs, n) {
							o.Needs = append(o.Needs, n)
						}
					}
				})
			}
		}
	}
	s.obsInfo = make([]ObservationInfo, 0, len(byCode))
	for code, e := range byCode {
		e.Title = s.observations[code]
		if e.Title == "" {
			e.Title = e.fallback
		}
		// Vaccine groups in the order of the supporting data.
		slices.SortStableFunc(e.VaccineGroups, func(a, b string) int { return s.groupIndex(a) - s.groupIndex(b) })
		slices.Sort(e.Needs)
		s.obsInfo = append(s.obsInfo, e.ObservationInfo)
	}
	slices.SortFunc(s.obsInfo, func(a, b ObservationInfo) int { return strings.Compare(a.Code, b.Code) })
	s.obsIndex = make(map[string]int, len(s.obsInfo))
	for i, o := range s.obsInfo {
		s.obsIndex[o.Code] = i
	}
}

func (s *Schedule) groupIndex(name string) int {
	for i, g := range s.groups {
		if g.name == name {
			return i
		}
	}
	return len(s.groups)
}
