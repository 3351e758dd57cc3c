package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vmware/govmomi/simulator"
)

// controlPrefix is where the control endpoint lives, on the same server.
// Its calls are neither counted, delayed nor faulted.
const controlPrefix = "/vsray/"

// controlHandler lets tests and benchmarks inspect and steer the simulator.
func (s *simulation) controlHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(controlPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				w.Header().Set("Allow", method)
				writeError(w, http.StatusMethodNotAllowed, "use "+method)
				return
			}
			h(w, r)
		})
	}

	handle(http.MethodGet, "stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, statsReport{
			statsSnapshot:     s.front.stats.snapshot(),
			WaitingForUpdates: simulator.WaitingForUpdates(),
			Provisioning:      s.front.provisioning.report(),
		})
	})
	handle(http.MethodPost, "stats/reset", func(w http.ResponseWriter, r *http.Request) {
		s.front.stats.reset()
		s.front.provisioning.resetCounts()
		w.WriteHeader(http.StatusNoContent)
	})
	handle(http.MethodPost, "provisioning-limit", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Limit *int `json:"limit"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Limit == nil || *req.Limit < 0 {
			writeError(w, http.StatusBadRequest, "want {\"limit\": N} with N >= 0 (0: no limit)")
			return
		}
		s.front.provisioning.setLimit(*req.Limit)
		w.WriteHeader(http.StatusNoContent)
	})
	s.handleHolds(handle)
	handle(http.MethodGet, "inventory", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, countInventory(s.frozen.list()))
	})
	mux.HandleFunc(controlPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.front.faults.list())
		case http.MethodPost:
			var req struct {
				Spec string `json:"spec"`
			}
			if !decodeBody(w, r, &req) {
				return
			}
			spec, err := parseFaultSpec(req.Spec)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeJSON(w, http.StatusCreated, map[string]int{"id": s.front.faults.add(spec)})
		case http.MethodDelete:
			writeJSON(w, http.StatusOK, map[string]int{"removed": s.front.faults.clear()})
		default:
			writeError(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
		}
	})
	handle(http.MethodPost, "task-durations", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method   string `json:"method"`
			Duration string `json:"duration"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.Duration)
		if err != nil || req.Method == "" || d < 0 {
			writeError(w, http.StatusBadRequest, "want {\"method\": \"X_Task\", \"duration\": \"2s\"}")
			return
		}
		s.front.tasks.set(req.Method, d)
		w.WriteHeader(http.StatusNoContent)
	})
	handle(http.MethodPost, "sessions/expire", func(w http.ResponseWriter, r *http.Request) {
		soapN, restN := s.front.expireAll()
		writeJSON(w, http.StatusOK, map[string]int{"soap": soapN, "rest": restN})
	})
	handle(http.MethodPost, "hosts/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Host    string `json:"host"`
			Enabled bool   `json:"enabled"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		if err := setMaintenanceMode(req.Host, req.Enabled); err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	handle(http.MethodPost, "hosts/connection", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Host  string `json:"host"`
			State string `json:"state"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		if err := setConnectionState(req.Host, req.State); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	handle(http.MethodPost, "hosts/add", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Cluster string `json:"cluster"`
			Name    string `json:"name"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		host, err := addHost(ctx, s.frozen.client, req.Cluster, req.Name)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, host)
	})
	handle(http.MethodPost, "frozen-vms", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
			Host string `json:"host"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Name == "" {
			writeError(w, http.StatusBadRequest, "name is required")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		vm, err := s.frozen.create(ctx, req.Name, req.Host)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, vm)
	})
	s.accessControl(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such control route; see sim/README.md")
	})
	return mux
}

// statsReport is GET /vsray/stats: the call counters, the long polls
// waiting now and the provisioning slots per host.
type statsReport struct {
	statsSnapshot
	WaitingForUpdates int64              `json:"waiting_for_updates"`
	Provisioning      provisioningReport `json:"provisioning"`
}

func (s *simulation) handleHolds(handle func(method, path string, h func(w http.ResponseWriter, r *http.Request))) {
	handle(http.MethodGet, "holds", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.front.holds.list())
	})
	handle(http.MethodPost, "holds/release", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID   int  `json:"id"`
			Drop bool `json:"drop"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		n, err := s.front.holds.release(req.ID, !req.Drop, s.front.stopping)
		if err != nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("held call %d: %v", req.ID, err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"released": n})
	})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v interface{}) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}
