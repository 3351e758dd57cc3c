package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// soapCall is what vsray-sim needs to know about a SOAP request before the
// simulator handles it.
type soapCall struct {
	method string
	this   types.ManagedObjectReference
}

// parseSOAPCall reads the method name and its _this argument from a SOAP
// envelope, stopping as soon as it has them.
func parseSOAPCall(body []byte) soapCall {
	var call soapCall
	d := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			return call
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case !inBody:
			inBody = start.Name.Local == "Body"
		case call.method == "":
			call.method = start.Name.Local
		default:
			// The first argument: _this, by vim25 convention.
			if start.Name.Local == "_this" {
				var this struct {
					Type  string `xml:"type,attr"`
					Value string `xml:",chardata"`
				}
				if d.DecodeElement(&this, &start) == nil {
					call.this = types.ManagedObjectReference{Type: this.Type, Value: this.Value}
				}
			}
			return call
		}
	}
}

// sessionRequired lists the methods the simulator lets through without a
// session although vCenter answers them with NotAuthenticated.
var sessionRequired = map[string]bool{
	"RetrieveProperties":           true,
	"RetrievePropertiesEx":         true,
	"ContinueRetrievePropertiesEx": true,
	"CancelRetrievePropertiesEx":   true,
}

func hasSOAPSession(r *http.Request) bool {
	c, err := r.Cookie(soap.SessionCookieName)
	return err == nil && simulator.SessionExists(c.Value)
}

func notAuthenticated(this types.ManagedObjectReference) types.BaseMethodFault {
	return &types.NotAuthenticated{NoPermission: types.NoPermission{Object: this, PrivilegeId: "System.View"}}
}

// writeSOAPFault answers with a SOAP fault, encoded like the simulator's own.
func writeSOAPFault(w http.ResponseWriter, message string, fault types.BaseMethodFault) {
	f := &soap.Fault{Code: "ServerFaultCode", String: message}
	f.Detail.Fault = fault

	var buf bytes.Buffer
	if err := simulator.EncodeFault(&buf, f); err != nil {
		logger.Printf("encoding fault %T: %v", fault, err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(buf.Bytes())
}

// writeTaskResponse answers METHOD (a *_Task method) with the task ref.
func writeTaskResponse(w http.ResponseWriter, method string, task types.ManagedObjectReference) {
	var value bytes.Buffer
	_ = xml.EscapeText(&value, []byte(task.Value))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"`+
		` xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"`+
		` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`+
		`<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>`+
		`</soapenv:Body></soapenv:Envelope>`, xml.Header, method, value.String(), method)
}

var taskReturnval = regexp.MustCompile(`<returnval type="Task">([^<]+)</returnval>`)

// taskFromResponse finds the task a *_Task method returned.
func taskFromResponse(body []byte) (types.ManagedObjectReference, bool) {
	m := taskReturnval.FindSubmatch(body)
	if m == nil {
		return types.ManagedObjectReference{}, false
	}
	var value string
	if err := xml.Unmarshal([]byte("<v>"+string(m[1])+"</v>"), &value); err != nil {
		return types.ManagedObjectReference{}, false
	}
	return types.ManagedObjectReference{Type: "Task", Value: value}, true
}
