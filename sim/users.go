package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// userStore holds the users vsray-sim accepts: the administrator
// (--username/--password), who is never restricted, and the users of --user
// and POST /vsray/users, whose rights come from permissions (authz.go).
type userStore struct {
	admin string

	mu        sync.Mutex
	passwords map[string]string // by user name, administrator included
}

func newUserStore(admin, adminPassword string) *userStore {
	return &userStore{admin: admin, passwords: map[string]string{admin: adminPassword}}
}

// add adds a user, or changes the password of one added before. The
// administrator cannot be redefined.
func (u *userStore) add(name, password string) error {
	if err := checkUserName(name); err != nil {
		return err
	}
	if password == "" {
		return fmt.Errorf("user %q: empty password", name)
	}
	if strings.EqualFold(name, u.admin) {
		return fmt.Errorf("user %q is the administrator (--username)", name)
	}
	u.mu.Lock()
	u.passwords[name] = password
	u.mu.Unlock()
	return nil
}

func checkUserName(name string) error {
	if name == "" {
		return errors.New("empty user name")
	}
	if strings.ContainsAny(name, ":\n\r\t ") {
		return fmt.Errorf("user name %q: no spaces or ':' allowed", name)
	}
	return nil
}

// check reports whether the password is the user's (compared in constant
// time). Unknown users fail.
func (u *userStore) check(name, password string) bool {
	u.mu.Lock()
	want, ok := u.passwords[name]
	u.mu.Unlock()
	if !ok {
		// Compare anyway, so that unknown users take as long as known ones.
		want = "\x00"
	}
	return subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1 && ok
}

// exists reports whether name is a user (case-insensitively, as vCenter
// matches principals).
func (u *userStore) exists(name string) bool {
	_, ok := u.canonical(name)
	return ok
}

// canonical is the user name as defined, for a principal given in any case.
func (u *userStore) canonical(name string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for n := range u.passwords {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// isAdmin reports whether name is the unrestricted administrator.
func (u *userStore) isAdmin(name string) bool { return name == u.admin }

// names lists the users other than the administrator, sorted.
func (u *userStore) names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var names []string
	for n := range u.passwords {
		if n != u.admin {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// basicUser is the user whose credentials r carries as HTTP basic auth.
func (u *userStore) basicUser(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || !u.check(user, pass) {
		return "", false
	}
	return user, true
}

// splitUserSpec splits --user NAME:PASSWORD (the password may hold ':').
func splitUserSpec(spec string) (name, password string, err error) {
	i := strings.Index(spec, ":")
	if i < 0 {
		return "", "", fmt.Errorf("--user %q: want NAME:PASSWORD", redactUserSpec(spec))
	}
	name, password = spec[:i], spec[i+1:]
	if err := checkUserName(name); err != nil {
		return "", "", fmt.Errorf("--user: %v", err)
	}
	if password == "" {
		return "", "", fmt.Errorf("--user %s: empty password", name)
	}
	return name, password, nil
}

// redactUserSpec hides what may be a password in an error message.
func redactUserSpec(spec string) string {
	if i := strings.Index(spec, ":"); i >= 0 {
		return spec[:i] + ":…"
	}
	return "…"
}
