// This file is compiled into govmomi's simulator package by vsray-sim's build
// (go build -overlay). It exposes the few package internals vsray-sim needs:
// the SOAP session table and the simulator's own fault encoding.

package simulator

import (
	"fmt"
	"io"

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

// EncodeFault writes a complete SOAP envelope carrying fault f, encoded the
// same way the simulator encodes the faults its own handlers return.
func EncodeFault(w io.Writer, f *soap.Fault) error {
	body := struct {
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
	if _, err := fmt.Fprint(w, xml.Header); err != nil {
		return err
	}
	return xml.NewEncoder(w).Encode(&soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: body,
	})
}
