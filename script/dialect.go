package script

import "go.starlark.net/syntax"

// Dialect returns the Starlark dialect drover uses everywhere (shell,
// scripts, expression jobs): Python-like, with the set built-in, while
// loops, if/for/while at top level, reassignment of global names and
// recursion. Each call returns a new value, which the caller may modify.
func Dialect() *syntax.FileOptions {
	return &syntax.FileOptions{
		Set:             true,
		While:           true,
		TopLevelControl: true,
		GlobalReassign:  true,
		Recursion:       true,
	}
}
