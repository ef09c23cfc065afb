package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ztedge/ztedge/jwtauth"
)

type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (*jwtauth.Claims, error) {
	return nil, &jwtauth.Error{Reason: jwtauth.ErrExpired}
}

func TestAuthHandlerNeverLogsTheQuery(t *testing.T) {
	var logs bytes.Buffer
	h := NewAuthHandler(refuseAll{}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	const secret = "eyJhbGciOiJFUzM4NCJ9.eyJuYW1lIjoiYWxpY2UifQ.c2lnbmF0dXJl"
	req := httptest.NewRequest(http.MethodGet, AuthPath, nil)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/core-data/api/v3/reading?access_token="+secret)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, logs.String(), "/core-data/api/v3/reading")
	assert.NotContains(t, logs.String(), "access_token")
	assert.NotContains(t, logs.String(), secret)
	assert.NotContains(t, rec.Body.String()+rec.Header().Get("WWW-Authenticate"), secret)
}
