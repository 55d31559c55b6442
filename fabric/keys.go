package fabric

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/nats-io/nkeys"
)

// DefaultAccount is the NATS account the controller, its engines and its
// clients live in (ControllerKeys.Account's default).
const DefaultAccount = "DROVER"

// minSecretLen is the shortest secret ControllerKeys accepts.
const minSecretLen = 16

// NewSecret returns a fresh random secret: 32 bytes from crypto/rand,
// base64url without padding (43 characters).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewID returns a fresh random identifier (16 hex digits) for a
// controller.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewControllerKeys returns fresh keys for drover's auth callout: a new
// issuer account key, the default account, and new engine and client
// secrets.
func NewControllerKeys() (*ControllerKeys, error) {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("new controller keys: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("new controller keys: %w", err)
	}
	return &ControllerKeys{
		IssuerSeed:   string(seed),
		Account:      DefaultAccount,
		EngineSecret: NewSecret(),
		ClientSecret: NewSecret(),
	}, nil
}

// IssuerPublicKey returns the public key of the issuer ("A..."): the value
// of the server's auth_callout.issuer.
func (k *ControllerKeys) IssuerPublicKey() (string, error) {
	kp, err := nkeys.FromSeed([]byte(k.IssuerSeed))
	if err != nil {
		return "", fmt.Errorf("controller keys: issuer_seed: %w", err)
	}
	return kp.PublicKey()
}

func (k *ControllerKeys) account() string {
	if k.Account == "" {
		return DefaultAccount
	}
	return k.Account
}

// NewUserSeed returns a fresh user nkey seed ("SU...") and its public key
// ("U..."): the controller's own NATS user.
func NewUserSeed() (seed, pub string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", "", fmt.Errorf("new user nkey: %w", err)
	}
	s, err := kp.Seed()
	if err != nil {
		return "", "", fmt.Errorf("new user nkey: %w", err)
	}
	p, err := kp.PublicKey()
	if err != nil {
		return "", "", fmt.Errorf("new user nkey: %w", err)
	}
	return string(s), p, nil
}

// userKeyFromSeed parses a user nkey seed.
func userKeyFromSeed(seed string) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(seed)))
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("not a user nkey seed (SU...)")
	}
	return kp, nil
}

// UserPublicKey returns the public key of a user nkey seed.
func UserPublicKey(seed string) (string, error) {
	kp, err := userKeyFromSeed(seed)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// ServerAuthConfig returns the part of a nats-server configuration that
// runs drover's auth callout: the account (with JetStream enabled when
// jetStream is set), the controller's user (the nkey controllerPub, which
// bypasses the callout and runs it) and the auth_callout block naming the
// issuer. The embedded server uses exactly this; the operator of an
// external server adds it to the server's configuration (see the package
// documentation). It holds no secret.
func ServerAuthConfig(keys *ControllerKeys, controllerPub string, jetStream bool) (string, error) {
	issuer, err := keys.IssuerPublicKey()
	if err != nil {
		return "", err
	}
	if !nkeys.IsValidPublicUserKey(controllerPub) {
		return "", fmt.Errorf("server auth config: controller key %q is not a user public key", controllerPub)
	}
	acc := keys.account()
	if !ValidToken(acc) {
		return "", fmt.Errorf("server auth config: account %q: letters, digits, '-' and '_' only", acc)
	}
	js := ""
	if jetStream {
		js = "\n    jetstream: enabled"
	}
	return fmt.Sprintf(`accounts {
  %[1]s {
    users: [ { nkey: %[2]s } ]%[4]s
  }
}
authorization {
  auth_callout {
    issuer: %[3]s
    account: %[1]s
    auth_users: [ %[2]s ]
  }
}
`, acc, controllerPub, issuer, js), nil
}
