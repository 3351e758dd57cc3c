#include "provider/tag_mirror.h"

#include <utility>

#include "common/log.h"

namespace vsray::provider {
namespace {

constexpr std::string_view kVirtualMachine = "VirtualMachine";

vsphere::DynamicId VmId(const std::string& vm_id) { return {std::string(kVirtualMachine), vm_id}; }

}  // namespace

std::string MirrorTagName(const std::string& key, const std::string& value) {
  return key + ":" + value;
}

TagMirror::TagMirror(vsphere::ConnectOptions options) : options_(std::move(options)) {}

TagMirror::~TagMirror() = default;

Status TagMirror::EnsureReady() {
  if (!rest_) {
    VSRAY_ASSIGN_OR_RETURN(rest_, vsphere::RestClient::Connect(options_, options_.transport));
  }
  if (!category_id_.empty()) return OkStatus();
  auto category = rest_->FindCategoryByName(std::string(kMirrorCategory));
  if (!category.ok() && category.status().code() == StatusCode::kNotFound) {
    vsphere::TagCategory spec;
    spec.name = std::string(kMirrorCategory);
    spec.description = "Ray's node tags, mirrored by vsray";
    spec.cardinality = vsphere::TagCardinality::kMultiple;
    spec.associable_types = {std::string(kVirtualMachine)};
    auto created = rest_->CreateCategory(spec);
    if (created.ok()) {
      category_id_ = *created;
    } else if (created.status().code() == StatusCode::kAlreadyExists) {
      // Another provider created it meanwhile.
      category = rest_->FindCategoryByName(std::string(kMirrorCategory));
    } else {
      return created.status();
    }
  }
  if (category_id_.empty()) {
    if (!category.ok()) return category.status();
    category_id_ = category->id;
  }
  // Learn every tag of the category once: from then on, names resolve without a call.
  VSRAY_ASSIGN_OR_RETURN(auto ids, rest_->ListTagsForCategory(category_id_));
  for (const auto& id : ids) {
    auto tag = rest_->GetTag(id);
    if (tag.ok()) {
      tag_ids_[tag->name] = id;
    } else if (tag.status().code() != StatusCode::kNotFound) {
      return tag.status();
    }
  }
  return OkStatus();
}

StatusOr<std::string> TagMirror::TagId(const std::string& name, bool create) {
  if (auto it = tag_ids_.find(name); it != tag_ids_.end()) return it->second;
  if (!create) return NotFoundError("no tag '" + name + "' known");
  vsphere::Tag tag;
  tag.name = name;
  tag.category_id = category_id_;
  auto created = rest_->CreateTag(tag);
  if (created.ok()) {
    tag_ids_[name] = *created;
    return *created;
  }
  if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  // Another provider created it since this one listed the category.
  VSRAY_ASSIGN_OR_RETURN(auto found, rest_->FindTagByName(category_id_, name));
  tag_ids_[name] = found.id;
  return found.id;
}

StatusOr<std::vector<std::string>> TagMirror::TagIds(const TagMap& tags, bool create) {
  std::lock_guard lock(mu_);
  VSRAY_RETURN_IF_ERROR(EnsureReady());
  std::vector<std::string> ids;
  for (const auto& [key, value] : tags) {
    auto id = TagId(MirrorTagName(key, value), create);
    if (id.ok()) {
      ids.push_back(*std::move(id));
    } else if (create || id.status().code() != StatusCode::kNotFound) {
      return id.status();
    }
  }
  return ids;
}

Status TagMirror::Attach(const std::string& vm_id, const TagMap& tags) {
  if (tags.empty()) return OkStatus();
  VSRAY_ASSIGN_OR_RETURN(auto ids, TagIds(tags, /*create=*/true));
  // The client is thread-safe and set once: the bulk call runs without the lock.
  return rest_->AttachTagsToObject(VmId(vm_id), ids);
}

Status TagMirror::Change(const std::string& vm_id, const TagMap& previous, const TagMap& changed) {
  TagMap old_tags;
  TagMap new_tags;
  for (const auto& [key, value] : changed) {
    auto it = previous.find(key);
    if (it != previous.end() && it->second == value) continue;
    if (it != previous.end()) old_tags[key] = it->second;
    new_tags[key] = value;
  }
  if (new_tags.empty()) return OkStatus();
  // A previous value without a tag (never mirrored) has nothing to detach.
  VSRAY_ASSIGN_OR_RETURN(auto old_ids, TagIds(old_tags, /*create=*/false));
  VSRAY_ASSIGN_OR_RETURN(auto new_ids, TagIds(new_tags, /*create=*/true));
  if (!old_ids.empty()) {
    Status detached = rest_->DetachTagsFromObject(VmId(vm_id), old_ids);
    // A tag deleted by someone else meanwhile is detached too.
    if (!detached.ok() && detached.code() != StatusCode::kNotFound) return detached;
  }
  return rest_->AttachTagsToObject(VmId(vm_id), new_ids);
}

}  // namespace vsray::provider
