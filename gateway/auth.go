package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ztedge/ztedge/jwtauth"
)

// TokenVerifier checks a bearer token; *jwtauth.Verifier is one.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*jwtauth.Claims, error)
}

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
	verifier TokenVerifier
	logger   *slog.Logger
	mux      *http.ServeMux
	// Realm is the realm of WWW-Authenticate challenges. Default "ztedge".
	Realm string
	// ServiceName is the serviceName in ping answers. Default "proxy-auth".
	ServiceName string
}

// NewAuthHandler returns proxy-auth's handler using v. logger may be nil.
func NewAuthHandler(v TokenVerifier, logger *slog.Logger) *AuthHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &AuthHandler{verifier: v, logger: logger, mux: http.NewServeMux(), Realm: "ztedge", ServiceName: "proxy-auth"}
	h.mux.HandleFunc("GET "+AuthPath, h.auth) // GET patterns also match HEAD
	h.mux.HandleFunc("GET "+DefaultPingPath, h.ping)
	return h
}

// ServeHTTP implements http.Handler.
func (h *AuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// errNoToken marks a request without a bearer token.
var errNoToken = errors.New("no bearer token")

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive, one header only).
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", errNoToken
	case len(values) > 1:
		return "", errors.New("more than one Authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("the Authorization header is not a Bearer token")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errNoToken
	}
	return token, nil
}

func (h *AuthHandler) auth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// X-Original-* are set by the gateway's /auth location, for the log.
	logAttrs := []any{"method", r.Header.Get("X-Original-Method"), "uri", r.Header.Get("X-Original-URI")}
	token, err := bearerToken(r)
	if err != nil {
		h.logger.Info("request refused", append(logAttrs, "reason", err.Error())...)
		h.challenge(w, err)
		return
	}
	claims, err := h.verifier.Verify(r.Context(), token)
	if err == nil && claims.Name == "" {
		err = errors.New("the token has no name claim")
	}
	if err != nil {
		// jwtauth's errors never contain the token.
		h.logger.Info("token refused", append(logAttrs, "reason", err.Error())...)
		h.challenge(w, err)
		return
	}
	h.logger.Debug("token accepted", append(logAttrs, "caller", claims.Name)...)
	w.Header().Set(CallerHeader, claims.Name)
	w.WriteHeader(http.StatusOK)
}

// challenge answers 401 with an RFC 6750 challenge; the description is the
// refusal's reason only, never token content.
func (h *AuthHandler) challenge(w http.ResponseWriter, err error) {
	v := `Bearer realm="` + h.Realm + `"`
	if !errors.Is(err, errNoToken) {
		desc := "invalid token"
		var je *jwtauth.Error
		if errors.As(err, &je) {
			desc = je.Reason.Error()
		}
		v += `, error="invalid_token", error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	http.Error(w, "401 unauthorized", http.StatusUnauthorized)
}

// pingResponse is EdgeX's ping answer.
type pingResponse struct {
	APIVersion  string `json:"apiVersion"`
	Timestamp   string `json:"timestamp"`
	ServiceName string `json:"serviceName"`
}

func (h *AuthHandler) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(pingResponse{APIVersion: "v3", Timestamp: time.Now().UTC().Format(time.RFC3339), ServiceName: h.ServiceName})
}
