// This file is compiled into govmomi's simulator package by vsray-sim's build
// (go build -overlay). It lets vsray-sim log in users other than the one the
// simulator knows (Service.Listen.User), tell which user a session belongs
// to, and answer a SOAP call itself with the simulator's own encoding. It
// only uses the package's own helpers.

package simulator

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// LoginUser creates a SOAP session for user on behalf of request r, exactly
// as a successful SessionManager.Login does (the session cookie is set on w,
// a UserLoginSessionEvent is posted), once vsray-sim has checked the
// password. Like Login, it refuses a request that already has a session.
func (s *Service) LoginUser(w http.ResponseWriter, r *http.Request, user, locale string) (types.UserSession, bool) {
	ctx := &Context{
		req:     r,
		res:     w,
		svc:     s,
		Map:     Map,
		Context: context.Background(),
	}
	ctx.Map.WithLock(s.sm, ctx.mapSession)
	if ctx.Session != nil {
		return types.UserSession{}, false
	}
	return createSession(ctx, user, locale), true
}

// SessionUser is the user name of the SOAP session whose key (the
// vmware_soap_session cookie) is given.
func SessionUser(key string) (string, bool) {
	session, ok := Map.SessionManager().getSession(key)
	if !ok {
		return "", false
	}
	return session.UserName, true
}

// EncodeResponse writes a complete SOAP envelope carrying the successful
// result body (a methods.*Body with Res set), encoded the same way the
// simulator encodes its own answers.
func EncodeResponse(w io.Writer, body soap.HasFault) error {
	if _, err := fmt.Fprint(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	err := e.Encode(&soapEnvelope{
		Enc:  "http://schemas.xmlsoap.org/soap/encoding/",
		Env:  "http://schemas.xmlsoap.org/soap/envelope/",
		XSD:  "http://www.w3.org/2001/XMLSchema",
		XSI:  "http://www.w3.org/2001/XMLSchema-instance",
		Body: &response{Map.Namespace, body},
	})
	if err != nil {
		return err
	}
	return e.Flush()
}

// AddEnvironmentBrowsers gives every compute resource without one an
// EnvironmentBrowser (the simulator makes them for clusters only; vCenter has
// one on every ComputeResource).
func AddEnvironmentBrowsers() {
	for _, obj := range Map.All("ComputeResource") {
		cr, ok := obj.(*mo.ComputeResource)
		if !ok || cr.EnvironmentBrowser != nil {
			continue
		}
		Map.WithLock(cr, func() {
			cr.EnvironmentBrowser = newEnvironmentBrowser()
		})
	}
}
