#include "provider/lease.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "common/log.h"
#include "provider/key_values.h"

namespace vsray::provider {
namespace {

std::string Clean(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == ';' || c == '='; }, '_');
  return out;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string HostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "unknown-host";
  return {name.data()};
}

// Field 3 (state) and 22 (start time in clock ticks) of /proc/<pid>/stat; nullopt if the
// process does not exist.
struct ProcStat {
  char state = '?';
  std::string start;
};
std::optional<ProcStat> ReadProcStat(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: read after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  ProcStat stat;
  fields >> stat.state;
  std::string skip;
  for (int field = 4; field < 22 && fields >> skip; ++field) {
  }
  fields >> stat.start;
  return stat;
}

std::string RandomNonce() {
  std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (auto& c : out) c = kHex[rng() & 0xFU];
  return out;
}

// The generation of lease folder `name`; nullopt for another folder.
std::optional<std::int64_t> GenerationOf(const std::string& name, const std::string& prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  const std::string_view whole = name;
  const std::string_view rest = whole.substr(prefix.size());
  auto generation = ParseInt(rest);
  if (!generation || *generation < 1) return std::nullopt;
  return generation;
}

struct Generations {
  std::map<std::int64_t, LeaseClient::Entry> by_number;
  const LeaseClient::Entry* newest() const {
    return by_number.empty() ? nullptr : &by_number.rbegin()->second;
  }
  std::int64_t next() const { return by_number.empty() ? 1 : by_number.rbegin()->first + 1; }
};

StatusOr<Generations> ListGenerations(LeaseClient& client, const LeaseOptions& options) {
  VSRAY_ASSIGN_OR_RETURN(auto entries, client.List(options.parent, options.prefix));
  Generations out;
  for (auto& entry : entries) {
    if (auto number = GenerationOf(entry.name, options.prefix)) {
      out.by_number[*number] = std::move(entry);
    }
  }
  return out;
}

std::string Describe(const std::optional<LeaseRecord>& record) {
  if (!record) return "another run (its lease is being written)";
  return "`" + record->what + "` (" + record->owner + ")";
}

// The state of one Acquire call while it waits.
struct Waiting {
  std::map<std::string, Clock::TimePoint> recordless_since;  // folder name -> first seen
  Clock::TimePoint last_report{};
  bool reported = false;
};

}  // namespace

std::string FormatLeaseRecord(const LeaseRecord& record) {
  return "expires=" + std::to_string(record.expires) + ";owner=" + Clean(record.owner) +
         ";what=" + Clean(record.what);
}

std::optional<LeaseRecord> ParseLeaseRecord(std::string_view text) {
  LeaseRecord record;
  bool has_expiry = false;
  const bool parsed = ForEachKeyValue(text, [&](std::string_view key, std::string_view value) {
    if (key == "expires") {
      auto expires = ParseInt(value);
      if (!expires) return false;
      record.expires = *expires;
      has_expiry = true;
    } else if (key == "owner") {
      record.owner = std::string(value);
    } else if (key == "what") {
      record.what = std::string(value);
    }
    return true;
  });
  if (!parsed || !has_expiry || record.owner.empty()) return std::nullopt;
  return record;
}

std::string NewLeaseOwner() {
  static const std::string process = [] {
    const std::string pid = std::to_string(getpid());
    const auto stat = ReadProcStat(pid);
    return Clean(HostName()) + "/" + pid + "/" + (stat ? stat->start : "0");
  }();
  return process + "/" + RandomNonce();
}

bool OwnerGoneOnThisMachine(const std::string& owner) {
  // host/pid/start/nonce
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(owner);
  while (std::getline(in, part, '/')) parts.push_back(part);
  if (parts.size() != 4 || parts[0] != Clean(HostName())) return false;
  if (!ParseInt(parts[1])) return false;
  const auto stat = ReadProcStat(parts[1]);
  if (!stat) return true;
  return stat->state == 'Z' || stat->state == 'X' || stat->start != parts[2];
}

LeaseVerdict JudgeLease(const std::optional<LeaseRecord>& record, std::int64_t now, bool owner_gone,
                        std::chrono::seconds recordless_for, std::chrono::seconds ttl) {
  if (!record) return recordless_for >= ttl ? LeaseVerdict::kBreakable : LeaseVerdict::kHeld;
  if (owner_gone || now >= record->expires) return LeaseVerdict::kBreakable;
  return LeaseVerdict::kHeld;
}

Lease::Lease(LeaseClient& client, LeaseOptions options, MoRef folder, std::int64_t generation)
    : client_(client),
      options_(std::move(options)),
      folder_(std::move(folder)),
      generation_(generation) {
  renewer_ = std::thread([this] { RenewLoop(); });
}

Lease::~Lease() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (Status removed = client_.Remove(folder_); !removed.ok()) {
    Log()->warn("could not release the cluster lease {}: {} (it expires by itself)", folder_.value,
                removed.message());
  }
}

Status Lease::RenewOnce() {
  VSRAY_ASSIGN_OR_RETURN(auto generations, ListGenerations(client_, options_));
  const auto* newest = generations.newest();
  if (newest == nullptr || newest->folder != folder_) {
    return {StatusCode::kAborted, "another run took the cluster lease over"};
  }
  const LeaseRecord record{options_.owner, options_.what,
                           options_.now_seconds() + options_.ttl.count()};
  return client_.Write(folder_, FormatLeaseRecord(record));
}

void Lease::RenewLoop() {
  // Waits on real time between renewals (a wake-up period; expiries use now_seconds).
  const auto every = std::max<std::chrono::milliseconds>(options_.ttl / 3, std::chrono::seconds(1));
  std::unique_lock lock(mu_);
  while (!stop_cv_.wait_for(lock, every, [this] { return stopping_; })) {
    lock.unlock();
    Status renewed = RenewOnce();
    lock.lock();
    if (renewed.code() == StatusCode::kAborted || renewed.code() == StatusCode::kNotFound) {
      Log()->error("lost the cluster lease {}: {}", folder_.value, renewed.message());
      lost_ = true;
      return;
    }
    if (!renewed.ok()) Log()->warn("could not renew the cluster lease: {}", renewed.message());
  }
}

namespace {

// One look at the lease: the generation to create, or nullopt (held; `holder` says by whom).
StatusOr<std::optional<std::int64_t>> NextIfFree(LeaseClient& client, const LeaseOptions& options,
                                                 Waiting& waiting,
                                                 std::optional<LeaseRecord>& holder) {
  VSRAY_ASSIGN_OR_RETURN(auto generations, ListGenerations(client, options));
  const auto* newest = generations.newest();
  if (newest == nullptr) return std::optional<std::int64_t>(generations.next());
  holder = newest->record ? ParseLeaseRecord(*newest->record) : std::nullopt;
  const auto now = options.clock->Now();
  auto [since, fresh] = waiting.recordless_since.try_emplace(newest->name, now);
  const auto recordless_for =
      holder ? std::chrono::seconds(0)
             : std::chrono::duration_cast<std::chrono::seconds>(now - since->second);
  // Our own earlier lease (being released by another thread of this keeper) or a gone owner.
  const bool gone = holder && (holder->owner == options.owner || options.owner_gone(holder->owner));
  if (JudgeLease(holder, options.now_seconds(), gone, recordless_for, options.ttl) ==
      LeaseVerdict::kBreakable) {
    Log()->info("taking over the cluster lease {} ({})", newest->name,
                gone     ? "its owner has gone"
                : holder ? "expired"
                         : "never written");
    return std::optional<std::int64_t>(generations.next());
  }
  return std::optional<std::int64_t>();
}

// Makes generation `generation` ours; nullopt when another run made it first.
StatusOr<std::optional<MoRef>> TryTake(LeaseClient& client, const LeaseOptions& options,
                                       std::int64_t generation) {
  auto folder = client.Create(options.parent, options.prefix + std::to_string(generation));
  if (!folder.ok()) {
    if (folder.status().code() == StatusCode::kAlreadyExists) return std::optional<MoRef>();
    return folder.status().WithContext("taking the cluster lease");
  }
  const LeaseRecord record{options.owner, options.what,
                           options.now_seconds() + options.ttl.count()};
  if (Status written = client.Write(*folder, FormatLeaseRecord(record)); !written.ok()) {
    (void)client.Remove(*folder);
    return written.WithContext("writing the cluster lease");
  }
  return std::optional<MoRef>(*folder);
}

void RemoveOlder(LeaseClient& client, const LeaseOptions& options, std::int64_t generation) {
  auto generations = ListGenerations(client, options);
  if (!generations.ok()) return;
  for (const auto& [number, entry] : generations->by_number) {
    if (number >= generation) break;
    if (Status removed = client.Remove(entry.folder); !removed.ok()) {
      Log()->debug("could not remove the old lease {}: {}", entry.name, removed.message());
    }
  }
}

void ReportWait(const LeaseOptions& options, const std::optional<LeaseRecord>& holder,
                Waiting& waiting) {
  const auto now = options.clock->Now();
  if (waiting.reported && now - waiting.last_report < options.report_every) return;
  waiting.reported = true;
  waiting.last_report = now;
  std::string line = "waiting for " + Describe(holder) + " to finish with this cluster";
  if (holder) {
    line += " (its lease ends in " +
            std::to_string(std::max<std::int64_t>(0, holder->expires - options.now_seconds())) +
            " s unless renewed)";
  }
  if (options.progress) {
    options.progress(line);
  } else {
    Log()->warn("{}", line);  // never a silent wait
  }
}

Status HeldError(const LeaseOptions& options, const std::optional<LeaseRecord>& holder) {
  Status status = DeadlineExceededError(
      "the cluster is busy: " + Describe(holder) + " holds its lease (waited " +
      std::to_string(options.wait.count()) + " s); try again when it has finished");
  status.set_fault("LeaseHeld");
  return status;
}

}  // namespace

StatusOr<std::unique_ptr<Lease>> Lease::Acquire(LeaseClient& client, LeaseOptions options) {
  if (!options.now_seconds) options.now_seconds = [] { return std::int64_t{std::time(nullptr)}; };
  const auto deadline = options.clock->Now() + options.wait;
  Waiting waiting;
  for (;;) {
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      return CancelledError("interrupted while waiting for the cluster lease");
    }
    std::optional<LeaseRecord> holder;
    VSRAY_ASSIGN_OR_RETURN(auto next, NextIfFree(client, options, waiting, holder));
    if (next) {
      VSRAY_ASSIGN_OR_RETURN(auto folder, TryTake(client, options, *next));
      if (!folder) continue;  // another run made that generation first: look again
      RemoveOlder(client, options, *next);
      return std::unique_ptr<Lease>(new Lease(client, std::move(options), *folder, *next));
    }
    const auto now = options.clock->Now();
    if (now >= deadline) return HeldError(options, holder);
    ReportWait(options, holder, waiting);
    options.clock->SleepFor(std::min<Clock::Duration>(options.poll, deadline - now));
  }
}

StatusOr<LeaseKeeper::Hold> LeaseKeeper::Acquire(const std::string& what,
                                                 std::chrono::seconds wait) {
  std::lock_guard acquiring(acquire_mu_);
  {
    std::lock_guard lock(mu_);
    if (lease_ != nullptr && !lease_->lost()) {
      ++holders_;
      return Hold(this);
    }
  }
  LeaseOptions options = base_;
  options.what = what;
  options.wait = wait;
  VSRAY_ASSIGN_OR_RETURN(auto lease, Lease::Acquire(client_, std::move(options)));
  std::unique_ptr<Lease> previous;  // a lost one, released outside the lock
  {
    std::lock_guard lock(mu_);
    previous = std::exchange(lease_, std::move(lease));
    ++holders_;
  }
  return Hold(this);
}

bool LeaseKeeper::held() const {
  std::lock_guard lock(mu_);
  return holders_ > 0 && lease_ != nullptr && !lease_->lost();
}

void LeaseKeeper::Release() {
  // Under acquire_mu_: a new acquisition starts only once the old lease is gone. (Acquire
  // waits in vCenter only while nobody here holds the lease, so this never waits on it.)
  std::lock_guard acquiring(acquire_mu_);
  std::unique_ptr<Lease> released;
  {
    std::lock_guard lock(mu_);
    if (--holders_ == 0) released = std::move(lease_);
  }
}

}  // namespace vsray::provider
