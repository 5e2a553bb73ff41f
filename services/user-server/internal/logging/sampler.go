package logging

import (
	"sync"
	"time"
)

// Sampler lets through at most Burst events at once and Rate a second on
// average (a token bucket), and counts the events it drops, so that
// something a client can cause at will (a reset stream) cannot write lines
// faster than that. The zero value, or a nil *Sampler, lets everything
// through.
type Sampler struct {
	Rate  float64 // events a second
	Burst float64

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

// DefaultSampler allows 10 lines a second, in bursts of up to 100.
func DefaultSampler() *Sampler { return &Sampler{Rate: 10, Burst: 100} }

// Allow reports whether an event at now may be logged; if so, it also
// returns how many were dropped since the last one allowed.
func (s *Sampler) Allow(now time.Time) (ok bool, suppressed int) {
	if s == nil || s.Rate <= 0 {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last.IsZero() {
		s.tokens = s.Burst
	} else if d := now.Sub(s.last); d > 0 {
		s.tokens = min(s.Burst, s.tokens+d.Seconds()*s.Rate)
	}
	s.last = now
	if s.tokens < 1 {
		s.suppressed++
		return false, 0
	}
	s.tokens--
	n := s.suppressed
	s.suppressed = 0
	return true, n
}
