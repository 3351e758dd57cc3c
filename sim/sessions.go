package main

import (
	"crypto/subtle"
	"net/http"
	"sync"

	"github.com/vmware/govmomi/simulator"
)

// sessionHeader carries vAPI session tokens, on /rest and /api alike.
const sessionHeader = "vmware-api-session-id"

// credentials are the only user name and password the simulator accepts.
type credentials struct {
	username string
	password string
}

// checkBasic reports whether r carries these credentials as HTTP basic auth.
// The stock /rest accepts any non-empty pair.
func (c credentials) checkBasic(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(c.username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(c.password))
	return u&p == 1
}

// restSessions remembers the vAPI session tokens handed out, so that they can
// be expired on demand (the vAPI simulator keeps them to itself).
type restSessions struct {
	mu     sync.Mutex
	tokens map[string]bool
}

func newRESTSessions() *restSessions { return &restSessions{tokens: map[string]bool{}} }

func (s *restSessions) add(token string) {
	s.mu.Lock()
	s.tokens[token] = true
	s.mu.Unlock()
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
	s.tokens = map[string]bool{}
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
