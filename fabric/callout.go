package fabric

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// AuthCalloutSubject is the subject on which nats-server asks the auth
// callout service to authorize a connection.
const AuthCalloutSubject = "$SYS.REQ.USER.AUTH"

// maxSubs is the most subscriptions an engine or client connection may
// hold.
const maxSubs = 256

// CalloutConfig configures the auth callout service.
type CalloutConfig struct {
	// Keys are the callout's keys (issuer, account, secrets). Required.
	Keys *ControllerKeys
	// Prefix is the subject prefix whose subjects the permissions name.
	// Defaults to DefaultPrefix.
	Prefix string
	// Logger receives a line per refused connection (and per authorized
	// one at debug level). Defaults to discarding.
	Logger *slog.Logger
}

// Callout is drover's NATS auth callout service, run by the controller on
// a connection of its own user (one listed in the server's
// auth_callout.auth_users). For every other connection the server asks it
// to decide; it authorizes a connection when:
//
//   - its token is the engine secret or the client secret (compared in
//     constant time), which gives the connection its role; and
//   - it presents a user nkey and the signature of the server's nonce with
//     that key (the server must send a nonce: it does when it has an nkey
//     user, such as the controller's), which proves the connection holds
//     the key's seed. The key's public part is the connection's key.
//
// The user it returns lives in the controller's account, without expiry,
// with at most 256 subscriptions and these permissions (P the prefix, K
// the key):
//
//   - engine: subscribe P.eng.K.in and _INBOX.K.>; publish P.ctl.eng.K.
//   - client: subscribe _INBOX.K.>; publish P.api.> and $SRV.> (the micro
//     services' discovery).
//
// Anything else is refused with a reason the server logs. A Callout is
// safe for concurrent use.
type Callout struct {
	sub      *nats.Subscription
	issuer   nkeys.KeyPair
	account  string
	engine   []byte
	client   []byte
	subjects Subjects
	log      *slog.Logger

	authorized atomic.Uint64
	refused    atomic.Uint64
}

// StartCallout subscribes the auth callout service on nc (a connection of
// the controller's user, in the callout's account) and returns it. It
// flushes nc, so the service is ready when StartCallout returns.
func StartCallout(nc *nats.Conn, cfg *CalloutConfig) (*Callout, error) {
	if nc == nil {
		return nil, errors.New("start auth callout: nil connection")
	}
	if cfg == nil || cfg.Keys == nil {
		return nil, errors.New("start auth callout: CalloutConfig.Keys is required")
	}
	if err := cfg.Keys.validate(); err != nil {
		return nil, fmt.Errorf("start auth callout: CalloutConfig.Keys: %w", err)
	}
	subj, err := NewSubjects(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("start auth callout: CalloutConfig.Prefix: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(cfg.Keys.IssuerSeed))
	if err != nil {
		return nil, fmt.Errorf("start auth callout: %w", err)
	}
	c := &Callout{
		issuer:   kp,
		account:  cfg.Keys.account(),
		engine:   []byte(cfg.Keys.EngineSecret),
		client:   []byte(cfg.Keys.ClientSecret),
		subjects: subj,
		log:      cfg.Logger,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// A queue group: with several controllers on one server or cluster
	// (a standby, issue 5), one of them answers each request.
	c.sub, err = nc.QueueSubscribe(AuthCalloutSubject, "drover-callout", c.handle)
	if err != nil {
		return nil, fmt.Errorf("start auth callout: %w", err)
	}
	if err := nc.Flush(); err != nil {
		_ = c.sub.Unsubscribe()
		return nil, fmt.Errorf("start auth callout: %w", err)
	}
	return c, nil
}

// Stop unsubscribes the service. Connections attempted afterwards are
// refused by the server (no callout answers). Stopping twice is safe.
func (c *Callout) Stop() error {
	err := c.sub.Unsubscribe()
	if errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}

// Counts returns how many connections the service authorized and refused.
func (c *Callout) Counts() (authorized, refused uint64) {
	return c.authorized.Load(), c.refused.Load()
}

// handle answers one authorization request. It runs on the subscription's
// goroutine; a panic would kill the controller's connection handling, so
// nothing in it may panic on hostile input (the request comes from the
// server, but carries what the connecting party sent).
func (c *Callout) handle(m *nats.Msg) {
	if len(m.Header.Get("Nats-Server-Xkey")) > 0 {
		c.refuse(m, nil, "encrypted authorization requests (xkey) are not supported")
		return
	}
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		c.refuse(m, nil, "undecodable authorization request: "+err.Error())
		return
	}
	ujwt, role, key, reason := c.decide(req)
	if reason != "" {
		c.refuse(m, req, reason)
		return
	}
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	resp.Jwt = ujwt
	tok, err := resp.Encode(c.issuer)
	if err != nil {
		c.refuse(m, req, "cannot sign the response: "+err.Error())
		return
	}
	// Counted before the response: the connection may be up (and a test
	// may look at Counts) as soon as the server has it.
	c.authorized.Add(1)
	if err := m.Respond([]byte(tok)); err != nil {
		c.authorized.Add(^uint64(0)) // not authorized after all
		c.log.Warn("auth callout: cannot respond", "err", err)
		return
	}
	c.log.Debug("auth callout: authorized", "role", role, "key", key, "host", req.ClientInformation.Host, "name", req.ConnectOptions.Name)
}

// decide checks a request and returns the signed user JWT, or the reason
// for refusing it.
func (c *Callout) decide(req *jwt.AuthorizationRequestClaims) (ujwt string, role Role, key, reason string) {
	co := &req.ConnectOptions
	tok := []byte(co.Token)
	switch {
	case len(tok) == 0:
		return "", "", "", "no token: connect with a drover connection file"
	case subtle.ConstantTimeCompare(tok, c.engine) == 1:
		role = RoleEngine
	case subtle.ConstantTimeCompare(tok, c.client) == 1:
		role = RoleClient
	default:
		return "", "", "", "wrong secret"
	}
	if !nkeys.IsValidPublicUserKey(co.Nkey) {
		return "", role, "", "no user nkey: drover connections present a fresh nkey (use fabric.Connect)"
	}
	nonce := req.ClientInformation.Nonce
	if nonce == "" {
		return "", role, "", "the server sent no nonce, so the connection's nkey cannot be verified (give the server an nkey user, such as the controller's)"
	}
	sig, err := base64.RawURLEncoding.DecodeString(co.SignedNonce)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(co.SignedNonce); err != nil {
			return "", role, "", "undecodable nonce signature"
		}
	}
	pk, err := nkeys.FromPublicKey(co.Nkey)
	if err != nil {
		return "", role, "", "bad nkey: " + err.Error()
	}
	if err := pk.Verify([]byte(nonce), sig); err != nil {
		return "", role, "", "the nonce signature does not match the nkey"
	}
	key = co.Nkey
	uc := jwt.NewUserClaims(req.UserNkey)
	uc.Audience = c.account // non-operator mode: the account to place the user in
	uc.Name = string(role) + "-" + key
	uc.Limits.Subs = maxSubs
	inbox := InboxPrefix(key) + ".>"
	switch role {
	case RoleEngine:
		uc.Permissions.Sub.Allow.Add(c.subjects.EngineIn(key), inbox)
		uc.Permissions.Pub.Allow.Add(c.subjects.EngineOut(key))
	case RoleClient:
		uc.Permissions.Sub.Allow.Add(inbox)
		uc.Permissions.Pub.Allow.Add(c.subjects.APIAll(), "$SRV.>")
	}
	ujwt, err = uc.Encode(c.issuer)
	if err != nil {
		return "", role, key, "cannot sign the user: " + err.Error()
	}
	return ujwt, role, key, ""
}

// refuse answers a request with a signed error when the request could be
// decoded (the server logs the reason), or with an empty message.
func (c *Callout) refuse(m *nats.Msg, req *jwt.AuthorizationRequestClaims, reason string) {
	c.refused.Add(1)
	var host, name string
	if req != nil {
		host, name = req.ClientInformation.Host, req.ConnectOptions.Name
	}
	c.log.Warn("auth callout: connection refused", "reason", reason, "host", host, "name", name)
	if req == nil {
		_ = m.Respond(nil)
		return
	}
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	resp.Error = "drover: " + reason
	tok, err := resp.Encode(c.issuer)
	if err != nil {
		_ = m.Respond(nil)
		return
	}
	_ = m.Respond([]byte(tok))
}
