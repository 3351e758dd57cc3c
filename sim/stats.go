package main

import "sync"

// callStats counts the calls the simulator serves, by SOAP method name, by
// REST route (METHOD + normalized path) and, for anything else, by path.
// Safe for concurrent use.
type callStats struct {
	mu    sync.Mutex
	soap  map[string]int64
	rest  map[string]int64
	other map[string]int64
	total int64
}

func newCallStats() *callStats {
	s := &callStats{}
	s.reset()
	return s
}

func (s *callStats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soap = map[string]int64{}
	s.rest = map[string]int64{}
	s.other = map[string]int64{}
	s.total = 0
}

func (s *callStats) countSOAP(method string) { s.count(&s.soap, method) }
func (s *callStats) countREST(route string)  { s.count(&s.rest, route) }
func (s *callStats) countOther(what string)  { s.count(&s.other, what) }

// count bumps one counter. It takes the map's field, not the map: reset
// replaces the maps, so the map is read under the lock.
func (s *callStats) count(counts *map[string]int64, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	(*counts)[key]++
	s.total++
}

// statsSnapshot is the JSON shape of GET /vsray/stats.
type statsSnapshot struct {
	SOAP  map[string]int64 `json:"soap"`
	REST  map[string]int64 `json:"rest"`
	Other map[string]int64 `json:"other"`
	Total int64            `json:"total"`
}

func (s *callStats) snapshot() statsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return statsSnapshot{SOAP: copyCounts(s.soap), REST: copyCounts(s.rest), Other: copyCounts(s.other), Total: s.total}
}

func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
