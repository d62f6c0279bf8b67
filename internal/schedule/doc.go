// Package schedule evaluates immunization histories and forecasts the next
// doses with the CDC Clinical Decision Support for Immunization (CDSi) logic,
// Logic Specification for ACIP Recommendations v4.6, driven entirely by
// supporting data in the CDSi XML format. No antigen is special-cased: the
// same code serves every antigen, series and vaccine group in the data.
//
// # Schedules
//
// A schedule is a folder of supporting data embedded from data/<name>:
//
//	cdc  CDC CDSi supporting data v4.64 (30 antigens; public domain, data/cdc/SOURCE.md)
//	who  WHO SAGE COVID-19 recommendations (data/who)
//	cn   China NHC COVID-19 guideline and provincial boosters (data/cn)
//
// Every *.xml file in the folder is loaded: files whose root element is
// <antigenSupportingData> define antigens (CDC names them
// "AntigenSupportingData- COVID-19.xml" and the like) and exactly one file
// must be <scheduleSupportingData>. A folder that is missing or holds no XML
// means the schedule is not available (ENOTFOUND).
//
// # Exported API
//
//	func Load(name string) (*Schedule, error)           // cached; cheap after the first call
//	func LoadFS(name string, fsys fs.FS) (*Schedule, error) // uncached, for other data folders
//	func Names() []string                               // built-in schedules that have data
//	func (*Schedule) Name() string
//	func (*Schedule) Antigens() []string
//	func (*Schedule) VaccineGroups() []string
//	func (*Schedule) GroupName(name string) (string, bool)  // "DTAP" → "DTaP/Tdap/Td"
//	func (*Schedule) Forecast(p Patient, asOf time.Time) (Result, error)
//	func (*Schedule) ForecastGroups(p Patient, asOf time.Time, groups ...string) (Result, error)
//	func (Result) EvaluationsFor(doseIndex int) []Evaluation // the evaluation of one recorded dose
//	func (Result) ForecastFor(group string) (Forecast, bool)    // the group's first forecast
//	func (Result) ForecastsFor(group string) []Forecast         // one per series group
//	func (Result) FHIR(asOf time.Time, opt FHIROptions) FHIRBundle
//	func (*Schedule) Observations() []ObservationInfo           // observation codes the data uses, with titles
//	func (*Schedule) Observation(code string) (ObservationInfo, bool)
//	func ObservationsOf(codes ...string) []Observation          // undated observations for a visit
//	func ParseInput(r io.Reader) (Patient, time.Time, error) // design.md forecast input JSON
//	func ParseCases(r io.Reader, file string) ([]Case, error) // CDC test-case CSV layout
//	func (*Schedule) RunCase(c Case) CaseResult
//	func CaseForecast(fcs []Forecast) int                      // the forecast a CDC case describes
//	func ScheduleForCaseFile(path string) string
//	func ParseDate(s string) (Date, error); func ParseDuration(s string) (Duration, error)
//	func (Date) Add(Duration) Date // CDSi date arithmetic (CALCDT-1 … CALCDT-6)
//
// Patient holds the birth date, sex ("F", "M" or ""), optional birth country,
// the doses (date, CVX, MVX) and the coded observations (code, optional
// date): the CDSi observations known at the visit, such as pregnancy (007,
// with the onset of pregnancy, 170, and its date) or health care personnel
// (055). Schedule.Observations lists the codes the supporting data uses. The
// package keeps nothing between calls. Only the calendar date of each
// time.Time is used; the engine never reads the clock. Result marshals to the
// design.md JSON:
//
//	{"evaluations":[{"date","cvx","antigen","status","reason"}],
//	 "forecasts":[{"vaccine_group","series_status","earliest","recommended","past_due","latest",
//	               "series_group","series_group_name","series_type"}]}
//
// A vaccine group has one forecast per series group that has a best patient
// series (DEFFORECAST-012), so it may appear more than once; its forecasts are
// adjacent and the first is the one to read when showing one per vaccine
// group (docs/adr/0003-forecast-per-series-group.md).
//
// Dates are YYYY-MM-DD or "" where CDSi leaves them empty. A dose status is
// valid, not_valid, extraneous or sub_standard (one evaluation per dose and
// antigen); a series status is not_complete, complete, immune,
// contraindicated, aged_out or not_recommended. Reasons use the CDC wording
// ("Age: Too Young", "Interval: Too Soon", "Interval: Grace Period",
// "Inadvertent Vaccine", "Live Virus Conflict", "Not a preferable or
// allowable vaccine", "Series Already Complete"); several are joined by "; ".
//
// Errors are *registry.Error values: EINVALID naming the field ("birth_date",
// "doses[2].cvx" for an unknown CVX, "doses[0].date" for a dose before birth
// or after the assessment date), EMALFORMED naming the file and line of bad
// supporting data, ENOTFOUND for an unknown schedule. A failure inside the
// engine is recovered and returned as EINTERNAL; it never panics.
//
// # Date arithmetic
//
// Durations in the data ("6 months - 4 days", "8 weeks") are calendar years,
// calendar months and days. Date.Add applies years, then months, then days;
// after each year or month step a date that does not exist moves to the
// first day of the next month (2000-08-31 + 6 months = 2001-03-01). This is
// not time.AddDate, which carries the overflow days (2001-03-03). The
// absolute minimum age or interval (the 4-day grace period) comes from the
// data's absMinAge/absMinInt, which CDC writes as the minimum − 4 days.
//
// # Processing model
//
// Forecast follows chapter 4: the doses are split into antigen administered
// records (CVX map, association ages); each antigen series relevant to the
// patient (chapter 5: gender, series type, indications from observations) is
// evaluated (chapter 6: conditional skip, inadvertent vaccine, age,
// preferable and allowable intervals, live virus conflict, preferable and
// allowable vaccine, recurring target doses) and forecast (chapter 7:
// conditional skip at the assessment date, evidence of immunity,
// contraindications, forecast need, dates, validation at the earliest date);
// the best series are selected per series group (chapter 8: pre-filter,
// scoring, equivalent series groups) and made into one vaccine group forecast
// per series group (chapter 9). Where the specification is silent or the CDC test cases show
// a different reading, the choice is documented at the code and in
// docs/cdsi-conformance.md.
//
// # Test cases
//
// ParseCases reads the CDC test-case workbook layout (CDC_Test_ID, DOB,
// Gender, Date_Administered_n, CVX_n, MVX_n, Evaluation_Status_n,
// Series_Status, Earliest_Date, Recommended_Date, Past_Due_Date,
// Vaccine_Group, Assessment_Date, Observation_Code_n …). Haven's own cases
// for the WHO and China schedules live in testdata/who-cn in the same
// layout; a file's name starts with the schedule it is for ("who-….csv",
// "cn-….csv"), which ScheduleForCaseFile reads.
package schedule
