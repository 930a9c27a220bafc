package taskuser

import (
	"errors"
	"os/user"
	"testing"
)

func TestPick(t *testing.T) {
	for _, c := range []struct {
		name string
		u    *user.User
		err  error
		want string
	}{
		{"root", &user.User{Uid: "0", Username: "root"}, nil, "nobody"},
		{"a developer", &user.User{Uid: "1000", Username: "alice"}, nil, "alice"},
		{"the compose user", &user.User{Uid: "10001", Username: "corral"}, nil, "corral"},
		{"unknown", nil, errors.New("no user"), "nobody"},
	} {
		if got := pick(c.u, c.err); got != c.want {
			t.Errorf("%s: pick = %q; want %q", c.name, got, c.want)
		}
	}
}
