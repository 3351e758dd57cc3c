// Typed vim25 operations over a SoapCaller: inventory lookups, the property collector, views,
// VM lifecycle tasks, folders and custom fields. Each method documents its error codes; all
// also return the transport/session errors of SoapCaller::Call.
#ifndef VSRAY_VSPHERE_VIM_H_
#define VSRAY_VSPHERE_VIM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "vsphere/session.h"
#include "vsphere/xml.h"

namespace vsray::vsphere {

struct PropertySpec {
  std::string type;
  std::vector<std::string> paths;
};

struct TraversalSpec {
  std::string name;
  std::string type;
  std::string path;
  bool skip = false;
  std::vector<std::string> select;  // names of TraversalSpecs to continue with
};

struct ObjectSpec {
  MoRef obj;
  bool skip = false;
  std::vector<TraversalSpec> traversals;
};

struct FilterSpec {
  std::vector<PropertySpec> props;
  std::vector<ObjectSpec> objects;
};

// A FilterSpec over every object of a ContainerView.
FilterSpec ContainerViewFilter(const MoRef& view, std::vector<PropertySpec> props);

struct ObjectContent {
  MoRef obj;
  std::vector<std::pair<std::string, Any>> props;
  // Paths the server could not read (e.g. no permission), with the fault type.
  std::vector<std::pair<std::string, std::string>> missing;

  const Any* Get(std::string_view path) const;
};

// A property's text, or "" when the object has no such property.
std::string TextOf(const ObjectContent& content, std::string_view path);
// A property that is a managed object reference, or an empty one when absent.
MoRef RefOf(const ObjectContent& content, std::string_view path);

struct PropertyChange {
  std::string name;
  std::string op;  // assign | add | remove | indirectRemove
  Any val;         // empty for remove
};

struct ObjectUpdate {
  MoRef obj;
  std::string kind;  // enter | modify | leave
  std::vector<PropertyChange> changes;
};

struct UpdateSet {
  std::string version;
  bool truncated = false;
  std::vector<ObjectUpdate> objects;  // over all filters of the collector
};

struct OptionValue {
  std::string key;
  std::string value;
};

// Where a clone goes. Empty refs mean "same as the source".
struct RelocateSpec {
  MoRef folder;
  MoRef datastore;
  MoRef pool;
  MoRef host;
  std::string disk_move_type;  // e.g. "createNewChildDiskBacking" for linked clones
  // Devices to edit (an instant clone accepts NIC edits), whole, as retrieved.
  std::vector<Any> edit_devices;
};

struct InstantCloneSpec {
  std::string name;
  RelocateSpec location;
  std::vector<OptionValue> config;  // lands in the clone's extraConfig
  std::string bios_uuid;
};

struct CloneSpec {
  RelocateSpec location;
  bool power_on = false;
  MoRef snapshot;  // for linked clones
  // The clone's extraConfig (e.g. its identity), set as it is created.
  std::vector<OptionValue> extra_config;
};

// A PCI passthrough device (VirtualPCIPassthrough) to add to a powered-off VM, with one of
// its three backings.
struct PciPassthroughSpec {
  enum class Backing {
    kFixed,  // DirectPath I/O: one device of the VM's host (VirtualPCIPassthroughDeviceBackingInfo)
    kDynamic,  // Dynamic DirectPath I/O: any free device of these ids, bound at power-on
    kVgpu,     // a vGPU profile (VirtualPCIPassthroughVmiopBackingInfo)
  };
  Backing backing = Backing::kFixed;
  std::string id;         // kFixed: the host's PCI id ("0000:3b:00.0")
  std::string system_id;  // kFixed: the host's system id (QueryConfigTarget)
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::string device_name;   // kFixed: the device's name on the host
  std::string custom_label;  // kDynamic: only devices with this label ("" = any)
  std::string vgpu;          // kVgpu: the profile, e.g. "grid_a100-4c"
};

// A PCI vendor or device id as 4 lower-case hex digits ("10de").
std::string PciIdHex(std::uint16_t id);

struct ConfigSpec {
  std::optional<int> num_cpus;
  std::optional<std::int64_t> memory_mb;
  // Devices to edit, each as retrieved from config.hardware.device with changes applied
  // (vCenter and the simulator want the whole device).
  std::vector<Any> edit_devices;
  // PCI passthrough devices to add (the VM must be powered off).
  std::vector<PciPassthroughSpec> add_passthrough;
  std::vector<OptionValue> extra_config;
  // Reserve all of the VM's memory, following its size (passthrough devices need it).
  bool memory_reservation_locked_to_max = false;
};

// True if `device` (an element of config.hardware.device) is a virtual NIC.
bool IsVirtualNic(const Any& device);
// Marks a NIC connected (and connected at power-on).
void SetNicConnected(Any& device, bool connected);

class Vim {
 public:
  Vim(SoapCaller& caller, ServiceContent content) : caller_(caller), content_(std::move(content)) {}

  const ServiceContent& content() const { return content_; }
  SoapCaller& caller() { return caller_; }

  // RetrievePropertiesEx, following ContinueRetrievePropertiesEx tokens to the end.
  // `page_size` > 0 asks the server for pages of that many objects.
  StatusOr<std::vector<ObjectContent>> RetrieveProperties(const FilterSpec& spec,
                                                          int page_size = 0);
  // Properties of one object. NOT_FOUND (ManagedObjectNotFound) if it doesn't exist.
  StatusOr<ObjectContent> RetrieveOne(const MoRef& obj, const std::vector<std::string>& paths);

  StatusOr<MoRef> CreateContainerView(const MoRef& container, const std::vector<std::string>& types,
                                      bool recursive);
  Status DestroyView(const MoRef& view);

  StatusOr<MoRef> CreatePropertyCollector();
  Status DestroyPropertyCollector(const MoRef& collector);
  StatusOr<MoRef> CreateFilter(const MoRef& collector, const FilterSpec& spec,
                               bool partial_updates);
  Status DestroyPropertyFilter(const MoRef& filter);
  // Long poll. Returns nullopt when max_wait_seconds passed without changes. CANCELLED
  // (RequestCanceled) after CancelWaitForUpdates.
  StatusOr<std::optional<UpdateSet>> WaitForUpdatesEx(const MoRef& collector,
                                                      const std::string& version,
                                                      int max_wait_seconds,
                                                      int max_object_updates = 0);
  Status CancelWaitForUpdates(const MoRef& collector);

  // nullopt if nothing is at that path ("dc/vm/folder/name").
  StatusOr<std::optional<MoRef>> FindByInventoryPath(const std::string& path);
  // The direct child of `parent` (a folder, or a datacenter's vmFolder...) named `name`;
  // nullopt if none.
  StatusOr<std::optional<MoRef>> FindChild(const MoRef& parent, const std::string& name);
  // Every object of `type` named `name` under `root` (default: the root folder).
  StatusOr<std::vector<MoRef>> FindByName(const std::string& type, const std::string& name,
                                          const MoRef& root = {});
  // Every object of `type` under `root` with the given properties.
  StatusOr<std::vector<ObjectContent>> ListByType(const std::string& type,
                                                  const std::vector<std::string>& paths,
                                                  const MoRef& root = {});

  // Tasks: each returns the Task reference; wait with TaskWaiter.
  StatusOr<MoRef> InstantCloneTask(const MoRef& vm, const InstantCloneSpec& spec);
  StatusOr<MoRef> CloneVmTask(const MoRef& vm, const MoRef& folder, const std::string& name,
                              const CloneSpec& spec);
  StatusOr<MoRef> ReconfigVmTask(const MoRef& vm, const ConfigSpec& spec);
  StatusOr<MoRef> PowerOnVmTask(const MoRef& vm);
  StatusOr<MoRef> PowerOffVmTask(const MoRef& vm);
  StatusOr<MoRef> DestroyTask(const MoRef& entity);
  StatusOr<MoRef> CreateSnapshotTask(const MoRef& vm, const std::string& name);
  // Asks the guest OS to shut down (returns at once). FAILED_PRECONDITION
  // (InvalidState/ToolsUnavailable) when tools don't run.
  Status ShutdownGuest(const MoRef& vm);

  // ALREADY_EXISTS (DuplicateName) if a child of that name exists.
  StatusOr<MoRef> CreateFolder(const MoRef& parent, const std::string& name);

  // Custom attributes. AddCustomFieldDef: ALREADY_EXISTS (DuplicateName) if defined (also
  // when a retry after a transient failure finds the first attempt's definition). `mo_type`
  // empty: a field of every type.
  StatusOr<int> AddCustomFieldDef(const std::string& name, const std::string& mo_type);
  // Defined fields: name -> key, for fields applying to `mo_type` (or all types).
  StatusOr<std::vector<std::pair<std::string, int>>> CustomFieldDefs(const std::string& mo_type);
  Status SetField(const MoRef& entity, int key, const std::string& value);

  StatusOr<std::string> CurrentTime();

 private:
  StatusOr<MoRef> CallReturningRef(std::string_view method, const MoRef& target,
                                   std::string_view params, bool idempotent);

  SoapCaller& caller_;
  ServiceContent content_;
};

// Serialisation helpers, exposed for tests.
void WriteFilterSpec(XmlWriter& w, std::string_view element, const FilterSpec& spec);
void WriteConfigSpec(XmlWriter& w, std::string_view element, const ConfigSpec& spec);
ObjectContent DecodeObjectContent(const Any& objects);
UpdateSet DecodeUpdateSet(const Any& returnval);

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_VIM_H_
