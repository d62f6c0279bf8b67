// Package fhir is Haven's FHIR R4 API under /fhir/r4/: a transport like the
// JSON API, whose handlers decode a request, call one action of the clinic
// service with the request's actor (httpx.ActorOf), and encode the result as
// FHIR R4 JSON. Permissions, site scope, purpose, rate limits, validation,
// idempotency and the access log are the actions' business, the same for
// every transport; the routes, with the action each calls, are listed in
// package server's route table.
//
// # What it serves
//
//	GET  /fhir/r4/metadata                                  CapabilityStatement (public)
//	GET  /fhir/r4/Patient/{card}                            Patient, read by card code
//	GET  /fhir/r4/Patient?identifier=SYSTEM|CARD            searchset of that one Patient
//	GET  /fhir/r4/Immunization/{card}.{record}              Immunization, read
//	GET  /fhir/r4/Immunization?patient.identifier=SYSTEM|CARD   searchset of the person's doses
//	POST /fhir/r4/Immunization                              create (If-None-Exist or Idempotency-Key)
//	GET  /fhir/r4/ImmunizationEvaluation?patient.identifier=…    the doses' evaluations
//	GET  /fhir/r4/ImmunizationRecommendation?patient.identifier=… the forecast
//	POST /fhir/r4/$immds-forecast                           ImmDS: Parameters in, Parameters out, nothing stored
//
// SYSTEM is CardSystem; "patient=Patient/CARD" names the same person. Every
// error is an OperationOutcome.
//
// # Least data
//
// A person is found by their card code and nothing else: there is no search
// by name, birth date, phone or anything else, and such a search is refused
// with an OperationOutcome before anything is read. The Patient resource is
// pseudonymous: its id and its one identifier are the card code (system
// CardSystem), and it carries gender and birthDate (partial where the record
// is: YYYY or YYYY-MM, with the extension BirthDateEstimatedExtension when
// the date was estimated). Names and phone numbers are never written, though
// the record may hold them: a FHIR client exchanges doses and forecasts, for
// which the card code is the identifier, and the demographics stay behind
// the web pages and the JSON API, where a person's own clinic sees them.
//
// An Immunization's id is "CARD.RECORD" (the card code, a dot, and the dose's
// record ID), so that reading one needs the person as every read does: it is
// a record read with the purpose "care", audited and limited per card. The
// ImmunizationEvaluation and ImmunizationRecommendation resources are
// computed by the schedule for each request (a forecast read, purpose
// "forecast") and are not stored, so they have no id and are found only by
// search; $immds-forecast evaluates the history it is sent and keeps nothing.
//
// # Codes
//
// vaccineCode: CVX first (http://hl7.org/fhir/sid/cvx), then the product's
// SNOMED CT and ICD-11 codes and Haven's catalogue ID (ProductSystem) as
// additional codings; the product name is the text. Dose status and
// forecast status come from package schedule (FHIRDoseStatus,
// FHIRForecastStatus): the standard code alone (valid/notvalid; due,
// overdue, complete, immune, contraindicated, with aged out and not
// recommended read as complete: no further dose is recommended), with the
// CDSi status as the text and in the extension CDSiStatusExtension. Date criteria use
// LOINC 30981-5 (earliest), 30980-7 (recommended), 59778-1 (past due) and
// 59777-3 (latest). primarySource is true for a dose given at a Haven site;
// a dose copied from a card has reportOrigin "record", one the person
// reported "recall". A paid dose has fundingSource "private" and its amount
// in the extension PaymentExtension; a free dose has no fundingSource, since
// free does not say who paid. programEligibility is never written: Haven
// does not keep eligibility inputs.
package fhir
