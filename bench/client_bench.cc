// vSphere client benchmark against vsray-sim:
//  - decode time and memory of a RetrievePropertiesEx reply listing N VMs (name, power state,
//    host, guest.net, customValue), for each N given (default 1000 and 5000);
//  - vCenter round trips per client operation, counted by the simulator.
// Usage: vsray_bench_client [N ...]
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "memory.h"
#include "support/sim_process.h"
#include "vsphere/session.h"
#include "vsphere/soap.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"

namespace {

using vsray::StatusOr;
namespace vs = vsray::vsphere;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Keeps the last response body so the decoder can be timed on its own.
class RecordingTransport : public vs::HttpTransport {
 public:
  explicit RecordingTransport(std::unique_ptr<vs::HttpTransport> inner)
      : inner_(std::move(inner)) {}
  StatusOr<vs::HttpResponse> Send(const vs::HttpRequest& request) override {
    auto response = inner_->Send(request);
    if (response.ok()) {
      std::lock_guard lock(mu_);
      last_ = response->body;
    }
    return response;
  }
  std::string last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  std::unique_ptr<vs::HttpTransport> inner_;
  std::mutex mu_;
  std::string last_;
};

int DecodeScenario(int vms) {
  const auto start = Clock::now();
  auto sim = vsray::testing::SimProcess::Start(
      {"--hosts", "8", "--vms", std::to_string(vms), "--guest-ip-delay", "0s"});
  if (!sim.ok()) {
    std::fprintf(stderr, "sim: %s\n", sim.status().ToString().c_str());
    return 1;
  }
  const double start_ms = Ms(Clock::now() - start);
  auto options = (*sim)->Connect();
  auto curl = vs::MakeCurlTransport(options.tls);
  if (!curl.ok()) return 1;
  auto recording = std::make_shared<RecordingTransport>(std::move(curl).value());
  options.transport = recording;
  options.keepalive_interval = std::chrono::milliseconds(0);
  auto session = vs::Session::Connect(options);
  if (!session.ok()) {
    std::fprintf(stderr, "connect: %s\n", session.status().ToString().c_str());
    return 1;
  }
  vs::Vim vim(**session, (*session)->content());
  auto view = vim.CreateContainerView((*session)->content().root_folder, {"VirtualMachine"}, true);
  if (!view.ok()) return 1;
  const auto filter = vs::ContainerViewFilter(
      *view, {{"VirtualMachine",
               {"name", "runtime.powerState", "runtime.host", "guest.net", "customValue"}}});
  const auto fetch_start = Clock::now();
  auto listed = vim.RetrieveProperties(filter);
  const double fetch_ms = Ms(Clock::now() - fetch_start);
  if (!listed.ok()) return 1;
  const std::string body = recording->last();

  constexpr int kRounds = 5;
  double best_ms = 1e18;
  long long peak_bytes = 0;  // NOLINT(google-runtime-int)
  std::size_t objects = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::int64_t heap_before = vsray::bench::HeapInUse();
    const auto t0 = Clock::now();
    auto reply = vs::DecodeSoapResponse(body, "RetrievePropertiesEx");
    std::vector<vs::ObjectContent> contents;
    if (reply.ok()) {
      for (const auto* o : reply->Path("returnval")->All("objects")) {
        contents.push_back(vs::DecodeObjectContent(*o));
      }
    }
    const double ms = Ms(Clock::now() - t0);
    // What the decoded listing holds (the XML tree is freed by now).
    peak_bytes = vsray::bench::HeapInUse() - heap_before;
    best_ms = std::min(best_ms, ms);
    objects = contents.size();
  }
  std::printf(
      "decode  vms=%-5d reply=%7.2f MB  objects=%zu  decode=%8.2f ms (best of %d, %6.1f MB/s)"
      "  decoded=%7.2f MB (%.0f B/VM)  fetch+decode=%8.2f ms  sim-start=%7.0f ms  "
      "sim-rss=%ld MB\n",
      vms, static_cast<double>(body.size()) / 1e6, objects, best_ms, kRounds,
      static_cast<double>(body.size()) / 1e6 / (best_ms / 1000.0),
      static_cast<double>(peak_bytes) / 1e6,
      static_cast<double>(peak_bytes) / static_cast<double>(std::max<std::size_t>(objects, 1)),
      fetch_ms, start_ms, vsray::bench::RssKb(std::to_string((*sim)->pid())) / 1024);
  return 0;
}

int RoundTrips() {
  auto sim = vsray::testing::SimProcess::Start(
      {"--hosts", "2", "--vms", "4", "--frozen-vm", "frozen", "--guest-ip-delay", "0s"});
  if (!sim.ok()) return 1;
  auto& s = **sim;
  auto count = [&](const char* what, const std::function<void()>& op) {
    (void)s.ResetStats();
    op();
    auto stats = s.SoapStats();
    if (!stats.ok()) return;
    int total = 0;
    int waits = 0;
    std::string detail;
    for (const auto& [method, n] : *stats) {
      if (method == "WaitForUpdatesEx") {
        waits += n;
        continue;
      }
      total += n;
      detail += " " + method + "=" + std::to_string(n);
    }
    std::printf("calls   %-34s %2d round trips (+%d task-watch long polls):%s\n", what, total,
                waits, detail.c_str());
  };
  std::shared_ptr<vs::Session> session;
  auto options = s.Connect();
  options.keepalive_interval = std::chrono::milliseconds(0);
  count("connect (service content + login)", [&] {
    auto connected = vs::Session::Connect(options);
    if (connected.ok()) session = *connected;
  });
  if (!session) return 1;
  vs::Vim vim(*session, session->content());
  vs::TaskWaiter waiter(session);
  const vs::MoRef frozen{"VirtualMachine",
                         s.ready()["inventory"]["frozen_vms"][0]["id"].get<std::string>()};
  count("FindByInventoryPath", [&] { (void)vim.FindByInventoryPath("DC0/vm"); });
  count("FindByName (VM)", [&] { (void)vim.FindByName("VirtualMachine", "frozen"); });
  vs::MoRef clone;
  count("InstantClone_Task + wait (warm-up)", [&] {
    vs::InstantCloneSpec spec;
    spec.name = "warm";
    auto task = vim.InstantCloneTask(frozen, spec);
    if (task.ok()) (void)waiter.Wait(*task, std::chrono::seconds(30));
  });
  count("InstantClone_Task + wait", [&] {
    vs::InstantCloneSpec spec;
    spec.name = "clone";
    auto task = vim.InstantCloneTask(frozen, spec);
    if (!task.ok()) return;
    auto result = waiter.Wait(*task, std::chrono::seconds(30));
    if (result.ok()) clone = result->AsMoRef();
  });
  count("ReconfigVM_Task (cpu, memory) + wait", [&] {
    vs::ConfigSpec spec;
    spec.num_cpus = 2;
    spec.memory_mb = 2048;
    auto task = vim.ReconfigVmTask(clone, spec);
    if (task.ok()) (void)waiter.Wait(*task, std::chrono::seconds(30));
  });
  count("SetField", [&] {
    auto key = vim.AddCustomFieldDef("bench", "VirtualMachine");
    (void)s.ResetStats();
    if (key.ok()) (void)vim.SetField(clone, *key, "v");
  });
  count("PowerOffVM_Task + wait", [&] {
    auto task = vim.PowerOffVmTask(clone);
    if (task.ok()) (void)waiter.Wait(*task, std::chrono::seconds(30));
  });
  count("Destroy_Task + wait", [&] {
    auto task = vim.DestroyTask(clone);
    if (task.ok()) (void)waiter.Wait(*task, std::chrono::seconds(30));
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));  // NOLINT(cert-err34-c)
  if (sizes.empty()) sizes = {1000, 5000};
  int rc = 0;
  for (const int n : sizes) rc |= DecodeScenario(n);
  rc |= RoundTrips();
  return rc;
}
