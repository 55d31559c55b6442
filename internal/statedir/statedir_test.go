package statedir

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDir(t *testing.T) {
	t.Parallel()
	noHome := func() (string, error) { return "", errors.New("no home") }
	for _, tt := range []struct {
		name string
		env  map[string]string
		home func() (string, error)
		want string
		err  error
	}{
		{"override", map[string]string{Env: "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, nil, "/s", nil},
		{"xdg", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, nil, "/x/drover", nil},
		{"relative xdg ignored", map[string]string{"XDG_STATE_HOME": "x", "HOME": "/h"}, nil, "/h/.local/state/drover", nil},
		{"home", map[string]string{"HOME": "/h"}, nil, "/h/.local/state/drover", nil},
		{"home func", nil, func() (string, error) { return "/u", nil }, "/u/.local/state/drover", nil},
		{"nothing", nil, noHome, "", ErrNoStateDir},
		{"nothing, nil func", nil, nil, "", ErrNoStateDir},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Dir(func(k string) string { return tt.env[k] }, tt.home)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Dir = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}
