package script

import "go.starlark.net/starlark"

// InstallTestBuiltins adds the test built-ins (assert_eq, assert_true,
// assert_fails, capture, gate) to s, for the tests of package script_test.
func InstallTestBuiltins(s *Session) {
	for name, fn := range testBuiltins {
		s.ns.set(name, starlark.NewBuiltin(name, fn))
	}
}

// SetGlobal sets a global variable of s, for the tests of package
// script_test.
func SetGlobal(s *Session, name string, v starlark.Value) { s.ns.set(name, v) }
