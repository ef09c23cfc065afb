package gateway

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/ztedge/ztedge/internal/health"
	"github.com/ztedge/ztedge/jwtauth"
)

// AuthPath is the path of proxy-auth's auth endpoint.
const AuthPath = "/auth"

// AuthHandler is proxy-auth's HTTP handler. NGINX's auth_request sends it
// a subrequest with the client's Authorization header:
//
//   - GET (or HEAD) /auth with a valid "Authorization: Bearer <jwt>" answers
//     200 with the token's name claim in X-Ztedge-Caller;
//   - a missing, malformed, expired, forged or otherwise refused token
//     answers 401 with a WWW-Authenticate: Bearer challenge (NGINX passes
//     it on to the client);
//   - GET /api/v3/ping answers 200 with an EdgeX-style ping document.
//
// It logs each refusal's reason and the caller's name, never the token.
type AuthHandler struct {
	verifier jwtauth.TokenVerifier
	logger   *slog.Logger
	mux      *http.ServeMux
}

// NewAuthHandler returns proxy-auth's handler using v. logger may be nil.
func NewAuthHandler(v jwtauth.TokenVerifier, logger *slog.Logger) *AuthHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &AuthHandler{verifier: v, logger: logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+AuthPath, h.auth) // GET patterns also match HEAD
	h.mux.Handle("GET "+DefaultPingPath, &health.Handler{Service: "proxy-auth", PingPath: DefaultPingPath})
	return h
}

// ServeHTTP implements http.Handler.
func (h *AuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *AuthHandler) auth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// X-Original-* are set by the gateway's /auth location, for the log.
	// The query is cut off: it may hold a token (?access_token=...).
	path, _, _ := strings.Cut(r.Header.Get("X-Original-URI"), "?")
	logAttrs := []any{"method", r.Header.Get("X-Original-Method"), "path", path}
	claims, err := jwtauth.VerifyRequest(h.verifier, r)
	if err != nil {
		// jwtauth's errors never contain the token.
		h.logger.Info("request refused", append(logAttrs, "reason", err.Error())...)
		jwtauth.WriteChallenge(w, err)
		return
	}
	h.logger.Debug("token accepted", append(logAttrs, "caller", claims.Name)...)
	w.Header().Set(CallerHeader, claims.Name)
	w.WriteHeader(http.StatusOK)
}
