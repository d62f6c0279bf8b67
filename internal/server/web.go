package server

// webRoutes lists the HTML pages. Each handler authenticates with the
// session cookie and checks roles itself, denying by default.
func (s *Server) webRoutes() []route { return nil }
