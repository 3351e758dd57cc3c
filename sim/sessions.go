package main

import (
	"net/http"
	"sync"

	"github.com/vmware/govmomi/simulator"
)

// sessionHeader carries vAPI session tokens, on /rest and /api alike.
const sessionHeader = "vmware-api-session-id"

// credentials are the users the simulator accepts: the administrator and
// those of --user (see users.go).
type credentials struct {
	users *userStore
}

// basicUser is the user whose name and password r carries as HTTP basic
// auth. The stock /rest accepts any non-empty pair.
func (c credentials) basicUser(r *http.Request) (string, bool) {
	return c.users.basicUser(r)
}

// restSessions remembers the vAPI session tokens handed out and their users,
// so that they can be expired on demand (the vAPI simulator keeps them to
// itself) and their calls checked against the user's privileges.
type restSessions struct {
	mu     sync.Mutex
	tokens map[string]string // token -> user
}

func newRESTSessions() *restSessions { return &restSessions{tokens: map[string]string{}} }

func (s *restSessions) add(token, user string) {
	s.mu.Lock()
	s.tokens[token] = user
	s.mu.Unlock()
}

// user is the user of a live token.
func (s *restSessions) user(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.tokens[token]
	return user, ok
}

func (s *restSessions) remove(token string) {
	s.mu.Lock()
	delete(s.tokens, token)
	s.mu.Unlock()
}

func (s *restSessions) drain() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tokens := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		tokens = append(tokens, t)
	}
	s.tokens = map[string]string{}
	return tokens
}

// expireAll ends every SOAP and vAPI session. Clients then get
// NotAuthenticated (SOAP) or 401 (REST) and must log in again.
func (f *front) expireAll() (soapSessions, restCount int) {
	soapSessions = simulator.ExpireSessions()
	for _, token := range f.sessions.drain() {
		h := http.Header{}
		h.Set(sessionHeader, token)
		if status, _ := f.restCall(h, http.MethodDelete, "/rest/com/vmware/cis/session", "", nil); status == http.StatusOK {
			restCount++
		}
	}
	return soapSessions, restCount
}
