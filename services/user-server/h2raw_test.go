package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

// h2conn is a raw HTTP/2 client connection: frames are written as the test
// says, with no flow control or limits of a real client, and a reader
// goroutine records how the server ends each stream.
type h2conn struct {
	t      *testing.T
	c      net.Conn
	fr     *http2.Framer
	wmu    sync.Mutex
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	addr   string
	nextID uint32

	mu          sync.Mutex
	settings    map[http2.SettingID]uint32
	gotSettings chan struct{}
	ends        map[uint32]string // stream id -> "rst:CODE" or "status:N"
	endCh       chan uint32
	pings       chan [8]byte
	readErr     chan error
}

// dialH2 connects, sends the client preface and SETTINGS, and waits for the
// server's SETTINGS.
func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &h2conn{
		t: t, c: c, fr: http2.NewFramer(c, c), addr: addr, nextID: 1,
		settings: map[http2.SettingID]uint32{}, gotSettings: make(chan struct{}),
		ends: map[uint32]string{}, endCh: make(chan uint32, 1<<16), pings: make(chan [8]byte, 16), readErr: make(chan error, 1),
	}
	h.enc = hpack.NewEncoder(&h.encBuf)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 1 << 20
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	go h.readLoop()
	select {
	case <-h.gotSettings:
	case err := <-h.readErr:
		t.Fatalf("no server SETTINGS: %v", err)
	case <-time.After(waitFor):
		t.Fatal("no server SETTINGS")
	}
	return h
}

func (h *h2conn) readLoop() {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.readErr <- err
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			h.mu.Lock()
			_ = f.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
			h.mu.Unlock()
			h.write(func() error { return h.fr.WriteSettingsAck() })
			select {
			case <-h.gotSettings:
			default:
				close(h.gotSettings)
			}
		case *http2.PingFrame:
			if f.IsAck() {
				h.pings <- f.Data
			} else {
				h.write(func() error { return h.fr.WritePing(true, f.Data) })
			}
		case *http2.RSTStreamFrame:
			h.end(f.StreamID, "rst:"+f.ErrCode.String())
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				h.end(f.StreamID, "grpc-status:"+grpcStatus(f))
			}
		case *http2.DataFrame:
			// Return the flow-control credit, so replies keep flowing.
			if n := uint32(len(f.Data())); n > 0 {
				h.write(func() error {
					if err := h.fr.WriteWindowUpdate(0, n); err != nil {
						return err
					}
					return h.fr.WriteWindowUpdate(f.StreamID, n)
				})
			}
		}
	}
}

func grpcStatus(f *http2.MetaHeadersFrame) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == "grpc-status" {
			return hf.Value
		}
	}
	return ""
}

// end records how stream id ended: the first end only (grpc-go follows
// the trailers of a stream the client left open with RST_STREAM NO_ERROR).
func (h *h2conn) end(id uint32, how string) {
	h.mu.Lock()
	if _, ok := h.ends[id]; !ok {
		h.ends[id] = how
	}
	h.mu.Unlock()
	h.endCh <- id
}

// write runs one framer write under the write lock; errors are ignored
// after the connection is gone (the test sees that through the reader).
func (h *h2conn) write(f func() error) {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_ = f()
}

// grpcHeaders returns the request headers of a call to method, plus extra.
func (h *h2conn) grpcHeaders(method string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: method},
		{Name: ":authority", Value: h.addr},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}, extra...)
}

// openStream sends HEADERS (split into CONTINUATION frames as needed)
// without ending the stream, and returns the stream id.
func (h *h2conn) openStream(fields []hpack.HeaderField) uint32 {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	id := h.nextID
	h.nextID += 2
	h.encBuf.Reset()
	for _, f := range fields {
		if err := h.enc.WriteField(f); err != nil {
			h.t.Fatal(err)
		}
	}
	block := h.encBuf.Bytes()
	const chunk = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	first := block[:min(chunk, len(block))]
	rest := block[len(first):]
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(rest) == 0}); err != nil {
		h.t.Fatal(err)
	}
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		if err := h.fr.WriteContinuation(id, n == len(rest), rest[:n]); err != nil {
			h.t.Fatal(err)
		}
		rest = rest[n:]
	}
	return id
}

// sendRequest sends a GetUserDetails message on stream id and ends it.
func (h *h2conn) sendRequest(id uint32, token string) {
	msg, err := proto.Marshal(&userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: token})
	if err != nil {
		h.t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	h.write(func() error { return h.fr.WriteData(id, true, append(frame, msg...)) })
}

// sync sends a PING and waits for its ACK: the server handles a
// connection's frames in order, so every frame written before has been
// processed.
func (h *h2conn) sync() {
	data := [8]byte{'s', 'y', 'n', 'c'}
	h.write(func() error { return h.fr.WritePing(false, data) })
	select {
	case <-h.pings:
	case err := <-h.readErr:
		h.t.Fatalf("connection lost waiting for PING ACK: %v", err)
	case <-time.After(waitFor):
		h.t.Fatal("no PING ACK")
	}
}

// waitEnd waits until the server ended stream id and says how.
func (h *h2conn) waitEnd(id uint32) string {
	deadline := time.After(waitFor)
	for {
		h.mu.Lock()
		how, ok := h.ends[id]
		h.mu.Unlock()
		if ok {
			return how
		}
		select {
		case <-h.endCh:
		case err := <-h.readErr:
			h.t.Fatalf("connection lost waiting for stream %d: %v", id, err)
		case <-deadline:
			h.t.Fatalf("stream %d not ended by the server", id)
		}
	}
}

func (h *h2conn) endOf(id uint32) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	how, ok := h.ends[id]
	return how, ok
}

func (h *h2conn) setting(id http2.SettingID) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.settings[id]
	return v, ok
}
