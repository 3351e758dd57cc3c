package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
)

// permissionSpec is --permission USER:ROLE:INVENTORYPATH[:propagate].
type permissionSpec struct {
	user, role, path string
	propagate        bool
}

func parsePermissionSpec(text string) (permissionSpec, error) {
	parts := strings.SplitN(text, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return permissionSpec{}, fmt.Errorf("--permission %q: want USER:ROLE:INVENTORYPATH[:propagate]", text)
	}
	p := permissionSpec{user: parts[0], role: parts[1], path: parts[2]}
	if strings.HasSuffix(p.path, ":propagate") {
		p.path, p.propagate = strings.TrimSuffix(p.path, ":propagate"), true
	}
	if !strings.HasPrefix(p.path, "/") {
		return p, fmt.Errorf("--permission %q: the inventory path must start with / (/DC0/vm)", text)
	}
	return p, nil
}

// roleSpec is --role NAME:PRIVILEGE[,PRIVILEGE]...
type roleSpec struct {
	name       string
	privileges []string
}

func parseRoleSpec(text string) (roleSpec, error) {
	name, list, ok := strings.Cut(text, ":")
	if !ok || name == "" {
		return roleSpec{}, fmt.Errorf("--role %q: want NAME:PRIVILEGE[,PRIVILEGE]...", text)
	}
	r := roleSpec{name: name}
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			r.privileges = append(r.privileges, p)
		}
	}
	return r, nil
}

// setupAccess creates the users, roles and permissions of the flags and the
// access model the front uses.
func (s *simulation) setupAccess(cfg *config) error {
	s.users = newUserStore(cfg.username, cfg.password)
	for _, spec := range cfg.users {
		name, password, _ := splitUserSpec(spec) // validated with the flags
		if err := s.users.add(name, password); err != nil {
			return fmt.Errorf("--user: %v", err)
		}
	}
	s.authz = newAuthz(s.users)
	s.authz.attach()
	for _, text := range cfg.roles {
		r, _ := parseRoleSpec(text)
		for _, p := range r.privileges {
			if !knownPrivilege(p) {
				return fmt.Errorf("--role %s: unknown privilege %q", r.name, p)
			}
		}
		if _, fault := addRole(r.name, r.privileges); fault != nil {
			return fmt.Errorf("--role %s: %s (a role of that name exists)", r.name, faultName(fault))
		}
	}
	for _, text := range cfg.permissions {
		p, _ := parsePermissionSpec(text)
		if err := s.authz.grant(p.user, p.role, p.path, p.propagate); err != nil {
			return fmt.Errorf("--permission %s: %v", text, err)
		}
	}
	return nil
}

// setupGPUs gives the hosts the GPUs of the flags.
func (s *simulation) setupGPUs(cfg *config) error {
	simulator.AddEnvironmentBrowsers()
	s.gpus = newGPUManager()
	s.gpus.attach()
	specs := []gpuSpec{}
	if cfg.gpusPerHost > 0 {
		specs = append(specs, defaultGPU(cfg.gpusPerHost))
	}
	for _, text := range cfg.gpus {
		spec, _ := parseGPUSpec(text) // validated with the flags
		specs = append(specs, spec)
	}
	for _, spec := range specs {
		if _, err := s.gpus.add(spec); err != nil {
			return fmt.Errorf("--gpu: %v", err)
		}
	}
	return nil
}

// frontAccess is the access model as the front uses it.
func (s *simulation) frontAccess() *access {
	return &access{
		users:    s.users,
		authz:    s.authz,
		sessions: s.front.sessions,
		service:  s.model.Service,
		inner:    s.front.inner,
		wait: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
				return
			}
			s.front.service.ServeWaitForUpdates(w, r, body, s.front.stopping)
		}),
		apiKnown: func(r *http.Request) bool {
			route, _ := s.front.api.match(r)
			return route != nil
		},
	}
}

// validateAccessFlags checks --user, --role, --permission, --gpu and
// --gpus-per-host.
func (c *config) validateAccessFlags() error {
	for _, spec := range c.users {
		if _, _, err := splitUserSpec(spec); err != nil {
			return err
		}
	}
	for _, spec := range c.roles {
		if _, err := parseRoleSpec(spec); err != nil {
			return err
		}
	}
	for _, spec := range c.permissions {
		if _, err := parsePermissionSpec(spec); err != nil {
			return err
		}
	}
	for _, spec := range c.gpus {
		if _, err := parseGPUSpec(spec); err != nil {
			return err
		}
	}
	if c.gpusPerHost < 0 || c.gpusPerHost > 64 {
		return fmt.Errorf("--gpus-per-host must be between 0 and 64")
	}
	return nil
}
