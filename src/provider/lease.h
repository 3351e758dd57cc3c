// The cluster lease: at most one run at a time makes or removes a cluster's nodes (`vsray up`,
// `create`, `down`, `frozen-vm prepare`, a Python provider's create_node), whichever machine it
// runs on, with vCenter as the arbiter. A lease is a folder named "<prefix><generation>" in a
// parent folder (the cluster's VM folder), made with CreateFolder, which vCenter refuses to a
// second creator of the same name (DuplicateName); its record (owner, what, expiry) is the
// text of a custom attribute of that folder. The newest generation is the lease.
//
// Taking it: free (no generation) or breakable (expired; or its owner is a process of this
// machine that has gone, or this very owner; or it has shown no record for a whole ttl) -> create
// the next generation; whoever creates it first holds the lease, the others look again. Held by a
// live run -> wait (a progress line every 15 s) until it is released or breakable, up to a bound.
// While held, a thread renews the expiry every ttl/3 and checks that no newer generation
// exists (a run that paused past its expiry learns that it lost the lease). Released on
// destruction (its folder removed); a killed run's lease is broken at once on the same
// machine, and after its expiry on others (clocks must agree to within the ttl).
#ifndef VSRAY_PROVIDER_LEASE_H_
#define VSRAY_PROVIDER_LEASE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "provider/cancel.h"
#include "provider/vcenter.h"

namespace vsray::provider {

struct LeaseRecord {
  std::string owner;         // "<host>/<pid>/<process start>/<nonce>" (NewLeaseOwner)
  std::string what;          // what the holder does: "vsray up", "create_node"...
  std::int64_t expires = 0;  // seconds since the epoch

  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};
// "expires=<n>;owner=<owner>;what=<what>" (';' and '=' are kept out of the parts).
std::string FormatLeaseRecord(const LeaseRecord& record);
// nullopt for a text that is not a record.
std::optional<LeaseRecord> ParseLeaseRecord(std::string_view text);

// A new owner name for this process: "<host>/<pid>/<process start>/<nonce>", a new nonce per
// call (each LeaseKeeper has its own).
std::string NewLeaseOwner();
// True only when `owner` names a process of this machine that no longer runs (or is a zombie,
// or whose pid now belongs to another process). Never true for another machine's owner.
bool OwnerGoneOnThisMachine(const std::string& owner);

// What the newest generation of a lease says to a run that wants it.
enum class LeaseVerdict {
  kHeld,       // a live run holds it: wait
  kBreakable,  // expired, its owner gone, or recordless for a whole ttl: take the next one
};
// `record`: the generation's record (nullopt: none yet); `now`: seconds since the epoch;
// `recordless_for`: how long this run has seen the generation without a record.
LeaseVerdict JudgeLease(const std::optional<LeaseRecord>& record, std::int64_t now, bool owner_gone,
                        std::chrono::seconds recordless_for, std::chrono::seconds ttl);

struct LeaseOptions {
  MoRef parent;                               // the folder the lease folders go in
  std::string prefix = "vsray-lease-";        // lease folders are prefix + generation
  std::string what;                           // what the holder does, for other runs' messages
  std::chrono::seconds ttl{60};               // expiry after each renewal
  std::chrono::seconds wait{600};             // the longest Acquire waits for a held lease
  std::chrono::milliseconds poll{1000};       // how often a waiting run looks again
  std::chrono::seconds report_every{15};      // a progress line this often while waiting
  std::function<std::int64_t()> now_seconds;  // wall clock (expiries); default: time()
  Clock* clock = &SystemClock::Instance();    // waits and deadlines
  std::string owner = NewLeaseOwner();
  std::function<bool(const std::string& owner)> owner_gone = OwnerGoneOnThisMachine;
  // Lines for a user who waits ("waiting for `vsray up` (host/pid) ..."); may be null.
  std::function<void(const std::string& line)> progress;
  const Cancellation* cancel = nullptr;  // stops a wait (CANCELLED)
};

class Lease {
 public:
  // Takes the lease, waiting up to options.wait while a live run holds it. Errors: the
  // client's; DEADLINE_EXCEEDED (fault "LeaseHeld") naming the holder and what it does when
  // it was held all along; CANCELLED when options.cancel was set while waiting.
  static StatusOr<std::unique_ptr<Lease>> Acquire(LeaseClient& client, LeaseOptions options);
  // Releases it (best effort; a lease left behind expires).
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Another run took the lease over (this one's expired while it was paused): what it does
  // should stop. Logged when found.
  bool lost() const { return lost_.load(); }
  const MoRef& folder() const { return folder_; }
  std::int64_t generation() const { return generation_; }

 private:
  Lease(LeaseClient& client, LeaseOptions options, MoRef folder, std::int64_t generation);
  void RenewLoop();
  Status RenewOnce();

  LeaseClient& client_;
  const LeaseOptions options_;
  const MoRef folder_;
  const std::int64_t generation_;
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread renewer_;
};

// One lease shared by the threads of one process (a provider's): the first holder takes it in
// vCenter, later ones join, the last one out releases it. Thread-safe.
class LeaseKeeper {
 public:
  class Hold;

  LeaseKeeper(LeaseClient& client, LeaseOptions base) : client_(client), base_(std::move(base)) {}

  // Holds the lease for `what`, waiting up to `wait` for another run's (see Lease::Acquire).
  StatusOr<Hold> Acquire(const std::string& what, std::chrono::seconds wait);
  // Whether a thread of this process holds it now.
  bool held() const;

 private:
  void Release();

  LeaseClient& client_;
  const LeaseOptions base_;
  std::mutex acquire_mu_;  // one acquisition in vCenter at a time
  mutable std::mutex mu_;
  int holders_ = 0;
  std::unique_ptr<Lease> lease_;
};

class LeaseKeeper::Hold {
 public:
  explicit Hold(LeaseKeeper* keeper) : keeper_(keeper) {}
  ~Hold() {
    if (keeper_ != nullptr) keeper_->Release();
  }
  Hold(Hold&& other) noexcept : keeper_(std::exchange(other.keeper_, nullptr)) {}
  Hold& operator=(Hold&& other) noexcept {
    if (this != &other) {
      if (keeper_ != nullptr) keeper_->Release();
      keeper_ = std::exchange(other.keeper_, nullptr);
    }
    return *this;
  }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  LeaseKeeper* keeper_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_LEASE_H_
