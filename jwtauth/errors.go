package jwtauth

import (
	"errors"
	"strings"
)

// errPrefix starts the errors of the package's exported functions.
const errPrefix = "jwtauth: "

// Reasons a token is refused. Every error [Verifier.Verify] returns is an
// [*Error] whose Reason is one of these, so errors.Is(err, ErrExpired) and
// the like tell them apart. Their text is the reason alone, as
// WWW-Authenticate challenges and [Reason] give it; an [*Error] starts
// with the package's prefix, "jwtauth: ".
var (
	// ErrMalformed: not a compact JWS with a JSON object header and payload,
	// characters outside base64url, a claim of the wrong type, a missing
	// exp claim, or a critical header extension.
	ErrMalformed = errors.New("malformed token")
	// ErrTokenTooLarge: the token or its header exceeds the size limits.
	ErrTokenTooLarge = errors.New("token too large")
	// ErrAlgorithm: the header's alg is not allowed, or does not match the
	// type of the key the token names.
	ErrAlgorithm = errors.New("signing algorithm not accepted")
	// ErrUnknownKey: no published key matches the token's kid (or, without
	// kid, its algorithm), even after refetching the keys.
	ErrUnknownKey = errors.New("unknown key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("invalid signature")
	// ErrExpired: the token's exp is past.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token's nbf is in the future.
	ErrNotYetValid = errors.New("token not valid yet")
	// ErrIssuedInFuture: the token's iat is in the future.
	ErrIssuedInFuture = errors.New("token issued in the future")
	// ErrIssuer: iss is not the expected issuer.
	ErrIssuer = errors.New("wrong issuer")
	// ErrAudience: aud names none of the accepted audiences.
	ErrAudience = errors.New("wrong audience")
	// ErrInactive: the introspection endpoint says the token is not active.
	ErrInactive = errors.New("token not active")
	// ErrIntrospection: the introspection endpoint could not be asked (for
	// example Vault is unreachable). Verification fails closed.
	ErrIntrospection = errors.New("token introspection failed")
)

// Error is a refused token. Reason is one of the Err* variables of this
// package; Detail adds a fixed explanation; Err is an underlying cause
// (a network error from introspection, say), if any. None of them
// contains the token or any part of it.
type Error struct {
	Reason error
	Detail string
	Err    error
}

// Error describes the refusal: "jwtauth: ", the reason, the detail and
// the cause (without a "jwtauth: " of its own).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(errPrefix)
	b.WriteString(e.Reason.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), errPrefix))
	}
	return b.String()
}

// Unwrap returns the reason and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Reason, e.Err}
	}
	return []error{e.Reason}
}

// refuse builds an *Error.
func refuse(reason error, detail string) *Error { return &Error{Reason: reason, Detail: detail} }

// description is the short, token-free text of err for a WWW-Authenticate
// error_description: the reason alone.
func description(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason.Error()
	}
	return "invalid token"
}
