package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
)

// The OpenAPI document lists exactly the routes that apiRoutes serves, with
// the same roles.
func TestOpenAPIInSync(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Roles    []registry.Role `json:"x-roles"`
			Security []any           `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rt := range New(Deps{}).apiRoutes() {
		key := rt.Method + " " + rt.Pattern
		served[key] = true
		op, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s is served but not in openapi.json", key)
			continue
		}
		perm := permissionOf(rt.Action)
		if perm.Public() {
			if op.Security == nil || len(op.Security) != 0 {
				t.Errorf("%s is public but openapi.json does not say security: []", key)
			}
			continue
		}
		if !slices.Equal(op.Roles, perm.Roles) {
			t.Errorf("%s: openapi.json roles %v, served roles %v", key, op.Roles, perm.Roles)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if key := strings.ToUpper(method) + " " + path; !served[key] {
				t.Errorf("openapi.json lists %s, which is not served", key)
			}
		}
	}
}

// Every form's target comes back to a page of the table that a GET opens,
// and the table has each method and pattern once.
func TestPageRoutesComeBack(t *testing.T) {
	s := New(Deps{})
	gets := http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range s.pageRoutes() {
		key := rt.Method + " " + rt.Pattern
		if seen[key] {
			t.Errorf("%s is listed twice", key)
		}
		seen[key] = true
		if rt.Method == "GET" {
			gets.Handle(key, rt.Handler)
			if rt.Back != "" {
				t.Errorf("%s: a GET page comes back to itself, not %q", key, rt.Back)
			}
		}
	}
	for _, rt := range s.pageRoutes() {
		if rt.Method != "POST" {
			continue
		}
		back := strings.ReplaceAll(rt.Back, "{card}", "7KQM-X4TD-9HCA")
		if back == "" {
			back = "/"
		}
		if _, pattern := gets.Handler(httptest.NewRequest("GET", back, nil)); pattern == "" || pattern == "GET /static/" {
			t.Errorf("POST %s comes back to %q, which no GET page serves", rt.Pattern, rt.Back)
		}
	}
}
