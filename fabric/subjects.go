package fabric

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the subject prefix of a controller whose configuration
// gives none. One controller serves one prefix.
const DefaultPrefix = "drover"

// APIVersion is the version token of the control API's subjects
// (P.api.v1.<op>).
const APIVersion = "v1"

// Subjects builds drover's NATS subjects under a prefix P (see the package
// documentation for the scheme). The zero value uses DefaultPrefix. A
// Subjects is a value: safe for concurrent use.
type Subjects struct {
	prefix string
}

// NewSubjects returns the subjects under prefix ("" means DefaultPrefix).
// The prefix is one or more dot-separated tokens of letters, digits, '-'
// and '_'; it may not start with '$' or '_INBOX' (NATS' own namespaces).
func NewSubjects(prefix string) (Subjects, error) {
	if prefix == "" {
		return Subjects{prefix: DefaultPrefix}, nil
	}
	if err := validPrefix(prefix); err != nil {
		return Subjects{}, err
	}
	return Subjects{prefix: prefix}, nil
}

func validPrefix(p string) error {
	if strings.HasPrefix(p, "_INBOX") || strings.HasPrefix(p, "$") {
		return fmt.Errorf("subject prefix %q: must not start with $ or _INBOX (NATS' own subjects)", p)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("subject prefix %q: empty token", p)
		}
		if !ValidToken(tok) {
			return fmt.Errorf("subject prefix %q: token %q may only hold letters, digits, '-' and '_'", p, tok)
		}
	}
	return nil
}

// ValidToken reports whether s is usable as one subject token of drover's
// scheme (an engine key, a prefix token): non-empty, letters, digits, '-'
// and '_' only.
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Prefix returns the prefix P.
func (s Subjects) Prefix() string {
	if s.prefix == "" {
		return DefaultPrefix
	}
	return s.prefix
}

// EngineIn is P.eng.<key>.in: controller → engine key.
func (s Subjects) EngineIn(key string) string { return s.Prefix() + ".eng." + key + ".in" }

// EngineInAll is P.eng.*.in: every engine's input (the controller's
// publish permission).
func (s Subjects) EngineInAll() string { return s.Prefix() + ".eng.*.in" }

// EngineOut is P.ctl.eng.<key>: engine key → controller.
func (s Subjects) EngineOut(key string) string { return s.Prefix() + ".ctl.eng." + key }

// EngineOutAll is P.ctl.eng.*: what the controller subscribes to; the key
// is the last token of each message's subject.
func (s Subjects) EngineOutAll() string { return s.Prefix() + ".ctl.eng.*" }

// EngineKeyOf returns the key of an engine → controller subject
// (P.ctl.eng.<key>), or false if subject is not one.
func (s Subjects) EngineKeyOf(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, s.Prefix()+".ctl.eng.")
	if !ok || !ValidToken(rest) {
		return "", false
	}
	return rest, true
}

// API is P.api.v1: the control API's group.
func (s Subjects) API() string { return s.Prefix() + ".api." + APIVersion }

// APIOp is P.api.v1.<op>.
func (s Subjects) APIOp(op string) string { return s.API() + "." + op }

// APIAll is P.api.>: what a client may publish to.
func (s Subjects) APIAll() string { return s.Prefix() + ".api.>" }

// InboxPrefix is _INBOX.<key>: the reply inboxes of the connection whose
// key is key (nats.CustomInboxPrefix), so that permissions can confine
// replies to their requester.
func InboxPrefix(key string) string { return "_INBOX." + key }
