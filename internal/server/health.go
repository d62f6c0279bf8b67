package server

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/server/api"
)

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.Encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz reports ready when the service can serve: unsealed, and the
// store answers.
func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.svc.Ready(ctx); err != nil {
			s.api.Error(w, r, err)
			return
		}
		api.Encode(w, http.StatusOK, map[string]string{"status": "ready"})
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
