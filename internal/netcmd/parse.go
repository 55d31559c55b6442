package netcmd

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseProps parses --prop key=value flags: the value is JSON when it is
// valid JSON (numbers become int64, big integers *big.Int, others
// float64), else the string as written.
func parseProps(kvs []string) (map[string]any, error) {
	props := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--prop %q: want key=value", kv)
		}
		if k == "" {
			return nil, fmt.Errorf("--prop %q: empty key", kv)
		}
		if _, dup := props[k]; dup {
			return nil, fmt.Errorf("--prop %q: %s given twice", kv, k)
		}
		props[k] = propValue(v)
	}
	return props, nil
}

// propValue is v decoded as JSON, or v itself when it is not JSON.
func propValue(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil || dec.More() {
		return v
	}
	if _, err := dec.Token(); err == nil { // trailing data
		return v
	}
	out, ok := plainJSON(x)
	if !ok {
		return v
	}
	return out
}

// plainJSON converts what encoding/json decoded (with UseNumber) into
// drover's plain data.
func plainJSON(x any) (any, bool) {
	switch x := x.(type) {
	case json.Number:
		s := x.String()
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if !strings.ContainsAny(s, ".eE") {
			b, ok := new(big.Int).SetString(s, 10)
			return b, ok
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	case []any:
		for i, e := range x {
			v, ok := plainJSON(e)
			if !ok {
				return nil, false
			}
			x[i] = v
		}
		return x, true
	case map[string]any:
		for k, e := range x {
			v, ok := plainJSON(e)
			if !ok {
				return nil, false
			}
			x[k] = v
		}
		return x, true
	default: // nil, bool, string
		return x, true
	}
}

// parseSize parses a size in bytes: a number with an optional unit, B;
// K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024); KB, MB, GB, TB
// (powers of 1000). Case does not matter; a space may separate the unit.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("size %q: want a number of bytes, with an optional unit (512MiB, 2G, 1GB)", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, K, M, G, T, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s, t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	if v < 1 {
		return 0, fmt.Errorf("size %q: must be at least 1 byte", s)
	}
	return int64(v), nil
}

// formatSize writes n bytes with a binary unit.
func formatSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f == math.Trunc(f) {
		return fmt.Sprintf("%d %s", int64(f), units[u])
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
