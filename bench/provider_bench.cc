// Node provider benchmarks against vsray-sim. Each scenario prints wall time, vCenter calls
// (counted by the simulator) and, where the issue defines one, the ideal.
//   tick      non_terminated_nodes + node_tags + external_ip for every node of a 200-node
//             cluster in a ~2,000-VM inventory (steady state and cold listing)
//   scaleup   create_node(count=50) with 10 ms per call and 500 ms per instant clone
//   teardown  terminate_nodes of those 50 (200 ms per power-off and per destroy task)
//   memory    heap and resident memory of a provider with a 1,000-node cluster cached
// Usage: vsray_bench_provider [tick|scaleup|teardown|memory ...]   (default: all)
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "memory.h"
#include "provider/node_provider.h"
#include "support/sim_process.h"

namespace {

using vsray::bench::HeapInUse;
using vsray::bench::RssKb;
using vsray::provider::NodeProvider;
using vsray::provider::ProviderOptions;
using vsray::provider::TagMap;
using vsray::testing::SimProcess;
using Clock = std::chrono::steady_clock;

const TagMap kWorkerTags = {{"ray-node-type", "worker"},
                            {"ray-user-node-type", "cpu_worker"},
                            {"ray-node-status", "uninitialized"},
                            {"ray-launch-config", "abc123"}};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::unique_ptr<SimProcess> Sim(std::vector<std::string> args) {
  auto sim = SimProcess::Start(args);
  if (!sim.ok()) {
    std::fprintf(stderr, "vsray-sim: %s\n", sim.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(sim).value();
}

std::unique_ptr<NodeProvider> Provider(SimProcess& sim, int concurrency, bool watch,
                                       const std::string& cluster = "bench") {
  ProviderOptions options;
  options.connect = sim.Connect();
  options.frozen_vm.name = "frozen";
  options.max_concurrency = concurrency;
  options.watch = watch;
  auto provider = NodeProvider::Create(std::move(options), cluster);
  if (!provider.ok()) {
    std::fprintf(stderr, "provider: %s\n", provider.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(provider).value();
}

struct Calls {
  int total = 0;
  int long_polls = 0;
  std::string detail;
};

Calls Count(SimProcess& sim) {
  Calls calls;
  auto stats = sim.SoapStats();
  if (!stats.ok()) return calls;
  for (const auto& [method, n] : *stats) {
    if (method == "WaitForUpdatesEx") {
      calls.long_polls += n;
      continue;
    }
    calls.total += n;
    calls.detail += " " + method + "=" + std::to_string(n);
  }
  return calls;
}

void CreateMany(NodeProvider& provider, int count) {
  int left = count;
  while (left > 0) {
    const int batch = std::min(left, 100);
    auto result = provider.CreateNode({}, kWorkerTags, batch);
    if (!result.ok()) {
      std::fprintf(stderr, "create: %s\n", result.status().ToString().c_str());
      std::exit(1);
    }
    left -= static_cast<int>(result->created.size());
  }
}

void WaitForIps(NodeProvider& provider, std::size_t expected) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < deadline) {
    auto ids = provider.NonTerminatedNodes({});
    std::size_t with_ip = 0;
    if (ids.ok()) {
      for (const auto& id : *ids) with_ip += provider.ExternalIp(id).has_value() ? 1U : 0U;
    }
    if (with_ip >= expected) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Tick() {
  constexpr int kNodes = 200;
  auto sim =
      Sim({"--hosts", "10", "--vms", "1800", "--frozen-vm", "frozen", "--guest-ip-delay", "0s"});
  auto provider = Provider(*sim, 16, true);
  const auto create_start = Clock::now();
  CreateMany(*provider, kNodes);
  WaitForIps(*provider, kNodes);
  const double setup_ms = Ms(Clock::now() - create_start);

  // Cold: a one-shot provider (CLI) starting up, then listing the cluster.
  (void)sim->ResetStats();
  const auto cold_start = Clock::now();
  auto cold = Provider(*sim, 8, false);
  const double start_ms = Ms(Clock::now() - cold_start);
  const Calls start_calls = Count(*sim);
  (void)sim->ResetStats();
  const auto list_start = Clock::now();
  auto listed = cold->NonTerminatedNodes({});
  const double list_ms = Ms(Clock::now() - list_start);
  const Calls list_calls = Count(*sim);

  // Steady state: the autoscaler's tick against the watching provider.
  constexpr int kTicks = 1000;
  std::vector<double> ticks;
  ticks.reserve(kTicks);
  (void)sim->ResetStats();
  std::size_t seen = 0;
  std::size_t answers = 0;  // keeps the reads from being optimised away
  for (int i = 0; i < kTicks; ++i) {
    const auto t0 = Clock::now();
    auto ids = provider->NonTerminatedNodes({});
    for (const auto& id : *ids) {
      auto tags = provider->NodeTags(id);
      auto ip = provider->ExternalIp(id);
      answers += tags.size() + (ip ? 1U : 0U);
    }
    ticks.push_back(Ms(Clock::now() - t0));
    seen = ids->size();
  }
  const Calls tick_calls = Count(*sim);
  std::sort(ticks.begin(), ticks.end());
  double sum = 0;
  for (double t : ticks) sum += t;
  std::printf(
      "tick      nodes=%d inventory=%d VMs  steady: mean=%.3f ms p50=%.3f ms p99=%.3f ms over %d "
      "ticks (%zu answers), vCenter calls=%d (watcher long polls meanwhile: %d)\n",
      static_cast<int>(seen), sim->ready()["inventory"]["vms"].get<int>() + kNodes, sum / kTicks,
      ticks[kTicks / 2], ticks[kTicks * 99 / 100], kTicks, answers, tick_calls.total,
      tick_calls.long_polls);
  std::printf(
      "tick      cold listing (no watcher): %zu nodes in %.1f ms, %d round trip(s):%s; "
      "provider start-up before it: %.1f ms, %d calls:%s\n",
      listed.ok() ? listed->size() : 0, list_ms, list_calls.total, list_calls.detail.c_str(),
      start_ms, start_calls.total, start_calls.detail.c_str());
  std::printf("tick      (set-up: 200 nodes created and addressed in %.1f s)\n", setup_ms / 1000);
}

void ScaleUpAndTeardown(bool scaleup, bool teardown) {
  constexpr int kNodes = 50;
  constexpr int kConcurrency = 8;
  constexpr double kCallMs = 10;
  constexpr double kCloneMs = 500;
  constexpr double kPowerOffMs = 200;
  constexpr double kDestroyMs = 200;
  auto sim = Sim({"--hosts", "3", "--vms", "3", "--frozen-vm", "frozen", "--latency", "10ms",
                  "--task-duration", "InstantClone_Task=500ms", "--task-duration",
                  "PowerOffVM_Task=200ms", "--task-duration", "Destroy_Task=200ms"});
  auto provider = Provider(*sim, kConcurrency, true);
  const double rounds = std::ceil(static_cast<double>(kNodes) / kConcurrency);
  (void)sim->ResetStats();
  const auto t0 = Clock::now();
  auto created = provider->CreateNode({}, kWorkerTags, kNodes);
  const double wall = Ms(Clock::now() - t0);
  if (!created.ok()) {
    std::fprintf(stderr, "create: %s\n", created.status().ToString().c_str());
    std::exit(1);
  }
  const Calls calls = Count(*sim);
  const double per_node = static_cast<double>(calls.total) / kNodes;
  const double ideal = rounds * (kCloneMs + per_node * kCallMs);
  if (scaleup) {
    std::printf(
        "scaleup   create_node(count=%d), concurrency %d: wall=%.0f ms ideal=%.0f ms "
        "(ceil(%d/%d) x (%.0f ms clone + %.1f calls x %.0f ms)) ratio=%.2f; calls=%d "
        "(%.1f per node):%s; long polls=%d; created=%zu failed=%zu\n",
        kNodes, kConcurrency, wall, ideal, kNodes, kConcurrency, kCloneMs, per_node, kCallMs,
        wall / ideal, calls.total, per_node, calls.detail.c_str(), calls.long_polls,
        created->created.size(), created->failures.size());
  }
  if (!teardown) return;
  auto ids = provider->NonTerminatedNodes({});
  (void)sim->ResetStats();
  const auto t1 = Clock::now();
  auto status = provider->TerminateNodes(*ids);
  const double down = Ms(Clock::now() - t1);
  const Calls down_calls = Count(*sim);
  const double down_per_node = static_cast<double>(down_calls.total) / kNodes;
  const double down_ideal = rounds * (kPowerOffMs + kDestroyMs + down_per_node * kCallMs);
  std::printf(
      "teardown  terminate_nodes(%d), concurrency %d: wall=%.0f ms ideal=%.0f ms (ceil(%d/%d) x "
      "(%.0f + %.0f ms tasks + %.1f calls x %.0f ms)) ratio=%.2f; calls=%d (%.1f per node):%s; "
      "long polls=%d; %s\n",
      kNodes, kConcurrency, down, down_ideal, kNodes, kConcurrency, kPowerOffMs, kDestroyMs,
      down_per_node, kCallMs, down / down_ideal, down_calls.total, down_per_node,
      down_calls.detail.c_str(), down_calls.long_polls,
      status.ok() ? "ok" : status.ToString().c_str());
}

void Memory() {
  constexpr int kNodes = 1000;
  auto sim = Sim({"--hosts", "8", "--vms", "8", "--frozen-vm", "frozen", "--guest-ip-delay", "0s"});
  {
    auto creator = Provider(*sim, 32, false);
    const auto t0 = Clock::now();
    CreateMany(*creator, kNodes);
    std::printf("memory    (set-up: %d nodes created in %.1f s)\n", kNodes,
                Ms(Clock::now() - t0) / 1000);
  }
  const long long live_before = HeapInUse();  // NOLINT(google-runtime-int)
  const long rss_before = RssKb();            // NOLINT(google-runtime-int)
  auto provider = Provider(*sim, 8, true);
  WaitForIps(*provider, kNodes);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long long live_after = HeapInUse();  // NOLINT(google-runtime-int)
  const long rss_after = RssKb();            // NOLINT(google-runtime-int)
  std::printf(
      "memory    %zu nodes cached: heap in use +%.2f MB (%.0f bytes/node), resident +%.1f MB "
      "(process RSS %.1f MB)\n",
      provider->cache().size(), static_cast<double>(live_after - live_before) / 1e6,
      static_cast<double>(live_after - live_before) / static_cast<double>(kNodes),
      static_cast<double>(rss_after - rss_before) / 1024.0,
      static_cast<double>(rss_after) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> which(argv + 1, argv + argc);
  auto wanted = [&](const char* name) {
    return which.empty() || std::find(which.begin(), which.end(), name) != which.end();
  };
  if (wanted("tick")) Tick();
  if (wanted("scaleup") || wanted("teardown")) {
    ScaleUpAndTeardown(wanted("scaleup"), wanted("teardown"));
  }
  if (wanted("memory")) Memory();
  return 0;
}
