package shell

import "strings"

// completer adapts the session's completion to readline.AutoCompleter.
type completer struct{ sh *shell }

// Do returns, for the text before pos, the completions as the runes to
// insert after the common part, and the length of that part in runes.
func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	if pos > len(line) {
		pos = len(line)
	}
	before := string(line[:pos])
	// Magic names at the start of a line.
	if t := strings.TrimLeft(before, " \t"); strings.HasPrefix(t, "%") && !strings.ContainsAny(t, " \t") {
		var out [][]rune
		for _, m := range magicNames() {
			if strings.HasPrefix(m, t) {
				out = append(out, []rune(m[len(t):]))
			}
		}
		return out, len([]rune(t))
	}
	if c.sh.sess == nil {
		return nil, 0
	}
	cands, from := c.sh.sess.Complete(before, len(before))
	if from < 0 || from > len(before) {
		return nil, 0
	}
	prefix := before[from:]
	var out [][]rune
	for _, cand := range cands {
		if rest, ok := strings.CutPrefix(cand, prefix); ok {
			out = append(out, []rune(rest))
		}
	}
	return out, len([]rune(prefix))
}
