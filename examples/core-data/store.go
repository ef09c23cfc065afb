package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/ztedge/ztedge/caller"
)

// Reading is one value a device reported, with the identity that sent it.
type Reading struct {
	Device   string    `json:"device"`
	Resource string    `json:"resource"`
	Value    float64   `json:"value"`
	Origin   time.Time `json:"origin"`
	// Sender is the authenticated caller that posted the reading.
	Sender string `json:"sender"`
	// Relay is the trusted relay the sender's JWT came through (an API
	// gateway's Ziti identity, see docs/modes.md), if any.
	Relay string `json:"relay,omitempty"`
}

// store keeps the most recent readings in memory.
type store struct {
	mu       sync.Mutex
	readings []Reading
	limit    int
}

func (s *store) add(r Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readings = append(s.readings, r)
	if over := len(s.readings) - s.limit; over > 0 {
		s.readings = append([]Reading(nil), s.readings[over:]...)
	}
}

func (s *store) all() []Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reading{}, s.readings...)
}

// newRouter builds core-data's API: readings can be posted only by the
// writers, and read by any authenticated caller. (Ping never reaches it:
// the service answers ping itself.)
func newRouter(s *store, writers []string) *mux.Router {
	r := mux.NewRouter()
	r.Use(caller.Require())
	post := r.Methods(http.MethodPost).Subrouter()
	post.Use(caller.Allow(writers...))
	post.HandleFunc("/api/v3/reading", func(w http.ResponseWriter, req *http.Request) {
		var rd Reading
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rd); err != nil {
			http.Error(w, "bad reading: "+err.Error(), http.StatusBadRequest)
			return
		}
		if rd.Device == "" || rd.Resource == "" {
			http.Error(w, "bad reading: device and resource are required", http.StatusBadRequest)
			return
		}
		who, _ := caller.From(req.Context())
		rd.Sender, rd.Relay = who.Name, who.Relay
		if rd.Origin.IsZero() {
			rd.Origin = time.Now().UTC()
		}
		s.add(rd)
		w.WriteHeader(http.StatusCreated)
	})
	r.HandleFunc("/api/v3/reading", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.all())
	}).Methods(http.MethodGet)
	return r
}
