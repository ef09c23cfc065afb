// Package jwtauth verifies the identity tokens (JWTs) that Vault's identity
// OIDC engine issues to ztedge services, and carries them on HTTP calls.
//
// A [Verifier] checks a token locally against Vault's published keys
// (JWKS), by asking Vault's introspection endpoint (EdgeX's behaviour), or
// both, depending on [Options.Mode]. Locally it checks:
//
//   - the token's shape and size (at most [Options.MaxTokenSize] bytes,
//     base64url segments only, a header that names no critical extensions);
//   - the header's alg against the allow-list (never "none" or HMAC) and
//     against the type and curve of the key it names, so an HS256 token
//     "signed" with an RSA or EC public key is refused;
//   - the signature, with the key named by kid (refetching the JWKS at most
//     once per [Options.RefetchInterval] when the kid is unknown), or with
//     every key of the matching type when the token has no kid;
//   - exp (required), nbf and iat (not in the future) with a small leeway;
//   - iss (exact match) and aud (one of the accepted audiences).
//
// Verified tokens are cached by their SHA-256 until they expire, so a
// service pays for a signature check or an introspection once per token
// and caller rather than once per request.
//
// On the HTTP side, [Middleware] requires "Authorization: Bearer <jwt>" on
// every path but the exempt ones and puts the verified claims in the
// request context ([ClaimsFrom]) together with the caller (caller.From),
// so handlers and caller.Allow work the same as with Ziti callers; on an
// overlay connection the token must name the connection's own identity
// unless that identity is a trusted relay. [BearerTransport] adds a
// client's own JWT to outgoing requests.
//
// Tokens are secrets: this package never logs them and never puts them,
// or any part of them, in an error message.
package jwtauth
