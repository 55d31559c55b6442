package shell

import (
	"bytes"
	"io"
	"slices"
	"strings"
)

// Pasting code.
//
// The line editor (readline v0.1.3) knows nothing of bracketed paste: a
// paste reaches it as typed keys, so each line of pasted code is a line
// entered, and a blank line inside a pasted function body would end the
// block, as in Python's REPL up to 3.12. So the shell turns on the
// terminal's bracketed paste mode and reads the terminal through a
// pasteReader, which drops the paste brackets and marks every blank line
// inside a paste with pasteBlank, a zero-width space (invisible, and zero
// columns wide for readline too). A marked line continues the statement
// being typed instead of ending it: pasted code runs as Python 3.13 and
// IPython run it, once the paste is complete and Enter is pressed on an
// empty line. Inside a paste, indentation tabs become spaces (Starlark's
// 8-column tab stops), as a tab would otherwise ask readline for
// completions, and "\r\n" is one line break.

const (
	// pasteBlank marks a blank line of a paste.
	pasteBlank = "\u200b"

	bracketedPasteOn  = "\x1b[?2004h"
	bracketedPasteOff = "\x1b[?2004l"
)

var (
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// isPastedBlank reports whether line, as read from the line editor, is a
// blank line of a paste.
func isPastedBlank(line string) bool {
	return strings.TrimSpace(strings.ReplaceAll(line, pasteBlank, "")) == "" && strings.Contains(line, pasteBlank)
}

// hidePasteBlank is the line editor's Painter: it does not show the mark
// of a pasted blank line (zero columns wide, so the layout is the same).
func hidePasteBlank(line []rune, _ int) []rune {
	mark := []rune(pasteBlank)[0]
	if !slices.Contains(line, mark) {
		return line
	}
	return slices.DeleteFunc(slices.Clone(line), func(r rune) bool { return r == mark })
}

// pasteReader reads a terminal's input, handling bracketed pastes (see
// above). It is used by one goroutine at a time (readline's reader).
type pasteReader struct {
	r   io.Reader
	buf []byte // read from r, not yet processed
	out []byte // processed, not yet returned

	esc       []byte // a partial escape sequence that may be a paste bracket
	inPaste   bool
	lineStart bool   // in a paste, at the start of a line
	indent    []byte // in a paste, the blanks at the start of the line so far
	lastCR    bool   // in a paste, the last byte was '\r'
}

func newPasteReader(r io.Reader) *pasteReader {
	return &pasteReader{r: r, buf: make([]byte, 4096)}
}

func (p *pasteReader) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		n, err := p.r.Read(p.buf)
		for _, c := range p.buf[:n] {
			p.feed(c)
		}
		if err != nil {
			p.out = append(p.out, p.esc...) // an escape cut by the end
			p.esc = nil
			if len(p.out) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	if len(p.out) == 0 {
		p.out = nil
	}
	return n, nil
}

// feed processes one byte of input.
func (p *pasteReader) feed(c byte) {
	if len(p.esc) > 0 || c == 0x1b {
		p.esc = append(p.esc, c)
		switch {
		case bytes.Equal(p.esc, pasteStart):
			p.esc = nil
			p.inPaste, p.lineStart, p.indent, p.lastCR = true, false, nil, false
		case bytes.Equal(p.esc, pasteEnd):
			p.esc = nil
			p.out = append(p.out, p.indent...)
			p.inPaste, p.indent = false, nil
		case !bytes.HasPrefix(pasteStart, p.esc) && !bytes.HasPrefix(pasteEnd, p.esc):
			esc := p.esc
			p.esc = nil
			if len(esc) > 1 && esc[len(esc)-1] == 0x1b {
				// A new escape right after an unfinished one.
				p.emit(esc[:len(esc)-1])
				p.feed(0x1b)
				return
			}
			p.emit(esc)
		}
		return
	}
	p.emit([]byte{c})
}

// emit outputs input bytes that are not paste brackets.
func (p *pasteReader) emit(bs []byte) {
	if !p.inPaste {
		p.out = append(p.out, bs...)
		return
	}
	for _, c := range bs {
		switch {
		case c == '\n' && p.lastCR:
			// The second half of "\r\n".
		case c == '\r' || c == '\n':
			if p.lineStart {
				p.out = append(p.out, pasteBlank...)
			} else {
				p.out = append(p.out, p.indent...)
			}
			p.out = append(p.out, '\r')
			p.lineStart, p.indent = true, nil
		case p.lineStart && c == ' ':
			p.indent = append(p.indent, ' ')
		case p.lineStart && c == '\t':
			p.indent = append(p.indent, bytes.Repeat([]byte{' '}, 8-len(p.indent)%8)...)
		default:
			p.out = append(p.out, p.indent...)
			p.out = append(p.out, c)
			p.lineStart, p.indent = false, nil
		}
		p.lastCR = c == '\r'
	}
}
