package logging

import (
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	s := &Sampler{Rate: 2, Burst: 3}
	t0 := time.Unix(1000, 0)
	allowed := 0
	for range 10 {
		if ok, _ := s.Allow(t0); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst: %d allowed, want 3", allowed)
	}
	// Half a second later one token is back; the line reports the 7 dropped.
	ok, dropped := s.Allow(t0.Add(500 * time.Millisecond))
	if !ok || dropped != 7 {
		t.Fatalf("after refill: ok=%v dropped=%d, want true, 7", ok, dropped)
	}
	if ok, _ := s.Allow(t0.Add(500 * time.Millisecond)); ok {
		t.Fatal("bucket empty, yet allowed")
	}
	var none *Sampler
	if ok, _ := none.Allow(t0); !ok {
		t.Fatal("nil sampler must allow")
	}
}
