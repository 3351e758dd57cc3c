#include "provider/folder_watcher.h"

#include <algorithm>
#include <unordered_set>

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

namespace {

vsphere::UpdatePollerOptions PollerOptions(const FolderWatcherOptions& options) {
  vsphere::UpdatePollerOptions poller;
  poller.name = "node watcher";
  poller.max_wait_seconds = kMaxWaitSeconds;
  if (options.resync_interval.count() > 0) {
    // Rounds end at least this often, so that a re-sync is never late by more than a round.
    poller.max_wait_seconds = static_cast<int>(
        std::clamp<std::int64_t>(options.resync_interval.count(), 1, kMaxWaitSeconds));
  }
  return poller;
}

}  // namespace

FolderWatcher::FolderWatcher(std::shared_ptr<vsphere::Session> session, vsphere::MoRef folder,
                             NodeCache& cache, FolderWatcherOptions options)
    : session_(std::move(session)),
      vim_(*session_, session_->content()),
      clock_(*session_->options().clock),
      folder_(std::move(folder)),
      cache_(cache),
      options_(options),
      poller_(session_, FolderFilter(folder_),
              {.on_established = [this](const vsphere::UpdateSet& set) { OnEstablished(set); },
               .on_updates = [this](const vsphere::UpdateSet& set) { cache_.Apply(set); },
               .on_round = [this] { OnRound(); },
               .on_error =
                   [this](const Status& status) {
                     std::lock_guard lock(mu_);
                     last_error_ = status;
                   }},
              PollerOptions(options_)) {}

FolderWatcher::~FolderWatcher() { poller_.Stop(); }

void FolderWatcher::Start() { poller_.Start(); }

Status FolderWatcher::WaitSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, timeout, [this] { return synced_; })) return OkStatus();
  std::string why = last_error_.ok() ? "" : ": " + last_error_.message();
  return DeadlineExceededError("the node cache did not sync with vCenter in time" + why);
}

void FolderWatcher::OnEstablished(const vsphere::UpdateSet& set) {
  // The first round of a new filter is the full state: reconcile the cache with it.
  std::vector<Node> nodes;
  for (const auto& object : set.objects) {
    if (object.kind == "leave") continue;
    Node node;
    node.id = object.obj.value;
    for (const auto& change : object.changes) ApplyProperty(node, change.name, change.val);
    nodes.push_back(std::move(node));
  }
  const auto stats = cache_.Reconcile(std::move(nodes));
  if (poller_.setups() > 1 && (stats.added > 0 || stats.removed > 0)) {
    Log()->info("node watcher: watching again; {} node(s) appeared, {} vanished meanwhile",
                stats.added, stats.removed);
  }
  next_resync_ = clock_.Now() + options_.resync_interval;
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  cv_.notify_all();
}

void FolderWatcher::OnRound() {
  VerifyUnidentified();
  if (options_.resync_interval.count() > 0 && clock_.Now() >= next_resync_) {
    Resync();
  }
}

void FolderWatcher::Resync() {
  auto nodes = ListFolder(vim_, folder_);
  if (!nodes.ok()) {
    // The long poll sees the same trouble and re-establishes (which re-lists).
    Log()->debug("node watcher: re-listing the folder: {}", nodes.status().message());
    return;
  }
  next_resync_ = clock_.Now() + options_.resync_interval;
  const auto stats = cache_.Reconcile(*std::move(nodes));
  ++resyncs_;
  if (stats.added > 0 || stats.removed > 0) {
    Log()->warn(
        "node watcher: the update stream missed changes: re-listing found {} new node(s) and "
        "{} gone",
        stats.added, stats.removed);
  }
}

void FolderWatcher::VerifyUnidentified() {
  std::vector<std::string> ids;
  std::unordered_set<std::string> unidentified;
  cache_.ForEach([&](const Node& node) {
    if (!node.identity.empty()) return;
    unidentified.insert(node.id);
    if (verify_attempts_[node.id] < kMaxVerifyAttempts) ids.push_back(node.id);
  });
  // Forget nodes that are gone or identified, so that a long-running provider does not grow.
  std::erase_if(verify_attempts_,
                [&](const auto& entry) { return !unidentified.contains(entry.first); });
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

}  // namespace vsray::provider
