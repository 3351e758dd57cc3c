// Soak benchmark: autoscaler-like churn against vsray-sim for a long time, to show that the
// provider neither leaks (memory, VMs, sessions) nor degrades. Several threads share one
// provider (with its watcher), as Ray's autoscaler and its node launchers do:
//   scaler   every 2 s: creates 1-3 nodes while below a target that swings between a few
//            and --max-nodes, else terminates 1-3 (the autoscaler's launches and idle
//            scale-down);
//   tagger   every 250 ms: sets ray-node-status of a random node (Ray's updaters);
//   listers  (2) every 100 ms: one autoscaler tick: non_terminated_nodes, then node_tags and
//            IPs of every node (served from the live cache);
//   chaos    every minute, 20 s of injected faults (503s, dropped connections, answers lost
//            after vCenter acted, failed clone tasks); every 5 minutes all sessions expire.
// Every --report-every seconds one line: operations and errors so far, vCenter calls per
// listing tick, nodes, resident memory and heap. At the end: memory at start (after one
// report interval of warm-up) and at the end, and a census of what is left after tear-down.
// Usage: vsray_bench_soak [--minutes M (30)] [--report-every S (60)] [--max-nodes N (12)]
//                         [--seed N (1)]
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "memory.h"
#include "provider/node_provider.h"
#include "support/sim_process.h"

namespace {

using vsray::bench::RssKb;
using vsray::provider::NodeProvider;
using vsray::provider::ProviderOptions;
using vsray::provider::TagMap;
using vsray::testing::SimProcess;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  double minutes = 30;
  int report_every = 60;
  int max_nodes = 12;
  unsigned seed = 1;
};

// Parsed with CLI11 (--help prints usage); nullopt with the exit code when the program ends here.
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app("vsray_bench_soak: autoscaler-shaped load against vsray-sim with faults");
  app.add_option("--minutes", flags->minutes, "how long to run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--report-every", flags->report_every, "seconds between report lines")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--max-nodes", flags->max_nodes, "most workers at once")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  app.add_option("--seed", flags->seed, "the simulator's and the load's seed")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

std::int64_t HeapKb() { return vsray::bench::HeapInUse() / 1024; }

struct Counters {
  std::atomic<long> creates{0}, create_errors{0};        // NOLINT(google-runtime-int)
  std::atomic<long> terminates{0}, terminate_errors{0};  // NOLINT(google-runtime-int)
  std::atomic<long> tag_writes{0}, tag_errors{0};        // NOLINT(google-runtime-int)
  std::atomic<long> ticks{0}, tick_errors{0};            // NOLINT(google-runtime-int)
  std::atomic<long> fault_windows{0}, expiries{0};       // NOLINT(google-runtime-int)
  std::atomic<int> nodes{0};
};

const TagMap kWorkerTags = {{"ray-node-type", "worker"},
                            {"ray-user-node-type", "cpu"},
                            {"ray-node-status", "uninitialized"},
                            {"ray-launch-config", "soak"}};

class Soak {
 public:
  Soak(SimProcess& sim, NodeProvider& provider, const Flags& flags)
      : sim_(sim), provider_(provider), flags_(flags), end_(SteadyClock::now() + Duration()) {}

  [[gnu::noinline]] void Run();

 private:
  std::chrono::milliseconds Duration() const {
    return std::chrono::milliseconds(static_cast<long long>(flags_.minutes * 60'000));  // NOLINT
  }
  bool Running() const { return SteadyClock::now() < end_; }
  // Sleeps `ms`, or less when the soak ends meanwhile.
  void Pause(int ms) const {
    const auto until = std::min(SteadyClock::now() + std::chrono::milliseconds(ms), end_);
    std::this_thread::sleep_until(until);
  }
  std::vector<std::string> Nodes() {
    auto ids = provider_.NonTerminatedNodes({{"ray-node-type", "worker"}});
    return ids.ok() ? *ids : std::vector<std::string>{};
  }
  void Scaler();
  void Tagger();
  void Lister();
  void Chaos();
  void Report(SteadyClock::time_point start);

  SimProcess& sim_;
  NodeProvider& provider_;
  const Flags flags_;
  const SteadyClock::time_point end_;
  Counters counters_;
  std::mutex rng_mu_;
  std::mt19937 rng_{1};

 public:
  long start_rss_kb = -1;                          // NOLINT(google-runtime-int)
  long end_rss_kb = -1;                            // NOLINT(google-runtime-int)
  long long start_heap_kb = -1, end_heap_kb = -1;  // NOLINT(google-runtime-int)

 private:
  int Random(int lo, int hi) {
    std::lock_guard lock(rng_mu_);
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
};

void Soak::Scaler() {
  int target = 2;
  for (int round = 0; Running(); ++round) {
    if (round % 15 == 0) target = Random(2, flags_.max_nodes);  // a new demand every 30 s
    const auto nodes = Nodes();
    counters_.nodes = static_cast<int>(nodes.size());
    if (static_cast<int>(nodes.size()) < target) {
      const int count = std::min(Random(1, 3), target - static_cast<int>(nodes.size()));
      auto created = provider_.CreateNode({}, kWorkerTags, count);
      counters_.creates += created.ok() ? static_cast<long>(created->created.size()) : 0;  // NOLINT
      counters_.create_errors +=
          created.ok() ? static_cast<long>(created->failures.size()) : count;  // NOLINT
    } else if (!nodes.empty()) {
      std::vector<std::string> victims;
      for (int i = std::min(Random(1, 3), static_cast<int>(nodes.size())); i > 0; --i) {
        victims.push_back(
            nodes[static_cast<std::size_t>(Random(0, static_cast<int>(nodes.size()) - 1))]);
      }
      std::sort(victims.begin(), victims.end());
      victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
      const auto status = provider_.TerminateNodes(victims);
      counters_.terminates += static_cast<long>(victims.size());  // NOLINT
      if (!status.ok()) ++counters_.terminate_errors;
    }
    Pause(2000);
  }
}

void Soak::Tagger() {
  static const char* kStatuses[] = {"waiting-for-ssh", "syncing-files", "setting-up", "up-to-date"};
  while (Running()) {
    const auto nodes = Nodes();
    if (!nodes.empty()) {
      const auto& id =
          nodes[static_cast<std::size_t>(Random(0, static_cast<int>(nodes.size()) - 1))];
      const auto status = provider_.SetNodeTags(id, {{"ray-node-status", kStatuses[Random(0, 3)]}});
      ++counters_.tag_writes;
      if (!status.ok() && status.code() != vsray::StatusCode::kNotFound) ++counters_.tag_errors;
    }
    Pause(250);
  }
}

void Soak::Lister() {
  while (Running()) {
    auto ids = provider_.NonTerminatedNodes({});
    if (ids.ok()) {
      for (const auto& id : *ids) {
        (void)provider_.NodeTags(id);
        (void)provider_.ExternalIp(id);
        (void)provider_.InternalIp(id);
      }
    } else {
      ++counters_.tick_errors;
    }
    ++counters_.ticks;
    Pause(100);
  }
}

void Soak::Chaos() {
  static const char* kFaults[] = {"SetField:p=0.05:http503",
                                  "PowerOffVM_Task:p=0.1:http503",
                                  "InstantClone_Task:p=0.05:lost",
                                  "Destroy_Task:p=0.05:lost",
                                  "InstantClone_Task:p=0.03:task:InvalidState",
                                  "RetrievePropertiesEx:p=0.02:drop",
                                  "CreateFolder:p=0.05:http503"};
  for (int minute = 1; Running(); ++minute) {
    Pause(40'000);
    if (!Running()) break;
    for (const char* fault : kFaults) (void)sim_.InjectFault(fault);
    ++counters_.fault_windows;
    Pause(20'000);
    (void)sim_.ClearFaults();
    if (minute % 5 == 0 && sim_.ExpireSessions().ok()) ++counters_.expiries;
  }
}

void Soak::Report(SteadyClock::time_point start) {
  long last_calls = 0;  // NOLINT(google-runtime-int)
  long last_ticks = 0;  // NOLINT(google-runtime-int)
  if (auto stats = sim_.SoapStats(); stats.ok()) {
    for (const auto& [method, count] : *stats) last_calls += count;
  }
  std::printf("%8s %8s %6s %8s %6s %8s %6s %8s %6s %10s %6s %9s %9s\n", "minutes", "creates",
              "errs", "terms", "errs", "tags", "errs", "ticks", "errs", "calls/tick", "nodes",
              "rss_kb", "heap_kb");
  while (Running()) {
    Pause(flags_.report_every * 1000);
    long calls = 0;  // NOLINT(google-runtime-int)
    if (auto stats = sim_.SoapStats(); stats.ok()) {
      for (const auto& [method, count] : *stats) calls += count;
    }
    const long ticks = counters_.ticks;  // NOLINT(google-runtime-int)
    const double per_tick = ticks > last_ticks ? static_cast<double>(calls - last_calls) /
                                                     static_cast<double>(ticks - last_ticks)
                                               : 0.0;
    last_calls = calls;
    last_ticks = ticks;
    const double minutes = std::chrono::duration<double>(SteadyClock::now() - start).count() / 60.0;
    const long rss = RssKb();         // NOLINT(google-runtime-int)
    const long long heap = HeapKb();  // NOLINT(google-runtime-int)
    if (start_rss_kb < 0) {
      start_rss_kb = rss;
      start_heap_kb = heap;
    }
    end_rss_kb = rss;
    end_heap_kb = heap;
    std::printf("%8.1f %8ld %6ld %8ld %6ld %8ld %6ld %8ld %6ld %10.2f %6d %9ld %9lld\n", minutes,
                counters_.creates.load(), counters_.create_errors.load(),
                counters_.terminates.load(), counters_.terminate_errors.load(),
                counters_.tag_writes.load(), counters_.tag_errors.load(), ticks,
                counters_.tick_errors.load(), per_tick, counters_.nodes.load(), rss, heap);
    std::fflush(stdout);
  }
}

void Soak::Run() {
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  threads.emplace_back([this] { Scaler(); });
  threads.emplace_back([this] { Tagger(); });
  threads.emplace_back([this] { Lister(); });
  threads.emplace_back([this] { Lister(); });
  threads.emplace_back([this] { Chaos(); });
  Report(start);
  for (auto& thread : threads) thread.join();
  (void)sim_.ClearFaults();
  std::printf("fault windows %ld, session expiries %ld\n", counters_.fault_windows.load(),
              counters_.expiries.load());
}

struct Figures {
  long start_rss_kb = -1;                          // NOLINT(google-runtime-int)
  long end_rss_kb = -1;                            // NOLINT(google-runtime-int)
  long long start_heap_kb = -1, end_heap_kb = -1;  // NOLINT(google-runtime-int)
};

// The soak on one provider, then its tear-down (every node terminated).
[[gnu::noinline]] vsray::Status RunSoak(SimProcess& sim, const ProviderOptions& options,
                                        const Flags& flags, Figures& figures) {
  auto provider = NodeProvider::Create(options, "soak");
  if (!provider.ok()) return provider.status();
  NodeProvider& soaked = **provider;
  Soak soak(sim, soaked, flags);
  soak.Run();
  figures = {soak.start_rss_kb, soak.end_rss_kb, soak.start_heap_kb, soak.end_heap_kb};
  auto all = soaked.AllNodes();
  return all.ok() ? soaked.TerminateNodes(*all) : all.status();
}

// An independent count of what is left after tear-down: a fresh provider's listing.
[[gnu::noinline]] vsray::StatusOr<std::size_t> CountLeft(ProviderOptions options) {
  options.watch = false;
  auto fresh = NodeProvider::Create(options, "soak");
  if (!fresh.ok()) return fresh.status();
  NodeProvider& provider = **fresh;
  auto left = provider.AllNodes();
  if (!left.ok()) return left.status();
  return left->size();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const auto exit_code = ParseFlags(argc, argv, &flags)) return *exit_code;
  auto sim =
      SimProcess::Start({"--hosts", "3", "--vms", "10", "--frozen-vm", "frozen", "--guest-ip-delay",
                         "100ms", "--latency", "2ms", "--seed", std::to_string(flags.seed)});
  if (!sim.ok()) {
    std::fprintf(stderr, "vsray-sim: %s\n", sim.status().ToString().c_str());
    return 1;
  }
  SimProcess& simulator = **sim;
  ProviderOptions options;
  options.connect = simulator.Connect();
  options.frozen_vm.name = "frozen";
  options.max_concurrency = 8;
  options.watch = true;
  options.node_resync_interval = std::chrono::seconds(60);
  std::printf("soak: %.1f minutes, report every %d s, up to %d nodes, seed %u\n", flags.minutes,
              flags.report_every, flags.max_nodes, flags.seed);
  Figures figures;
  const vsray::Status down = RunSoak(simulator, options, flags, figures);
  const auto left = CountLeft(options);
  std::printf(
      "memory: rss %ld kB at start (after warm-up), %ld kB at the end; heap %lld kB -> "
      "%lld kB\n",
      figures.start_rss_kb, figures.end_rss_kb, figures.start_heap_kb, figures.end_heap_kb);
  std::printf("tear-down: %s; nodes left: %s\n", down.ok() ? "ok" : down.ToString().c_str(),
              left.ok() ? std::to_string(*left).c_str() : left.status().ToString().c_str());
  return left.ok() && *left == 0 ? 0 : 1;
}
