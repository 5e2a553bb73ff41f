// Package rawh2 is a minimal HTTP/2 gRPC client for tests: it writes the
// frames itself (golang.org/x/net/http2's Framer and hpack), so a test can
// send requests a real gRPC client refuses to send (bad encodings,
// malformed headers, oversized or truncated messages) and read the status
// the server answers.
package rawh2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Request is one gRPC call on its own stream.
type Request struct {
	Path    string
	Headers []hpack.HeaderField // added after the standard gRPC headers
	Body    []byte              // written as one DATA frame with END_STREAM
	// Cancel resets the stream (RST_STREAM CANCEL) once the first DATA
	// frame of the reply arrives, for server-streaming calls that would
	// otherwise not end.
	Cancel bool
}

// Result is how the server ended a stream.
type Result struct {
	Status  int    // grpc-status; -1 if none arrived
	Message string // grpc-message
	RST     bool   // the server reset the stream
}

// Message returns a gRPC length-prefixed message frame holding msg.
func Message(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// Do sends every request on conn, each on its own stream, and waits until
// each stream has ended or deadline passes. It closes conn.
func Do(conn net.Conn, deadline time.Time, reqs []Request) ([]Result, error) {
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		return nil, err
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		return nil, err
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	byStream := map[uint32]int{}
	results := make([]Result, len(reqs))
	for i, r := range reqs {
		id := uint32(2*i + 1)
		byStream[id] = i
		results[i].Status = -1
		hbuf.Reset()
		for _, f := range append([]hpack.HeaderField{
			{Name: ":method", Value: "POST"},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: r.Path},
			{Name: ":authority", Value: "test"},
			{Name: "content-type", Value: "application/grpc"},
			{Name: "te", Value: "trailers"},
		}, r.Headers...) {
			if err := enc.WriteField(f); err != nil {
				return nil, err
			}
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true, EndStream: r.Body == nil}); err != nil {
			return nil, err
		}
		if r.Body != nil {
			if err := fr.WriteData(id, true, r.Body); err != nil {
				return nil, err
			}
		}
	}
	open := len(reqs)
	for open > 0 {
		f, err := fr.ReadFrame()
		if err != nil {
			return results, fmt.Errorf("reading frames (%d streams open): %w", open, err)
		}
		i, ours := byStream[f.Header().StreamID]
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return results, err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := fr.WritePing(true, f.Data); err != nil {
					return results, err
				}
			}
		case *http2.GoAwayFrame:
			return results, fmt.Errorf("GOAWAY %v: %s", f.ErrCode, f.DebugData())
		case *http2.DataFrame:
			if ours && reqs[i].Cancel && f.Length > 0 {
				if err := fr.WriteRSTStream(f.StreamID, http2.ErrCodeCancel); err != nil {
					return results, err
				}
				delete(byStream, f.StreamID)
				open--
			}
		case *http2.MetaHeadersFrame:
			if !ours {
				break
			}
			if v := f.PseudoValue("status"); v != "" && v != "200" && !f.StreamEnded() {
				return results, fmt.Errorf("stream %d: HTTP status %s", f.StreamID, v)
			}
			if s := f.Header().StreamID; f.StreamEnded() {
				if v := headerValue(f, "grpc-status"); v != "" {
					results[i].Status, _ = strconv.Atoi(v)
				}
				results[i].Message = headerValue(f, "grpc-message")
				delete(byStream, s)
				open--
			}
		case *http2.RSTStreamFrame:
			if ours {
				results[i].RST = true
				delete(byStream, f.StreamID)
				open--
			}
		}
	}
	if err := fr.WriteGoAway(uint32(2*len(reqs)-1), http2.ErrCodeNo, nil); err != nil {
		return results, err
	}
	return results, nil
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}
