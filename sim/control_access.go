package main

import (
	"errors"
	"net/http"
)

// controlMethods serves a control path with one handler per HTTP method.
type controlMethods map[string]http.HandlerFunc

func (c controlMethods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := c[r.Method]
	if !ok {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed on this control route")
		return
	}
	h(w, r)
}

// accessControl adds the control routes of users, permissions and GPUs.
func (s *simulation) accessControl(mux *http.ServeMux) {
	mux.Handle(controlPrefix+"users", controlMethods{
		http.MethodGet:  s.listUsers,
		http.MethodPost: s.addUser,
	})
	mux.Handle(controlPrefix+"permissions", controlMethods{http.MethodPost: s.addPermission})
	mux.Handle(controlPrefix+"gpus", controlMethods{
		http.MethodGet:  func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.gpus.list()) },
		http.MethodPost: s.addGPUs,
	})
	mux.Handle(controlPrefix+"gpus/remove", controlMethods{http.MethodPost: s.removeGPU})
}

func (s *simulation) listUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"users": append([]string{}, s.users.names()...)})
}

func (s *simulation) addUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.users.add(req.Name, req.Password); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
}

func (s *simulation) addPermission(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User      string `json:"user"`
		Role      string `json:"role"`
		Path      string `json:"path"`
		Propagate bool   `json:"propagate"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.authz.grant(req.User, req.Role, req.Path, req.Propagate); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *simulation) addGPUs(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Spec string `json:"spec"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	spec, err := parseGPUSpec(req.Spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	added, err := s.gpus.add(spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string][]addedGPU{"added": added})
}

func (s *simulation) removeGPU(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Host string `json:"host"`
		ID   string `json:"id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	err := s.gpus.remove(req.Host, req.ID)
	switch {
	case errors.Is(err, errGPUInUse):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusNotFound, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
