// Package registry holds Haven's domain: pseudonymous persons found only by
// card code, their vaccinations and tests, sites, access tokens, and the
// service interfaces that the storage adapters (internal/sqlite,
// internal/postgres) implement. It knows nothing about storage or HTTP.
//
// What Haven refuses to keep is as much a part of this package as what it
// keeps: there is no field for residence or immigration status, no eligibility
// input, no free text, and no way to find a person except by exact card code.
package registry
