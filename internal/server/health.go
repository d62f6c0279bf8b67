package server

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz reports ready when the store answers.
func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.writeError(w, r, &registry.Error{Code: registry.EUNAVAILABLE, Message: "The database is not ready.", Err: err})
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

//go:embed openapi.json
var openAPIDoc []byte

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDoc)
	})
}
