package natstransport

import "bytes"

// keepBuf is the largest encoding buffer an end keeps between sends.
const keepBuf = 64 << 10

// shrink drops buf's storage after a large frame, so that one large
// message does not pin its size in memory for the life of the end.
func shrink(buf *bytes.Buffer) {
	if buf.Cap() > keepBuf {
		*buf = bytes.Buffer{}
	}
}

// frameOverhead is more than a frame adds around its messages (version,
// kind, session, sequence numbers, the list's header).
const frameOverhead = 64

// packed is the result of split: runs of messages that fit one frame
// each, in order, and the messages too large to go even alone.
type packed struct {
	runs  [][2]int // [start, end) of each run
	big   []int    // indexes of messages too large
	sizes []int    // encoded size of each message (of the big ones at least)
}

// split packs msgs greedily into frames of at most max bytes. size gives a
// message's encoded size alone.
func split[T any](msgs []T, max int, size func(*T) (int, error)) (packed, error) {
	var p packed
	p.sizes = make([]int, len(msgs))
	start, total := 0, frameOverhead
	for i := range msgs {
		n, err := size(&msgs[i])
		if err != nil {
			return p, err
		}
		p.sizes[i] = n
		if n+frameOverhead > max {
			if start < i {
				p.runs = append(p.runs, [2]int{start, i})
			}
			p.big = append(p.big, i)
			start, total = i+1, frameOverhead
			continue
		}
		if total+n > max {
			p.runs = append(p.runs, [2]int{start, i})
			start, total = i, frameOverhead
		}
		total += n
	}
	if start < len(msgs) {
		p.runs = append(p.runs, [2]int{start, len(msgs)})
	}
	return p, nil
}
