#include "provider/lease_vsphere.h"

namespace vsray::provider {
namespace {

constexpr std::string_view kFolderType = "Folder";
// Removing a lease folder is quick; its task is not waited on longer.
constexpr std::chrono::seconds kRemoveTimeout{60};

}  // namespace

StatusOr<int> VsphereLeases::FieldKey(bool define) {
  {
    std::lock_guard lock(mu_);
    if (key_ >= 0) return key_;
  }
  const std::string name(kLeaseFieldName);
  VSRAY_ASSIGN_OR_RETURN(auto defs, vim_.CustomFieldDefs(std::string(kFolderType)));
  int key = -1;
  for (const auto& [field, field_key] : defs) {
    if (field == name) key = field_key;
  }
  if (key < 0 && define) {
    auto defined = vim_.AddCustomFieldDef(name, std::string(kFolderType));
    if (defined.ok()) {
      key = *defined;
    } else if (defined.status().code() == StatusCode::kAlreadyExists) {
      return FieldKey(/*define=*/false);  // another run defined it first
    } else {
      return defined.status().WithContext("defining custom attribute '" + name + "'");
    }
  }
  if (key >= 0) {
    std::lock_guard lock(mu_);
    key_ = key;
  }
  return key;
}

StatusOr<std::vector<LeaseClient::Entry>> VsphereLeases::List(const MoRef& parent,
                                                              const std::string& prefix) {
  VSRAY_ASSIGN_OR_RETURN(const int key, FieldKey(/*define=*/false));
  vsphere::FilterSpec filter;
  filter.props.push_back({std::string(kFolderType), {"name", "customValue"}});
  vsphere::ObjectSpec object;
  object.obj = parent;
  object.skip = true;
  object.traversals.push_back({"children", std::string(kFolderType), "childEntity", false, {}});
  filter.objects.push_back(std::move(object));
  VSRAY_ASSIGN_OR_RETURN(auto contents, vim_.RetrieveProperties(filter));
  std::vector<Entry> out;
  for (const auto& content : contents) {
    if (content.obj.type != kFolderType) continue;
    Entry entry{content.obj, vsphere::TextOf(content, "name"), std::nullopt};
    if (!entry.name.starts_with(prefix)) continue;
    if (const vsphere::Any* values = content.Get("customValue"); values != nullptr && key >= 0) {
      for (const auto& [element, value] : values->fields) {
        if (value.TextAt("key") == std::to_string(key)) entry.record = value.TextAt("value");
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

StatusOr<MoRef> VsphereLeases::Create(const MoRef& parent, const std::string& name) {
  return vim_.CreateFolder(parent, name);
}

Status VsphereLeases::Write(const MoRef& folder, const std::string& record) {
  VSRAY_ASSIGN_OR_RETURN(const int key, FieldKey(/*define=*/true));
  return vim_.SetField(folder, key, record);
}

Status VsphereLeases::Remove(const MoRef& folder) {
  auto task = vim_.DestroyTask(folder);
  Status status = task.ok() ? waiter_.Wait(*task, kRemoveTimeout).status() : task.status();
  return status.code() == StatusCode::kNotFound ? OkStatus() : status;
}

}  // namespace vsray::provider
