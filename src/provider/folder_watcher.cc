#include "provider/folder_watcher.h"

#include <algorithm>

#include "common/log.h"

namespace vsray::provider {
namespace {

constexpr int kMaxWaitSeconds = 10;
// A VM in the folder without our identity (a stranger) is read directly at most this often.
constexpr int kMaxVerifyAttempts = 5;

}  // namespace

vsphere::FilterSpec FolderFilter(const vsphere::MoRef& folder) {
  vsphere::FilterSpec spec;
  spec.props.push_back({"VirtualMachine", WatchedProperties()});
  vsphere::ObjectSpec object;
  object.obj = folder;
  object.skip = true;
  object.traversals.push_back({"folderChildren", "Folder", "childEntity", false, {}});
  spec.objects.push_back(std::move(object));
  return spec;
}

StatusOr<std::vector<Node>> ListFolder(vsphere::Vim& vim, const vsphere::MoRef& folder) {
  VSRAY_ASSIGN_OR_RETURN(auto contents, vim.RetrieveProperties(FolderFilter(folder)));
  std::vector<Node> nodes;
  nodes.reserve(contents.size());
  for (const auto& content : contents) nodes.push_back(NodeFromContent(content));
  return nodes;
}

FolderWatcher::FolderWatcher(std::shared_ptr<vsphere::Session> session, vsphere::MoRef folder,
                             NodeCache& cache)
    : session_(std::move(session)),
      vim_(*session_, session_->content()),
      folder_(std::move(folder)),
      cache_(cache) {}

FolderWatcher::~FolderWatcher() {
  vsphere::MoRef collector;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    collector = collector_;
  }
  cv_.notify_all();
  if (!collector.empty()) (void)vim_.CancelWaitForUpdates(collector);
  if (thread_.joinable()) thread_.join();
}

void FolderWatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

Status FolderWatcher::WaitSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, timeout, [this] { return synced_ || stopping_; }) && synced_) {
    return OkStatus();
  }
  std::string why = last_error_.ok() ? "" : ": " + last_error_.message();
  return DeadlineExceededError("the node cache did not sync with vCenter in time" + why);
}

Status FolderWatcher::SetUp() {
  VSRAY_ASSIGN_OR_RETURN(auto collector, vim_.CreatePropertyCollector());
  auto filter = vim_.CreateFilter(collector, FolderFilter(folder_), false);
  if (!filter.ok()) {
    (void)vim_.DestroyPropertyCollector(collector);
    return filter.status();
  }
  std::lock_guard lock(mu_);
  collector_ = collector;
  ++setups_;
  return OkStatus();
}

void FolderWatcher::TearDown() {
  vsphere::MoRef collector;
  {
    std::lock_guard lock(mu_);
    collector = collector_;
    collector_ = {};
  }
  if (!collector.empty()) (void)vim_.DestroyPropertyCollector(collector);
}

void FolderWatcher::VerifyUnidentified() {
  std::vector<std::string> ids;
  cache_.ForEach([&](const Node& node) {
    if (node.identity.empty() && verify_attempts_[node.id] < kMaxVerifyAttempts) {
      ids.push_back(node.id);
    }
  });
  if (ids.empty()) return;
  vsphere::FilterSpec spec;
  spec.props.push_back({"VirtualMachine", WatchedProperties()});
  for (const auto& id : ids) spec.objects.push_back({{"VirtualMachine", id}, false, {}});
  auto contents = vim_.RetrieveProperties(spec);
  if (!contents.ok()) return;  // try again after the next update
  vsphere::UpdateSet set;
  for (const auto& content : *contents) {
    vsphere::ObjectUpdate update;
    update.obj = content.obj;
    update.kind = "modify";
    for (const auto& [name, value] : content.props)
      update.changes.push_back({name, "assign", value});
    set.objects.push_back(std::move(update));
  }
  cache_.Apply(set);
  for (const auto& id : ids) ++verify_attempts_[id];
}

void FolderWatcher::Loop() {
  std::string version;
  bool ready = false;
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    if (!ready) {
      Status status = SetUp();
      if (!status.ok()) {
        Log()->warn("node watcher: cannot watch the cluster folder: {}", status.message());
        std::unique_lock lock(mu_);
        last_error_ = status;
        cv_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      ready = true;
      version.clear();
    }
    vsphere::MoRef collector;
    {
      std::lock_guard lock(mu_);
      collector = collector_;
    }
    auto updates = vim_.WaitForUpdatesEx(collector, version, kMaxWaitSeconds);
    ++rounds_;
    if (!updates.ok()) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        last_error_ = updates.status();
      }
      Log()->info("node watcher: {}; watching again", updates.status().message());
      TearDown();
      ready = false;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (!updates->has_value()) {
      VerifyUnidentified();
      continue;
    }
    const vsphere::UpdateSet& set = **updates;
    if (version.empty()) {
      // The first round of a new filter is the full state: replace the cache with it.
      std::vector<Node> nodes;
      for (const auto& object : set.objects) {
        if (object.kind == "leave") continue;
        Node node;
        node.id = object.obj.value;
        for (const auto& change : object.changes) ApplyProperty(node, change.name, change.val);
        nodes.push_back(std::move(node));
      }
      cache_.Reset(std::move(nodes));
      {
        std::lock_guard lock(mu_);
        synced_ = true;
      }
      cv_.notify_all();
    } else {
      cache_.Apply(set);
    }
    VerifyUnidentified();
    version = set.version;
  }
  TearDown();
}

}  // namespace vsray::provider
