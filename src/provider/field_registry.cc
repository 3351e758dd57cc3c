#include "provider/field_registry.h"

#include <algorithm>

#include "common/log.h"

namespace vsray::provider {

Status FieldRegistry::Load() {
  VSRAY_ASSIGN_OR_RETURN(auto defs, fields_.Definitions());
  std::lock_guard lock(mu_);
  for (const auto& [name, key] : defs) keys_[name] = key;
  return OkStatus();
}

StatusOr<int> FieldRegistry::KeyFor(const std::string& name) {
  if (const int known = KeyIfKnown(name); known >= 0) return known;
  auto key = fields_.Define(name);
  if (key.ok()) {
    std::lock_guard lock(mu_);
    keys_[name] = *key;
    return *key;
  }
  if (key.status().code() != StatusCode::kAlreadyExists) {
    return key.status().WithContext("defining custom attribute '" + name + "'");
  }
  VSRAY_RETURN_IF_ERROR(Load());
  if (const int known = KeyIfKnown(name); known >= 0) return known;
  return InternalError("custom attribute '" + name + "' exists but cannot be read");
}

int FieldRegistry::KeyIfKnown(std::string_view name) const {
  std::lock_guard lock(mu_);
  const auto it = keys_.find(std::string(name));
  return it == keys_.end() ? -1 : it->second;
}

std::map<std::string, int> FieldRegistry::All() const {
  std::lock_guard lock(mu_);
  return keys_;
}

NodeReader FieldRegistry::Reader(const std::string& cluster) const {
  return {cluster, KeyIfKnown(kTagRayClusterName), KeyIfKnown(kTagVsrayNodeStatus)};
}

bool FieldRegistry::KnowsAll(const Node* node, const TagMap* filters) const {
  if (node != nullptr) {
    for (const auto& entry : node->custom) {
      const int key = entry.first;
      if (std::none_of(keys_.begin(), keys_.end(),
                       [key](const auto& field) { return field.second == key; })) {
        return false;
      }
    }
  }
  if (filters != nullptr) {
    for (const auto& [name, value] : *filters) {
      if (!keys_.contains(name)) return false;
    }
  }
  return true;
}

void FieldRegistry::RefreshIfUnknown(const Node* node, const TagMap* filters) {
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.Now();
    if (KnowsAll(node, filters) || (refreshed_ && now - last_refresh_ < kRefreshEvery)) return;
    last_refresh_ = now;
    refreshed_ = true;
  }
  if (Status status = Load(); !status.ok()) {
    Log()->warn("cannot read custom attribute definitions: {}", status.message());
  }
}

Status FieldRegistry::Write(const std::string& id, const TagMap& tags, NodeCache& cache) {
  const MoRef vm{"VirtualMachine", id};
  for (const auto& [name, value] : tags) {
    VSRAY_ASSIGN_OR_RETURN(int key, KeyFor(name));
    VSRAY_RETURN_IF_ERROR(fields_.Set(vm, key, value));
    // Visible at once, tag by tag, so a reader never sees a stale value after we return.
    cache.SetPending(id, {{key, value}});
  }
  return OkStatus();
}

}  // namespace vsray::provider
