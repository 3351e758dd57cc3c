package main

import (
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// filterVisible serves the property collector and search index calls of a
// restricted user, leaving out of the answer the managed entities on which
// the user lacks System.Read, as vCenter does (objects one may not see are
// simply absent). Traversal itself is not restricted: an object the user may
// read is found even below folders the user may not. Other objects (tasks,
// service objects, views) are not left out, but a view's "view" property
// lists only what the user may read. It reports whether it answered.
func (a *access) filterVisible(w http.ResponseWriter, r *http.Request, user string, info *soapCallInfo) bool {
	vis := &visibility{ev: a.authz.evaluator(user)}
	switch info.method {
	case "RetrieveProperties":
		res := &methods.RetrievePropertiesBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { res.Res.Returnval = vis.contents(res.Res.Returnval) })
	case "RetrievePropertiesEx":
		res := &methods.RetrievePropertiesExBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { vis.result(res.Res.Returnval) })
	case "ContinueRetrievePropertiesEx":
		res := &methods.ContinueRetrievePropertiesExBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { vis.result(&res.Res.Returnval) })
	case "WaitForUpdatesEx":
		res := &methods.WaitForUpdatesExBody{}
		forwardAndRewrite(a.wait, w, r, res, func() { vis.updates(res.Res.Returnval) })
	case "WaitForUpdates":
		res := &methods.WaitForUpdatesBody{}
		forwardAndRewrite(a.wait, w, r, res, func() { vis.updates(&res.Res.Returnval) })
	case "CheckForUpdates":
		res := &methods.CheckForUpdatesBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { vis.updates(res.Res.Returnval) })
	case "FindByInventoryPath":
		res := &methods.FindByInventoryPathBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { res.Res.Returnval = vis.ref(res.Res.Returnval) })
	case "FindChild":
		res := &methods.FindChildBody{}
		forwardAndRewrite(a.inner, w, r, res, func() { res.Res.Returnval = vis.ref(res.Res.Returnval) })
	default:
		return false
	}
	return true
}

type visibility struct {
	ev *evaluator
}

// visible reports whether the user may read obj.
func (v *visibility) visible(obj types.ManagedObjectReference) bool {
	if _, entity := simulator.Map.Get(obj).(mo.Entity); !entity {
		return true
	}
	return v.ev.has(obj, "System.Read")
}

func (v *visibility) contents(in []types.ObjectContent) []types.ObjectContent {
	out := in[:0]
	for _, oc := range in {
		if v.visible(oc.Obj) {
			for i := range oc.PropSet {
				oc.PropSet[i].Val = v.viewValue(oc.Obj, oc.PropSet[i].Name, oc.PropSet[i].Val)
			}
			out = append(out, oc)
		}
	}
	return out
}

// viewValue leaves out of a view's "view" property the objects the user
// may not read: vCenter's views only list what the session can see.
func (v *visibility) viewValue(obj types.ManagedObjectReference, name string, val types.AnyType) types.AnyType {
	if name != "view" || !strings.HasSuffix(obj.Type, "View") {
		return val
	}
	refs, ok := val.(types.ArrayOfManagedObjectReference)
	if !ok {
		return val
	}
	kept := []types.ManagedObjectReference{}
	for _, ref := range refs.ManagedObjectReference {
		if v.visible(ref) {
			kept = append(kept, ref)
		}
	}
	return types.ArrayOfManagedObjectReference{ManagedObjectReference: kept}
}

func (v *visibility) result(res *types.RetrieveResult) {
	if res != nil {
		res.Objects = v.contents(res.Objects)
	}
}

func (v *visibility) updates(set *types.UpdateSet) {
	if set == nil {
		return
	}
	for i := range set.FilterSet {
		f := &set.FilterSet[i]
		kept := f.ObjectSet[:0]
		for _, u := range f.ObjectSet {
			if v.visible(u.Obj) {
				for i := range u.ChangeSet {
					u.ChangeSet[i].Val = v.viewValue(u.Obj, u.ChangeSet[i].Name, u.ChangeSet[i].Val)
				}
				kept = append(kept, u)
			}
		}
		f.ObjectSet = kept
	}
}

func (v *visibility) ref(ref *types.ManagedObjectReference) *types.ManagedObjectReference {
	if ref == nil || !v.visible(*ref) {
		return nil
	}
	return ref
}
