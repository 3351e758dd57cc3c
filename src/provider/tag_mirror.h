// The optional mirror of Ray's tags as vSphere tags (vsphere_config.mirror_vsphere_tags), for
// tools that read vSphere tags as Ray's Python provider wrote them: tag `key:value` in the
// category `ray` (created if missing: cardinality MULTIPLE, associable to VirtualMachine).
// Custom attributes stay the source of truth; the mirror is best effort: failures are logged
// as warnings and never fail a node operation. Tag ids are cached by name, so a steady state
// makes no lookups: one bulk attach per created node, one bulk detach and one bulk attach per
// tag change. Tag objects are shared: one per distinct key:value, never one per node.
// Thread-safe.
#ifndef VSRAY_PROVIDER_TAG_MIRROR_H_
#define VSRAY_PROVIDER_TAG_MIRROR_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/node.h"
#include "provider/vcenter.h"
#include "vsphere/rest.h"
#include "vsphere/session.h"

namespace vsray::provider {

inline constexpr std::string_view kMirrorCategory = "ray";

// "key:value", the mirrored tag's name.
std::string MirrorTagName(const std::string& key, const std::string& value);

class TagMirror final : public TagMirrorClient {
 public:
  // Connects to the REST API on first use (sharing `options.transport`).
  explicit TagMirror(vsphere::ConnectOptions options);
  ~TagMirror() override;
  TagMirror(const TagMirror&) = delete;
  TagMirror& operator=(const TagMirror&) = delete;

  // A new node: attaches a tag for each of `tags` (one bulk call).
  Status Attach(const std::string& vm_id, const TagMap& tags) override;
  // Changed tags of a node: for each key of `changed` whose value differs from `previous`,
  // detaches `key:previous` (one bulk call) and attaches `key:new` (one bulk call).
  Status Change(const std::string& vm_id, const TagMap& previous, const TagMap& changed) override;

 private:
  // Caller holds mu_.
  Status EnsureReady();
  StatusOr<std::string> TagId(const std::string& name, bool create);
  StatusOr<std::vector<std::string>> TagIds(const TagMap& tags, bool create);

  const vsphere::ConnectOptions options_;
  std::mutex mu_;  // guards everything below; held across REST calls that fill the cache
  std::unique_ptr<vsphere::RestClient> rest_;
  std::string category_id_;
  std::map<std::string, std::string> tag_ids_;  // tag name -> id, in category `ray`
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_TAG_MIRROR_H_
