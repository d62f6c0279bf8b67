package hl7

import (
	"strconv"

	"github.com/haven-registry/haven/internal/registry"
)

// History is the content of a query response: the person, the doses and,
// for a Z44 query, their evaluation and the forecast.
type History struct {
	// Patient is written in PID: the card code, and any other field that is
	// filled in (leave them empty to answer with the card code only).
	Patient   Person
	Doses     []EvaluatedDose
	Forecasts []Forecast // Z42 only
	// AsOf is the evaluation date: OBX-14 of evaluations and forecasts, and
	// RXA-3 of the forecast's placeholder order. Required with forecasts.
	AsOf Date
	// Schedule is the 59779-9 value; the zero value writes ScheduleACIP.
	Schedule Coded
}

// EvaluatedDose is a dose with its evaluation against each vaccine group it
// counts for (Z42 only; a Z32 response leaves Evaluations out).
type EvaluatedDose struct {
	Administration
	Evaluations []Evaluation
}

// Evaluation is one OBX group after a dose in a Z42 response.
type Evaluation struct {
	VaccineGroup Coded // 30956-7, a CVX vaccine group code ("45^Hep B, unspecified formulation^CVX")
	DoseNumber   int   // 30973-2; 0 leaves it out
	SeriesDoses  int   // 59782-3; 0 leaves it out
	Valid        bool  // 59781-5: Y or N
	Reason       Coded // 30982-3, optional (why the dose is not valid)
}

// Forecast is one OBX group of the forecast order in a Z42 response.
type Forecast struct {
	VaccineGroup Coded // 30956-7
	Status       Coded // 59783-1, such as SeriesComplete, SeriesOnSchedule, SeriesOverdue
	DoseNumber   int   // 30973-2: the next dose; 0 leaves it out
	Earliest     Date  // 30981-5
	Recommended  Date  // 30980-7
	PastDue      Date  // 59778-1 (date dose is overdue)
	Latest       Date  // 59777-3 (latest date next dose should be given)
	Reason       Coded // 30982-3, optional
}

// Status in immunization series (59783-1) answers from LOINC.
var (
	SeriesComplete   = Coded{Code: "LA13421-5", Text: "Complete", System: "LN"}
	SeriesOnSchedule = Coded{Code: "LA13422-3", Text: "On schedule", System: "LN"}
	SeriesOverdue    = Coded{Code: "LA13423-1", Text: "Overdue", System: "LN"}
)

// The values of QAK-2 (query response status, HL7 table 0208).
const (
	QueryOK       = "OK" // data found
	QueryNotFound = "NF" // no data found
	QueryError    = "AE" // application error
	QueryReject   = "AR" // application reject
)

// NewRSP writes the RSP^K11 answering q: profile Z32 (complete immunization
// history) for a Z34 query, Z42 (evaluated history and forecast) for a Z44
// one.
//
//	MSH ... RSP^K11^RSP_K11 ... Z32^CDCPHINVS or Z42^CDCPHINVS
//	MSA|AA|<query MSH-10>
//	QAK|<QPD-2>|OK|<QPD-1>
//	QPD|<QPD-1>|<QPD-2>|<QPD-3>
//	PID|1||<card>^^^HAVEN^PI|...
//	{ORC|RE|... RXA ... [RXR] [OBX evaluation groups (Z42), funding, other observations]}
//	[ORC|RE||9999  RXA|0|1|<as of>|<as of>|998^No vaccine administered^CVX|999||...|NA  {OBX forecast groups}]  (Z42)
//
// QPD is echoed with the three parameters Haven read (name, tag,
// identifiers); the demographic parameters of the query are not repeated.
// The forecast order is written only when there are forecasts.
func NewRSP(q *Query, h *History, env Envelope) ([]byte, error) {
	if err := needControlID(env); err != nil {
		return nil, err
	}
	eval := false
	profile := ProfileReplyHist
	switch q.Profile {
	case ProfileQueryHist:
	case ProfileQueryEval:
		eval, profile = true, ProfileReplyEval
	default:
		return nil, registry.FieldErrorf(registry.EINVALID, "profile", "The query profile must be Z34 or Z44.")
	}
	if h.Patient.CardCode == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "card_code", "The person's card code is required.")
	}
	for i := range h.Doses {
		if err := checkDose(&h.Doses[i].Administration, "doses["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	if eval && len(h.Forecasts) > 0 && !h.AsOf.Complete() {
		return nil, registry.FieldErrorf(registry.EINVALID, "as_of", "A forecast needs the evaluation date.")
	}
	var w writer
	w.msh(replyTo(&q.Header, env), "RSP^K11^RSP_K11", profile+"^"+profileSystem, "NE", "NE")
	w.seg("MSA", string(AA), esc(q.Header.ControlID))
	w.qakQPD(q, QueryOK)
	w.pid(h.Patient)
	for i := range h.Doses {
		d := &h.Doses[i]
		var evals []Evaluation
		if eval {
			evals = d.Evaluations
		}
		w.order(&d.Administration, evals, h.Schedule, h.AsOf)
	}
	if eval && len(h.Forecasts) > 0 {
		w.seg("ORC", "RE", "", "9999")
		w.seg("RXA", "0", "1", h.AsOf.HL7(), h.AsOf.HL7(), comps(CVXNotAdministered, "No vaccine administered", "CVX"), "999",
			"", "", "", "", "", "", "", "", "", "", "", "", "", string(NotAdministered))
		n := 0
		for i, f := range h.Forecasts {
			s := strconv.Itoa(i + 1)
			w.obx(&n, "CE", loinc(LOINCVaccineType), s, ce(f.VaccineGroup), h.AsOf, "")
			w.obx(&n, "CE", loinc(LOINCSchedule), s, ce(orSchedule(h.Schedule)), h.AsOf, "")
			if !f.Status.IsZero() {
				w.obx(&n, "CE", loinc(LOINCSeriesStatus), s, ce(f.Status), h.AsOf, "")
			}
			if f.DoseNumber > 0 {
				w.obx(&n, "NM", loinc(LOINCDoseNumber), s, strconv.Itoa(f.DoseNumber), h.AsOf, "")
			}
			for _, dc := range []struct {
				code string
				d    Date
			}{
				{LOINCEarliestDate, f.Earliest}, {LOINCRecommendedDate, f.Recommended},
				{LOINCPastDueDate, f.PastDue}, {LOINCLatestDate, f.Latest},
			} {
				if !dc.d.IsZero() {
					w.obx(&n, "DT", loinc(dc.code), s, dc.d.HL7(), h.AsOf, "")
				}
			}
			if !f.Reason.IsZero() {
				w.obx(&n, "CE", loinc(LOINCReason), s, ce(f.Reason), h.AsOf, "")
			}
		}
	}
	return w.bytes(), nil
}

// NewRSPNotFound writes the guide's "no match" response to q: an RSP^K11
// with profile Z33 (return an acknowledgement with no person records), MSA
// AA and QAK-2 NF. Haven answers so when QPD-3 holds no card code it knows,
// and never looks further (no matching by name or birth date). warnings, if
// any, are written as ERR segments.
func NewRSPNotFound(q *Query, warnings Errors, env Envelope) ([]byte, error) {
	return rspNoPerson(q, AA, QueryNotFound, warnings, env)
}

// NewRSPError writes the answer to a query that could not be run: an RSP^K11
// with profile Z33, MSA AE or AR (errs.Ack(); AE when errs holds no error),
// the ERR segments and QAK-2 AE or AR.
func NewRSPError(q *Query, errs Errors, env Envelope) ([]byte, error) {
	code := errs.Ack()
	if code == AA {
		code = AE
	}
	return rspNoPerson(q, code, string(code), errs, env)
}

func rspNoPerson(q *Query, ack AckCode, status string, errs Errors, env Envelope) ([]byte, error) {
	if err := needControlID(env); err != nil {
		return nil, err
	}
	var w writer
	w.msh(replyTo(&q.Header, env), "RSP^K11^RSP_K11", ProfileReplyNoData+"^"+profileSystem, "NE", "NE")
	w.seg("MSA", string(ack), esc(q.Header.ControlID))
	w.errs(errs)
	w.qakQPD(q, status)
	return w.bytes(), nil
}

// qakQPD writes QAK and the echo of QPD.
func (w *writer) qakQPD(q *Query, status string) {
	w.seg("QAK", esc(q.Tag), status, ce(q.Name))
	ids := make([]string, len(q.Identifiers))
	for i, id := range q.Identifiers {
		ids[i] = comps(id.ID, "", "", id.Authority, id.Type)
	}
	if !q.Name.IsZero() || q.Tag != "" || len(ids) > 0 {
		w.seg("QPD", ce(q.Name), esc(q.Tag), join('~', ids...))
	}
}

// NewBatch wraps replies to the messages of in: when in came with FHS or
// BHS, the replies are framed the same way (FHS/BHS with the sender and
// receiver swapped and the request's control IDs as reference, BTS with the
// message count, FTS); otherwise they are simply concatenated.
func NewBatch(in *Batch, replies [][]byte, env Envelope) []byte {
	var out []byte
	if in == nil || (in.FHS == nil && in.BHS == nil) {
		for _, r := range replies {
			out = append(out, r...)
		}
		return out
	}
	var t string
	if !env.Time.IsZero() {
		t = formatTime(env.Time)
	}
	head := func(id string, s *Segment) string {
		var w writer
		w.seg(id, "^~\\&", comps(s.Field(5).Comp(1).Text()), comps(s.Field(6).Comp(1).Text()),
			comps(s.Field(3).Comp(1).Text()), comps(s.Field(4).Comp(1).Text()), t, "", "", "", esc(env.ControlID),
			esc(s.Field(11).Text()))
		return w.b.String()
	}
	if in.FHS != nil {
		out = append(out, head("FHS", in.FHS)...)
	}
	bhs := in.BHS
	if bhs == nil {
		bhs = in.FHS
	}
	out = append(out, head("BHS", bhs)...)
	for _, r := range replies {
		out = append(out, r...)
	}
	out = append(out, "BTS|"+strconv.Itoa(len(replies))+"\r"...)
	if in.FHS != nil {
		out = append(out, "FTS|1\r"...)
	}
	return out
}
