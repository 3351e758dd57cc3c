// This file is compiled into govmomi's simulator package by vsray-sim's build
// (go build -overlay). It exposes the few package internals vsray-sim needs:
// the SOAP session table, the simulator's own SOAP encoding and its
// in-process calls.

package simulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/xml"
)

// ExpireSessions ends every SOAP session, as if each had idled out: later
// calls that present one of them get NotAuthenticated. It returns how many
// sessions were ended.
func ExpireSessions() int {
	m := Map.SessionManager()
	sessionMutex.Lock()
	defer sessionMutex.Unlock()
	n := len(m.sessions)
	for key := range m.sessions {
		delete(m.sessions, key)
	}
	return n
}

// SessionExists reports whether key (the vmware_soap_session cookie) names a
// live SOAP session.
func SessionExists(key string) bool {
	_, ok := Map.SessionManager().getSession(key)
	return ok
}

// CallInternal runs a decoded SOAP method the way the simulator's in-process
// client does (Service.RoundTrip): with the internal session, outside any
// HTTP request. vsray-sim runs queued provisioning calls with it, when their
// turn comes, whether or not the client's session still exists (as vCenter
// runs a queued task).
func (s *Service) CallInternal(method *Method) soap.HasFault {
	return s.call(&Context{Map: Map, Context: context.Background(), Session: internalContext.Session}, method)
}

// EncodeFault writes a complete SOAP envelope carrying fault f, encoded the
// same way the simulator encodes the faults its own handlers return.
func EncodeFault(w io.Writer, f *soap.Fault) error {
	return encodeEnvelope(w, faultBody(f))
}

// writeSOAPResponse answers with res, a method's body or fault, as ServeSDK
// does.
func writeSOAPResponse(w http.ResponseWriter, namespace string, res soap.HasFault) {
	status, body := http.StatusOK, interface{}(&response{namespace, res})
	if f := res.Fault(); f != nil {
		status, body = http.StatusInternalServerError, faultBody(f)
	}
	var out bytes.Buffer
	if err := encodeEnvelope(&out, body); err != nil {
		log.Printf("encoding %T: %v", res, err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}

func faultBody(f *soap.Fault) interface{} {
	return struct {
		Fault *soapFault
	}{
		&soapFault{
			Code:   f.Code,
			String: f.String,
			Detail: struct {
				Fault *faultDetail
			}{&faultDetail{f.Detail.Fault}},
		},
	}
}

func encodeEnvelope(w io.Writer, body interface{}) error {
	if _, err := fmt.Fprint(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	if err := e.Encode(&soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: body,
	}); err != nil {
		return err
	}
	return e.Flush()
}
