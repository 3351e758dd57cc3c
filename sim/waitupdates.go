package main

// WaitForUpdatesEx and WaitForUpdates are answered by
// simulator.Service.ServeWaitForUpdates (overlay/wait_updates.go) rather than
// by the simulator's own methods, which look for changes only every 250 ms:
// a change reaches a waiting client as soon as the call that made it is
// over, as on vCenter.
//
// A waiting call gathers changes while it holds
// simulator.InventoryChanges for writing; the front holds it for reading
// while the simulator handles any other call (but readOnlyMethods), a
// queued provisioning call, or a control call that adds to the inventory.
// Nothing that holds it for reading may wait for another call of the front
// (holds/release does: it never holds it).

// isWaitForUpdates says whether a SOAP method is one of the long polls of a
// property collector.
func isWaitForUpdates(method string) bool {
	return method == "WaitForUpdatesEx" || method == "WaitForUpdates"
}

// readOnlyMethods change nothing that a property collector reports: they
// neither wait for a gathering of changes nor delay one.
var readOnlyMethods = map[string]bool{
	"RetrieveProperties":           true,
	"RetrievePropertiesEx":         true,
	"ContinueRetrievePropertiesEx": true,
	"CancelRetrievePropertiesEx":   true,
	"CancelWaitForUpdates":         true,
	"CurrentTime":                  true,
	"RetrieveServiceContent":       true,
}
