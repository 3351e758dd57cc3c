#include "vsphere/vim.h"

#include <array>
#include <charconv>
#include <functional>

namespace vsray::vsphere {
namespace {

std::string WriteParams(const std::function<void(XmlWriter&)>& fill) {
  XmlWriter w;
  fill(w);
  return w.Take();
}

void WriteRelocateSpec(XmlWriter& w, std::string_view element, const RelocateSpec& spec) {
  w.Open(element);
  if (!spec.folder.empty()) w.Ref("folder", spec.folder);
  if (!spec.datastore.empty()) w.Ref("datastore", spec.datastore);
  if (!spec.disk_move_type.empty()) w.Leaf("diskMoveType", spec.disk_move_type);
  if (!spec.pool.empty()) w.Ref("pool", spec.pool);
  if (!spec.host.empty()) w.Ref("host", spec.host);
  for (const auto& device : spec.edit_devices) {
    w.Open("deviceChange");
    w.Leaf("operation", "edit");
    w.Value("device", device);
    w.Close("deviceChange");
  }
  w.Close(element);
}

void WriteOptionValue(XmlWriter& w, std::string_view element, const OptionValue& option) {
  w.Open(element);
  w.Leaf("key", option.key);
  w.Leaf("value", option.value, "string");
  w.Close(element);
}

// A VirtualPCIPassthrough with `spec`'s backing, added under the temporary key `key` (< 0).
void WritePassthroughAdd(XmlWriter& w, const PciPassthroughSpec& spec, int key) {
  using Backing = PciPassthroughSpec::Backing;
  w.Open("deviceChange");
  w.Leaf("operation", "add");
  w.Open("device", "VirtualPCIPassthrough");
  w.Leaf("key", std::to_string(key));
  switch (spec.backing) {
    case Backing::kFixed:
      w.Open("backing", "VirtualPCIPassthroughDeviceBackingInfo");
      w.Leaf("deviceName", spec.device_name);
      w.Leaf("id", spec.id);
      // "HostPciDevice.deviceId converted as is to a string": hex, as client code writes it.
      w.Leaf("deviceId", PciIdHex(spec.device_id));
      w.Leaf("systemId", spec.system_id);
      w.Leaf("vendorId", std::to_string(static_cast<std::int16_t>(spec.vendor_id)));  // xsd:short
      break;
    case Backing::kDynamic:
      w.Open("backing", "VirtualPCIPassthroughDynamicBackingInfo");
      w.Leaf("deviceName", "");
      w.Open("allowedDevice");
      w.Leaf("vendorId", std::to_string(spec.vendor_id));
      w.Leaf("deviceId", std::to_string(spec.device_id));
      w.Close("allowedDevice");
      if (!spec.custom_label.empty()) w.Leaf("customLabel", spec.custom_label);
      break;
    case Backing::kVgpu:
      w.Open("backing", "VirtualPCIPassthroughVmiopBackingInfo");
      w.Leaf("vgpu", spec.vgpu);
      break;
  }
  w.Close("backing");
  w.Close("device");
  w.Close("deviceChange");
}

int ParseInt(std::string_view text, int fallback) {
  int value = fallback;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::string PciIdHex(std::uint16_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(4, '0');
  for (int i = 3; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[id & 0xFU];
    id = static_cast<std::uint16_t>(id >> 4U);
  }
  return out;
}

FilterSpec ContainerViewFilter(const MoRef& view, std::vector<PropertySpec> props) {
  FilterSpec spec;
  spec.props = std::move(props);
  ObjectSpec object;
  object.obj = view;
  object.skip = true;
  object.traversals.push_back({"traverseView", "ContainerView", "view", false, {}});
  spec.objects.push_back(std::move(object));
  return spec;
}

const Any* ObjectContent::Get(std::string_view path) const {
  for (const auto& [name, value] : props) {
    if (name == path) return &value;
  }
  return nullptr;
}

std::string TextOf(const ObjectContent& content, std::string_view path) {
  const Any* value = content.Get(path);
  return value == nullptr ? std::string() : value->text;
}

MoRef RefOf(const ObjectContent& content, std::string_view path) {
  const Any* value = content.Get(path);
  return value == nullptr ? MoRef{} : value->AsMoRef();
}

bool IsVirtualNic(const Any& device) {
  static constexpr std::array<std::string_view, 8> kNicTypes = {"VirtualE1000",
                                                                "VirtualE1000e",
                                                                "VirtualVmxnet",
                                                                "VirtualVmxnet2",
                                                                "VirtualVmxnet3",
                                                                "VirtualPCNet32",
                                                                "VirtualSriovEthernetCard",
                                                                "VirtualVmxnet3Vrdma"};
  for (const auto type : kNicTypes) {
    if (device.xsi_type == type) return true;
  }
  return device.Get("macAddress") != nullptr && device.Get("addressType") != nullptr;
}

void SetNicConnected(Any& device, bool connected) {
  Any* connectable = device.GetMutable("connectable");
  if (connectable == nullptr) {
    // Keep the schema order of VirtualDevice: connectable follows backing.
    Any info;
    info.Add("startConnected", connected ? "true" : "false");
    info.Add("allowGuestControl", "true");
    info.Add("connected", connected ? "true" : "false");
    auto at = device.fields.begin();
    for (auto it = device.fields.begin(); it != device.fields.end(); ++it) {
      if (it->name == "key" || it->name == "deviceInfo" || it->name == "backing") at = it + 1;
    }
    device.fields.insert(at, {"connectable", std::move(info)});
    return;
  }
  for (auto& [name, value] : connectable->fields) {
    if (name == "connected" || name == "startConnected") value.text = connected ? "true" : "false";
  }
}

void WriteFilterSpec(XmlWriter& w, std::string_view element, const FilterSpec& spec) {
  w.Open(element);
  for (const auto& prop : spec.props) {
    w.Open("propSet");
    w.Leaf("type", prop.type);
    w.Bool("all", false);
    for (const auto& path : prop.paths) w.Leaf("pathSet", path);
    w.Close("propSet");
  }
  for (const auto& object : spec.objects) {
    w.Open("objectSet");
    w.Ref("obj", object.obj);
    w.Bool("skip", object.skip);
    for (const auto& traversal : object.traversals) {
      w.Open("selectSet", "TraversalSpec");
      w.Leaf("name", traversal.name);
      w.Leaf("type", traversal.type);
      w.Leaf("path", traversal.path);
      w.Bool("skip", traversal.skip);
      for (const auto& next : traversal.select) {
        w.Open("selectSet");
        w.Leaf("name", next);
        w.Close("selectSet");
      }
      w.Close("selectSet");
    }
    w.Close("objectSet");
  }
  w.Close(element);
}

void WriteConfigSpec(XmlWriter& w, std::string_view element, const ConfigSpec& spec) {
  w.Open(element);
  if (spec.num_cpus) w.Leaf("numCPUs", std::to_string(*spec.num_cpus));
  if (spec.memory_mb) w.Leaf("memoryMB", std::to_string(*spec.memory_mb));
  for (const auto& device : spec.edit_devices) {
    w.Open("deviceChange");
    w.Leaf("operation", "edit");
    w.Value("device", device);
    w.Close("deviceChange");
  }
  int key = -100;
  for (const auto& device : spec.add_passthrough) WritePassthroughAdd(w, device, key--);
  for (const auto& option : spec.extra_config) WriteOptionValue(w, "extraConfig", option);
  if (spec.memory_reservation_locked_to_max) w.Bool("memoryReservationLockedToMax", true);
  w.Close(element);
}

ObjectContent DecodeObjectContent(const Any& objects) {
  ObjectContent content;
  if (const Any* obj = objects.Get("obj")) content.obj = obj->AsMoRef();
  for (const auto& [name, field] : objects.fields) {
    if (name == "propSet") {
      const Any* val = field.Get("val");
      content.props.emplace_back(std::string(field.TextAt("name")), val ? *val : Any{});
    } else if (name == "missingSet") {
      const Any* fault = field.Path("fault.fault");
      content.missing.emplace_back(std::string(field.TextAt("path")),
                                   fault ? fault->xsi_type : std::string());
    }
  }
  return content;
}

UpdateSet DecodeUpdateSet(const Any& returnval) {
  UpdateSet set;
  set.version = returnval.TextAt("version");
  set.truncated = returnval.TextAt("truncated") == "true";
  for (const Any* filter : returnval.All("filterSet")) {
    for (const Any* object : filter->All("objectSet")) {
      ObjectUpdate update;
      update.kind = object->TextAt("kind");
      if (const Any* obj = object->Get("obj")) update.obj = obj->AsMoRef();
      for (const Any* change : object->All("changeSet")) {
        PropertyChange pc;
        pc.name = change->TextAt("name");
        pc.op = change->TextAt("op");
        if (const Any* val = change->Get("val")) pc.val = *val;
        update.changes.push_back(std::move(pc));
      }
      set.objects.push_back(std::move(update));
    }
  }
  return set;
}

StatusOr<MoRef> Vim::CallReturningRef(std::string_view method, const MoRef& target,
                                      std::string_view params, bool idempotent) {
  VSRAY_ASSIGN_OR_RETURN(auto reply, caller_.Call(method, target, params, idempotent));
  const Any* ref = reply.Get("returnval");
  if (ref == nullptr || ref->text.empty()) {
    return DataLossError(std::string(method) + ": reply has no object reference");
  }
  return ref->AsMoRef();
}

StatusOr<std::vector<ObjectContent>> Vim::RetrieveProperties(const FilterSpec& spec,
                                                             int page_size) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    WriteFilterSpec(w, "specSet", spec);
    w.Open("options");
    if (page_size > 0) w.Leaf("maxObjects", std::to_string(page_size));
    w.Close("options");
  });
  std::vector<ObjectContent> out;
  VSRAY_ASSIGN_OR_RETURN(
      auto reply, caller_.Call("RetrievePropertiesEx", content_.property_collector, params, true));
  const Any* result = reply.Get("returnval");
  while (result != nullptr) {
    for (const Any* objects : result->All("objects")) out.push_back(DecodeObjectContent(*objects));
    const std::string token(result->TextAt("token"));
    if (token.empty()) break;
    XmlWriter w;
    w.Leaf("token", token);
    VSRAY_ASSIGN_OR_RETURN(reply, caller_.Call("ContinueRetrievePropertiesEx",
                                               content_.property_collector, w.str(), true));
    result = reply.Get("returnval");
  }
  return out;
}

StatusOr<ObjectContent> Vim::RetrieveOne(const MoRef& obj, const std::vector<std::string>& paths) {
  FilterSpec spec;
  spec.props.push_back({obj.type, paths});
  spec.objects.push_back({obj, false, {}});
  VSRAY_ASSIGN_OR_RETURN(auto contents, RetrieveProperties(spec));
  if (contents.empty()) {
    Status status = NotFoundError(obj.type + " " + obj.value + " does not exist");
    status.set_fault("ManagedObjectNotFound");
    return status;
  }
  return std::move(contents.front());
}

StatusOr<MoRef> Vim::CreateContainerView(const MoRef& container,
                                         const std::vector<std::string>& types, bool recursive) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Ref("container", container);
    for (const auto& type : types) w.Leaf("type", type);
    w.Bool("recursive", recursive);
  });
  return CallReturningRef("CreateContainerView", content_.view_manager, params, true);
}

Status Vim::DestroyView(const MoRef& view) {
  return caller_.Call("DestroyView", view, "", true).status();
}

StatusOr<MoRef> Vim::CreatePropertyCollector() {
  return CallReturningRef("CreatePropertyCollector", content_.property_collector, "", true);
}

Status Vim::DestroyPropertyCollector(const MoRef& collector) {
  return caller_.Call("DestroyPropertyCollector", collector, "", true).status();
}

StatusOr<MoRef> Vim::CreateFilter(const MoRef& collector, const FilterSpec& spec,
                                  bool partial_updates) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    WriteFilterSpec(w, "spec", spec);
    w.Bool("partialUpdates", partial_updates);
  });
  return CallReturningRef("CreateFilter", collector, params, false);
}

Status Vim::DestroyPropertyFilter(const MoRef& filter) {
  return caller_.Call("DestroyPropertyFilter", filter, "", true).status();
}

StatusOr<std::optional<UpdateSet>> Vim::WaitForUpdatesEx(const MoRef& collector,
                                                         const std::string& version,
                                                         int max_wait_seconds,
                                                         int max_object_updates) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Leaf("version", version);
    w.Open("options");
    w.Leaf("maxWaitSeconds", std::to_string(max_wait_seconds));
    if (max_object_updates > 0) w.Leaf("maxObjectUpdates", std::to_string(max_object_updates));
    w.Close("options");
  });
  VSRAY_ASSIGN_OR_RETURN(auto reply, caller_.Call("WaitForUpdatesEx", collector, params, false));
  const Any* result = reply.Get("returnval");
  if (result == nullptr) return std::optional<UpdateSet>();
  return std::optional<UpdateSet>(DecodeUpdateSet(*result));
}

Status Vim::CancelWaitForUpdates(const MoRef& collector) {
  return caller_.Call("CancelWaitForUpdates", collector, "", true).status();
}

StatusOr<std::optional<MoRef>> Vim::FindByInventoryPath(const std::string& path) {
  XmlWriter w;
  w.Leaf("inventoryPath", path);
  VSRAY_ASSIGN_OR_RETURN(auto reply,
                         caller_.Call("FindByInventoryPath", content_.search_index, w.str(), true));
  const Any* ref = reply.Get("returnval");
  if (ref == nullptr || ref->text.empty()) return std::optional<MoRef>();
  return std::optional<MoRef>(ref->AsMoRef());
}

StatusOr<std::optional<MoRef>> Vim::FindChild(const MoRef& parent, const std::string& name) {
  XmlWriter w;
  w.Ref("entity", parent);
  w.Leaf("name", name);
  VSRAY_ASSIGN_OR_RETURN(auto reply,
                         caller_.Call("FindChild", content_.search_index, w.str(), true));
  const Any* ref = reply.Get("returnval");
  if (ref == nullptr || ref->text.empty()) return std::optional<MoRef>();
  return std::optional<MoRef>(ref->AsMoRef());
}

StatusOr<std::vector<ObjectContent>> Vim::ListByType(const std::string& type,
                                                     const std::vector<std::string>& paths,
                                                     const MoRef& root) {
  VSRAY_ASSIGN_OR_RETURN(
      auto view, CreateContainerView(root.empty() ? content_.root_folder : root, {type}, true));
  auto contents = RetrieveProperties(ContainerViewFilter(view, {{type, paths}}));
  (void)DestroyView(view);  // best effort: the view dies with the session anyway
  return contents;
}

StatusOr<std::vector<MoRef>> Vim::FindByName(const std::string& type, const std::string& name,
                                             const MoRef& root) {
  VSRAY_ASSIGN_OR_RETURN(auto contents, ListByType(type, {"name"}, root));
  std::vector<MoRef> out;
  for (const auto& content : contents) {
    const Any* value = content.Get("name");
    if (value != nullptr && value->text == name) out.push_back(content.obj);
  }
  return out;
}

StatusOr<MoRef> Vim::InstantCloneTask(const MoRef& vm, const InstantCloneSpec& spec) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Open("spec");
    w.Leaf("name", spec.name);
    WriteRelocateSpec(w, "location", spec.location);
    for (const auto& option : spec.config) WriteOptionValue(w, "config", option);
    if (!spec.bios_uuid.empty()) w.Leaf("biosUuid", spec.bios_uuid);
    w.Close("spec");
  });
  return CallReturningRef("InstantClone_Task", vm, params, false);
}

StatusOr<MoRef> Vim::CloneVmTask(const MoRef& vm, const MoRef& folder, const std::string& name,
                                 const CloneSpec& spec) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Ref("folder", folder);
    w.Leaf("name", name);
    w.Open("spec");
    WriteRelocateSpec(w, "location", spec.location);
    w.Bool("template", false);
    if (!spec.extra_config.empty()) {
      ConfigSpec config;
      config.extra_config = spec.extra_config;
      WriteConfigSpec(w, "config", config);
    }
    w.Bool("powerOn", spec.power_on);
    if (!spec.snapshot.empty()) w.Ref("snapshot", spec.snapshot);
    w.Close("spec");
  });
  return CallReturningRef("CloneVM_Task", vm, params, false);
}

StatusOr<MoRef> Vim::ReconfigVmTask(const MoRef& vm, const ConfigSpec& spec) {
  const std::string params = WriteParams([&](XmlWriter& w) { WriteConfigSpec(w, "spec", spec); });
  return CallReturningRef("ReconfigVM_Task", vm, params, false);
}

// Power and destroy calls are safe to repeat: a repeat ends in InvalidPowerState or
// ManagedObjectNotFound, which callers treat as done.
StatusOr<MoRef> Vim::PowerOnVmTask(const MoRef& vm) {
  return CallReturningRef("PowerOnVM_Task", vm, "", true);
}

StatusOr<MoRef> Vim::PowerOffVmTask(const MoRef& vm) {
  return CallReturningRef("PowerOffVM_Task", vm, "", true);
}

StatusOr<MoRef> Vim::DestroyTask(const MoRef& entity) {
  return CallReturningRef("Destroy_Task", entity, "", true);
}

StatusOr<MoRef> Vim::CreateSnapshotTask(const MoRef& vm, const std::string& name) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Leaf("name", name);
    w.Bool("memory", false);
    w.Bool("quiesce", false);
  });
  return CallReturningRef("CreateSnapshot_Task", vm, params, false);
}

Status Vim::ShutdownGuest(const MoRef& vm) {
  return caller_.Call("ShutdownGuest", vm, "", true).status();
}

StatusOr<MoRef> Vim::CreateFolder(const MoRef& parent, const std::string& name) {
  XmlWriter w;
  w.Leaf("name", name);
  return CallReturningRef("CreateFolder", parent, w.str(), false);
}

StatusOr<int> Vim::AddCustomFieldDef(const std::string& name, const std::string& mo_type) {
  XmlWriter w;
  w.Leaf("name", name);
  w.Leaf("moType", mo_type);
  // Idempotent in effect: a repeat after a lost answer gets DuplicateName (ALREADY_EXISTS),
  // which callers read as "defined" and look the key up.
  VSRAY_ASSIGN_OR_RETURN(
      auto reply, caller_.Call("AddCustomFieldDef", content_.custom_fields_manager, w.str(), true));
  const int key = ParseInt(reply.TextAt("returnval.key"), -1);
  if (key < 0) return DataLossError("AddCustomFieldDef: reply has no field key");
  return key;
}

StatusOr<std::vector<std::pair<std::string, int>>> Vim::CustomFieldDefs(
    const std::string& mo_type) {
  VSRAY_ASSIGN_OR_RETURN(auto content, RetrieveOne(content_.custom_fields_manager, {"field"}));
  std::vector<std::pair<std::string, int>> out;
  const Any* fields = content.Get("field");
  if (fields == nullptr) return out;
  for (const auto& [element, def] : fields->fields) {
    const std::string_view type = def.TextAt("managedObjectType");
    if (!type.empty() && type != mo_type) continue;
    out.emplace_back(std::string(def.TextAt("name")), ParseInt(def.TextAt("key"), -1));
  }
  return out;
}

Status Vim::SetField(const MoRef& entity, int key, const std::string& value) {
  const std::string params = WriteParams([&](XmlWriter& w) {
    w.Ref("entity", entity);
    w.Leaf("key", std::to_string(key));
    w.Leaf("value", value);
  });
  return caller_.Call("SetField", content_.custom_fields_manager, params, true).status();
}

StatusOr<std::string> Vim::CurrentTime() {
  VSRAY_ASSIGN_OR_RETURN(auto reply, caller_.Call("CurrentTime", ServiceInstanceRef(), "", true));
  return std::string(reply.TextAt("returnval"));
}

}  // namespace vsray::vsphere
