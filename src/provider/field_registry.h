// The custom attributes (custom fields) that hold Ray's tags: one per tag key, defined on
// first use, their keys cached; and the writing of tag values to a node, visible in the cache
// at once. Thread-safe.
#ifndef VSRAY_PROVIDER_FIELD_REGISTRY_H_
#define VSRAY_PROVIDER_FIELD_REGISTRY_H_

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "provider/node.h"
#include "provider/node_cache.h"
#include "provider/node_state.h"
#include "provider/vcenter.h"

namespace vsray::provider {

class FieldRegistry {
 public:
  // Unknown keys trigger a re-read at most once per this long.
  static constexpr std::chrono::seconds kRefreshEvery{1};

  // `fields` and `clock` must outlive the registry.
  FieldRegistry(FieldsClient& fields, const Clock& clock) : fields_(fields), clock_(clock) {}

  // Reads every definition.
  Status Load();
  // The key of attribute `name`, defining it if need be (also when another provider defines
  // it at the same moment).
  StatusOr<int> KeyFor(const std::string& name);
  // The key of attribute `name`; -1 while it is not known to be defined.
  int KeyIfKnown(std::string_view name) const;
  // Every known definition: name -> key.
  std::map<std::string, int> All() const;
  // How cluster `cluster` reads its nodes, with the keys known now.
  NodeReader Reader(const std::string& cluster) const;
  // Another provider (the launcher, the head) may define attributes after this one started:
  // re-reads the definitions when `node` carries, or `filters` name, a key this registry
  // doesn't know, at most once per kRefreshEvery. Failures are logged.
  void RefreshIfUnknown(const Node* node, const TagMap* filters);
  // Writes `tags` of node `id`, defining attributes as needed; each value is visible in
  // `cache` as soon as it is written (read-your-writes). Errors: KeyFor's, FieldsClient::Set's.
  Status Write(const std::string& id, const TagMap& tags, NodeCache& cache);

 private:
  bool KnowsAll(const Node* node, const TagMap* filters) const;  // caller holds mu_

  FieldsClient& fields_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, int> keys_;  // name -> key
  Clock::TimePoint last_refresh_{};
  bool refreshed_ = false;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FIELD_REGISTRY_H_
