package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// vimTypes resolves vim25 type names, as the simulator's decoder does
// (tolerating a namespace prefix Go leaves in place).
var vimTypes = types.TypeFunc()

func vimTypeFunc(name string) (reflect.Type, bool) {
	if t, ok := vimTypes(name); ok {
		return t, true
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return vimTypes(name[i+1:])
	}
	return nil, false
}

// decodeSOAPRequest decodes a SOAP request into its typed body
// (*types.<Method>).
func decodeSOAPRequest(call soapCall, body []byte) (*soapCallInfo, bool) {
	m, err := simulator.UnmarshalBody(vimTypeFunc, body)
	if err != nil {
		return nil, false
	}
	return &soapCallInfo{method: call.method, this: m.This, req: m.Body}, true
}

// decodeSOAPResponse decodes an answer of the simulator into result, a
// *methods.<Method>Body.
func decodeSOAPResponse(data []byte, result soap.HasFault) bool {
	env := soap.Envelope{Body: result}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.TypeFunc = vimTypes
	return dec.Decode(&env) == nil
}

// writeSOAPResult answers with a successful result (a *methods.<Method>Body
// with Res set), encoded like the simulator's own answers.
func writeSOAPResult(w http.ResponseWriter, result soap.HasFault) {
	var buf bytes.Buffer
	if err := simulator.EncodeResponse(&buf, result); err != nil {
		logger.Printf("encoding %T: %v", result, err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// forwardAndRewrite serves r with the simulator, then, if it answered with a
// result, decodes it into result, lets rewrite change it and answers with
// the new result. Faults and undecodable answers pass unchanged.
func forwardAndRewrite(inner http.Handler, w http.ResponseWriter, r *http.Request, result soap.HasFault, rewrite func()) {
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || !decodeSOAPResponse(rec.Body.Bytes(), result) || result.Fault() != nil {
		copyRecorded(w, rec)
		return
	}
	if !resultSet(result) {
		copyRecorded(w, rec)
		return
	}
	rewrite()
	for name, values := range rec.Header() {
		if name != "Content-Length" {
			w.Header()[name] = values
		}
	}
	writeSOAPResult(w, result)
}

// resultSet reports whether a methods.<Method>Body has its Res field set.
func resultSet(result soap.HasFault) bool {
	res := reflect.ValueOf(result).Elem().FieldByName("Res")
	return res.IsValid() && !res.IsNil()
}
