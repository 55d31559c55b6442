package shell

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// screen is a small terminal emulator for the pty tests: enough of a VT100
// for what readline writes (printable text, CR, LF, BS, TAB, the CSI cursor
// moves A B C D G H, erases K and J, and the cursor position query CSI 6n,
// which it answers like a real terminal). It keeps every line that ever
// scrolled off, so a test can look at the whole session. Not safe for
// concurrent use.
type screen struct {
	w, h        int
	lines       [][]rune // scrollback and screen; the screen is the last h lines
	row, col    int      // cursor; row indexes lines
	wrapPending bool     // the last column was written: wrap before the next rune

	state   int    // parser state
	params  []byte // CSI parameter bytes
	pending []byte // an incomplete UTF-8 sequence
}

const (
	stGround = iota
	stEsc
	stCSI
	stOSC
	stOSCEsc
)

func newScreen(w, h int) *screen {
	return &screen{w: w, h: h, lines: [][]rune{nil}}
}

// top is the index of the first line on the screen.
func (s *screen) top() int {
	if len(s.lines) > s.h {
		return len(s.lines) - s.h
	}
	return 0
}

// write feeds terminal output and returns the terminal's replies (answers
// to cursor position queries) to be written back to the program.
func (s *screen) write(p []byte) (reply []byte) {
	data := append(s.pending, p...)
	s.pending = nil
	for i := 0; i < len(data); {
		b := data[i]
		switch s.state {
		case stGround:
			if b >= 0x80 {
				if !utf8.FullRune(data[i:]) {
					s.pending = append([]byte(nil), data[i:]...)
					return reply
				}
				r, n := utf8.DecodeRune(data[i:])
				s.put(r)
				i += n
				continue
			}
			s.control(b)
		case stEsc:
			switch b {
			case '[':
				s.state, s.params = stCSI, s.params[:0]
			case ']':
				s.state = stOSC
			default:
				s.state = stGround
			}
		case stCSI:
			if b >= 0x40 && b <= 0x7e {
				reply = append(reply, s.csi(b)...)
				s.state = stGround
			} else {
				s.params = append(s.params, b)
			}
		case stOSC:
			switch b {
			case 0x07:
				s.state = stGround
			case 0x1b:
				s.state = stOSCEsc
			}
		case stOSCEsc:
			s.state = stGround
		}
		i++
	}
	return reply
}

func (s *screen) control(b byte) {
	switch b {
	case 0x1b:
		s.state = stEsc
	case '\r':
		s.col, s.wrapPending = 0, false
	case '\n':
		s.lineFeed()
	case '\b':
		if s.col > 0 {
			s.col--
		}
		s.wrapPending = false
	case '\t':
		s.col = min((s.col/8+1)*8, s.w-1)
	case 0x07: // bell
	default:
		if b >= 0x20 && b != 0x7f {
			s.put(rune(b))
		}
	}
}

func (s *screen) lineFeed() {
	s.row++
	if s.row == len(s.lines) {
		s.lines = append(s.lines, nil)
	}
	s.wrapPending = false
}

func (s *screen) put(r rune) {
	if s.wrapPending {
		s.col = 0
		s.lineFeed()
	}
	line := s.lines[s.row]
	for len(line) <= s.col {
		line = append(line, ' ')
	}
	line[s.col] = r
	s.lines[s.row] = line
	if s.col == s.w-1 {
		s.wrapPending = true
	} else {
		s.col++
	}
}

// csi runs one CSI sequence ending in final.
func (s *screen) csi(final byte) (reply []byte) {
	ps := string(s.params)
	if strings.HasPrefix(ps, "?") || strings.HasPrefix(ps, ">") {
		return nil // private modes (bracketed paste, ...)
	}
	var nums []int
	for _, f := range strings.Split(ps, ";") {
		n, _ := strconv.Atoi(f)
		nums = append(nums, n)
	}
	arg := func(i, def int) int {
		if i < len(nums) && nums[i] > 0 {
			return nums[i]
		}
		return def
	}
	s.wrapPending = false
	switch final {
	case 'A':
		s.row = max(s.row-arg(0, 1), s.top())
	case 'B':
		s.row = min(s.row+arg(0, 1), len(s.lines)-1)
	case 'C':
		s.col = min(s.col+arg(0, 1), s.w-1)
	case 'D':
		s.col = max(s.col-arg(0, 1), 0)
	case 'G':
		s.col = min(arg(0, 1)-1, s.w-1)
	case 'H', 'f':
		s.row = min(s.top()+arg(0, 1)-1, len(s.lines)-1)
		s.col = min(arg(1, 1)-1, s.w-1)
	case 'K':
		switch arg(0, 0) {
		case 0:
			s.truncate(s.row, s.col)
		case 2:
			s.lines[s.row] = nil
		}
	case 'J':
		switch arg(0, 0) {
		case 0:
			s.truncate(s.row, s.col)
			for i := s.row + 1; i < len(s.lines); i++ {
				s.lines[i] = nil
			}
		case 2:
			for i := s.top(); i < len(s.lines); i++ {
				s.lines[i] = nil
			}
		}
	case 'n':
		if arg(0, 0) == 6 {
			return fmt.Appendf(nil, "\x1b[%d;%dR", s.row-s.top()+1, s.col+1)
		}
	}
	return nil
}

func (s *screen) truncate(row, col int) {
	if len(s.lines[row]) > col {
		s.lines[row] = s.lines[row][:col]
	}
}

// text returns every line (scrollback included), trailing spaces and
// trailing empty lines removed.
func (s *screen) text() []string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// cursorLine returns the line the cursor is on, up to the cursor.
func (s *screen) cursorLine() string {
	l := s.lines[s.row]
	if len(l) > s.col {
		l = l[:s.col]
	}
	return string(l)
}

func (s *screen) String() string {
	return strings.Join(s.text(), "\n") + fmt.Sprintf("\n[cursor row %d col %d]", s.row, s.col)
}
