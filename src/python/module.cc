// vsray._vsray: the C++ core for Python. bootstrap_config, the Provider class (Ray's
// NodeProvider operations over the shared provider of a provider dict and cluster), and the
// exceptions Status errors become. Dicts cross as JSON. Calls that may wait on vCenter release
// the GIL, so the autoscaler's threads run them in parallel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cli/main.h"
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/status.h"
#include "config/bootstrap.h"
#include "config/cluster_config.h"
#include "config/ray_hash.h"
#include "provider/node_provider.h"
#include "provider/tags.h"
#include "python/provider_registry.h"

namespace py = pybind11;
using nlohmann::json;

namespace vsray::python {
namespace {

// A non-OK Status on its way to Python.
class StatusException : public std::exception {
 public:
  explicit StatusException(Status status) : status_(std::move(status)) {}
  const Status& status() const { return status_; }
  const char* what() const noexcept override { return status_.message().c_str(); }

 private:
  Status status_;
};

void ThrowIfError(const Status& status) {
  if (!status.ok()) throw StatusException(status);
}

template <typename T>
T ValueOrThrow(StatusOr<T> result) {
  if (!result.ok()) throw StatusException(result.status());
  return std::move(result).value();
}

// The exception classes; owned by the module object (which outlives every call).
PyObject* vsphere_error = nullptr;
PyObject* config_error = nullptr;

// The fault name, or None.
py::object FaultOf(const Status& status) {
  if (status.fault().empty()) return py::none();
  return py::str(status.fault());
}

void RaiseStatus(const Status& status) {
  // Config errors are ValueErrors (what Ray's own config checks raise); everything else,
  // vCenter faults included, is a VsphereError carrying the code and the fault name.
  const bool config = status.code() == StatusCode::kInvalidArgument && status.fault().empty();
  PyObject* type = config ? config_error : vsphere_error;
  std::string text = status.message();
  if (!status.fault().empty() && text.find(status.fault()) == std::string::npos) {
    text += " [fault=" + status.fault() + "]";
  }
  py::object error = py::reinterpret_borrow<py::object>(type)(text);
  error.attr("code") = std::string(StatusCodeName(status.code()));
  error.attr("fault") = FaultOf(status);
  error.attr("message") = status.message();
  PyErr_SetObject(type, error.ptr());
}

// Python object -> JSON through the json module (what Ray's dicts are made of).
json ToJson(const py::handle& object) {
  const auto text = py::module_::import("json").attr("dumps")(object).cast<std::string>();
  return json::parse(text);
}

py::object FromJson(const json& value) {
  return py::module_::import("json").attr("loads")(value.dump());
}

py::dict NodeToDict(const provider::Node& node) {
  py::dict out;
  out["id"] = node.id;
  out["name"] = node.name;
  out["power_state"] = node.power_state;
  out["host"] = node.host;
  py::list nics;
  for (const provider::NicInfo& nic : node.nics) {
    py::dict entry;
    entry["network"] = nic.network;
    entry["mac"] = nic.mac;
    entry["connected"] = nic.connected;
    entry["addresses"] = nic.addresses;
    nics.append(entry);
  }
  out["nics"] = nics;
  return out;
}

// The Python Provider: a handle on a shared provider.
class PyProvider {
 public:
  explicit PyProvider(std::shared_ptr<SharedProvider> shared) : shared_(std::move(shared)) {}
  ~PyProvider() {
    // The last handle stops the watcher and joins its thread, which may wait on vCenter.
    py::gil_scoped_release release;
    shared_.reset();
  }
  PyProvider(const PyProvider&) = delete;
  PyProvider& operator=(const PyProvider&) = delete;
  PyProvider(PyProvider&&) = delete;
  PyProvider& operator=(PyProvider&&) = delete;

  provider::NodeProvider& get() const { return *shared_->provider; }
  const config::VsphereConfig& vsphere() const { return shared_->vsphere; }
  const SharedProvider* shared() const { return shared_.get(); }
  std::shared_ptr<SharedProvider> share() const { return shared_; }

 private:
  std::shared_ptr<SharedProvider> shared_;
};

std::unique_ptr<PyProvider> NewProvider(const py::dict& provider_config,
                                        const std::string& cluster_name) {
  const json config = ToJson(provider_config);
  StatusOr<std::shared_ptr<SharedProvider>> shared = InvalidArgumentError("unset");
  {
    py::gil_scoped_release release;
    shared = ProviderRegistry::Global().Get(config, cluster_name);
  }
  return std::make_unique<PyProvider>(ValueOrThrow(std::move(shared)));
}

provider::TagMap ToTags(const py::dict& tags) {
  provider::TagMap out;
  for (const auto& [key, value] : tags) {
    out[py::str(key).cast<std::string>()] = py::str(value).cast<std::string>();
  }
  return out;
}

py::dict CreateNodes(const PyProvider& self, const py::handle& node_config, const py::dict& tags,
                     int count) {
  const json config_json = node_config.is_none() ? json() : ToJson(node_config);
  const provider::TagMap tag_map = ToTags(tags);
  StatusOr<provider::CreateResult> result = provider::CreateResult{};
  {
    py::gil_scoped_release release;
    StatusOr<config::NodeConfig> parsed = config::ParseNodeConfig(config_json, self.vsphere());
    if (!parsed.ok()) {
      result = parsed.status();
    } else if (count > 0) {
      result =
          self.get().CreateNode(cluster::MakeNodeSpec(*parsed, self.vsphere()), tag_map, count);
    }
  }
  provider::CreateResult created = ValueOrThrow(std::move(result));
  py::dict out;
  py::list nodes;
  for (const provider::CreatedNode& node : created.created) {
    py::dict entry;
    entry["id"] = node.id;
    entry["name"] = node.name;
    entry["host"] = node.host;
    nodes.append(entry);
  }
  py::list failures;
  for (const Status& failure : created.failures) {
    py::dict entry;
    entry["code"] = std::string(StatusCodeName(failure.code()));
    entry["message"] = failure.message();
    entry["fault"] = FaultOf(failure);
    failures.append(entry);
  }
  out["created"] = nodes;
  out["failures"] = failures;
  return out;
}

// The tag vocabulary (provider/tags.h) under Ray's constant names, for vsray.ray_provider.
void AddVocabulary(py::module_& m) {
  namespace p = vsray::provider;
  py::dict tags;
  tags["TAG_RAY_NODE_NAME"] = p::kTagRayNodeName;
  tags["TAG_RAY_NODE_KIND"] = p::kTagRayNodeKind;
  tags["TAG_RAY_USER_NODE_TYPE"] = p::kTagRayUserNodeType;
  tags["TAG_RAY_NODE_STATUS"] = p::kTagRayNodeStatus;
  tags["TAG_RAY_CLUSTER_NAME"] = p::kTagRayClusterName;
  tags["TAG_RAY_LAUNCH_CONFIG"] = p::kTagRayLaunchConfig;
  tags["TAG_RAY_RUNTIME_CONFIG"] = p::kTagRayRuntimeConfig;
  tags["TAG_RAY_FILE_MOUNTS_CONTENTS"] = p::kTagRayFileMountsContents;
  tags["TAG_RAY_LAUNCH_REQUEST"] = p::kTagRayLaunchRequest;
  tags["TAG_RAY_REPLICA_INDEX"] = p::kTagRayReplicaIndex;
  tags["NODE_KIND_HEAD"] = p::kNodeKindHead;
  tags["NODE_KIND_WORKER"] = p::kNodeKindWorker;
  tags["NODE_KIND_UNMANAGED"] = p::kNodeKindUnmanaged;
  tags["NODE_TYPE_LEGACY_HEAD"] = p::kNodeTypeLegacyHead;
  tags["NODE_TYPE_LEGACY_WORKER"] = p::kNodeTypeLegacyWorker;
  tags["STATUS_UNINITIALIZED"] = p::kRayStatusUninitialized;
  tags["STATUS_WAITING_FOR_SSH"] = p::kRayStatusWaitingForSsh;
  tags["STATUS_SYNCING_FILES"] = p::kRayStatusSyncingFiles;
  tags["STATUS_SETTING_UP"] = p::kRayStatusSettingUp;
  tags["STATUS_UPDATE_FAILED"] = p::kRayStatusUpdateFailed;
  tags["STATUS_UP_TO_DATE"] = p::kRayStatusUpToDate;
  tags["TAG_VSRAY_NODE_STATUS"] = p::kTagVsrayNodeStatus;
  tags["VSRAY_STATUS_CREATING"] = p::kVsrayStatusCreating;
  tags["VSRAY_STATUS_CREATED"] = p::kVsrayStatusCreated;
  m.attr("TAGS") = tags;
}

// One listed node: (id, tags, internal_ip, external_ip).
using ListedNode = std::tuple<std::string, provider::TagMap, std::optional<std::string>,
                              std::optional<std::string>>;

// The nodes matching `filters`, each with its tags and IPs, read in one pass over the cache,
// and the cache version they were read at: (version, [ListedNode...]).
std::pair<std::uint64_t, std::vector<ListedNode>> ListNodes(const PyProvider& self,
                                                            const py::dict& tag_filters) {
  const provider::TagMap filters = ToTags(tag_filters);
  StatusOr<std::vector<provider::ListedNode>> nodes = std::vector<provider::ListedNode>{};
  std::uint64_t version = 0;
  {
    py::gil_scoped_release unlocked;
    nodes = self.get().ListNodes(filters, &version);
  }
  ThrowIfError(nodes.status());
  std::vector<ListedNode> listed;
  listed.reserve(nodes->size());
  for (provider::ListedNode& node : *nodes) {
    listed.emplace_back(std::move(node.id), std::move(node.tags), std::move(node.internal_ip),
                        std::move(node.external_ip));
  }
  return {version, std::move(listed)};
}

void DefineExceptions(py::module_& m) {
  vsphere_error = PyErr_NewExceptionWithDoc(
      "vsray._vsray.VsphereError",
      "A vsray error: .code (e.g. 'NOT_FOUND'), .fault (the vSphere fault name or None), "
      ".message.",
      PyExc_Exception, nullptr);
  const py::tuple config_bases =
      py::make_tuple(py::handle(vsphere_error), py::handle(PyExc_ValueError));
  config_error = PyErr_NewExceptionWithDoc(
      "vsray._vsray.ConfigError",
      "An invalid cluster, provider or node config; the message names the YAML path.",
      config_bases.ptr(), nullptr);
  m.add_object("VsphereError", py::handle(vsphere_error));
  m.add_object("ConfigError", py::handle(config_error));
  // pybind11 takes translators as void(*)(std::exception_ptr): the by-value parameter is fixed.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const StatusException& e) {
      RaiseStatus(e.status());
    } catch (const nlohmann::json::exception& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}

py::object BootstrapConfig(const py::dict& cluster_config) {
  const json config = ToJson(cluster_config);
  StatusOr<json> result = InvalidArgumentError("unset");
  {
    py::gil_scoped_release unlocked;
    result = config::BootstrapConfigJson(config, config::BootstrapOptions{});
  }
  return FromJson(ValueOrThrow(std::move(result)));
}

py::object ParseProviderConfig(const py::dict& provider_config, const std::string& cluster_name) {
  const json config = ToJson(provider_config);
  config::LoadOptions load;
  load.source_name = "provider_config";
  load.check_local_files = false;
  auto parsed = config::ParseProviderConfig(config, cluster_name, load);
  return FromJson(ValueOrThrow(std::move(parsed)).ToJson(/*redact=*/true));
}

// While the command line runs, SIGINT does to this process what it does to the binary (kills
// it, or cancels where a command watches for it) instead of setting Python's flag, which nobody
// reads until the command line returns.
class DefaultSigint {
 public:
  DefaultSigint() {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;  // NOLINT(cppcoreguidelines-pro-type-union-access)
    sigemptyset(&action.sa_mask);
    restore_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
  ~DefaultSigint() {
    if (restore_) sigaction(SIGINT, &previous_, nullptr);
  }
  DefaultSigint(const DefaultSigint&) = delete;
  DefaultSigint& operator=(const DefaultSigint&) = delete;

 private:
  struct sigaction previous_ {};
  bool restore_ = false;
};

// The `vsray` console script: the same command line as the binary, on this process's stdio.
int RunCommandLine(std::vector<std::string> argv) {
  const DefaultSigint sigint;
  if (argv.empty()) argv.emplace_back("vsray");
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (std::string& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  const int code = cli::Main(static_cast<int>(argv.size()), pointers.data());
  std::cout.flush();
  std::cerr.flush();
  return code;
}

void DefineFunctions(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("bootstrap_config", &BootstrapConfig, py::arg("cluster_config"),
        "Validates a Ray cluster config and completes it (key pair, defaults, credentials from "
        "VSPHERE_*). Raises ConfigError naming the YAML path.");
  m.def("parse_provider_config", &ParseProviderConfig, py::arg("provider_config"),
        py::arg("cluster_name"),
        "Checks a provider dict; returns vsphere_config with defaults (password redacted).");
  m.def("set_log_level", &SetLogLevel, py::arg("level"),
        "trace, debug, info, warn (default), error or off.");
  m.def(
      "_live_providers", [] { return ProviderRegistry::Global().size(); }, release());
  m.def("main", &RunCommandLine, py::arg("argv"), release(),
        "Runs the vsray command line (argv[0] is the program name); returns its exit code.");
  // For tests against Python's own json module and Ray's hash_launch_conf.
  m.def(
      "_python_json_dumps",
      [](const py::handle& value) { return config::PythonJsonDumps(ToJson(value)); },
      py::arg("value"));
  m.def(
      "_ray_launch_hash",
      [](const py::handle& node_config, const py::dict& auth) {
        return ValueOrThrow(config::RayLaunchHash(ToJson(node_config), ToJson(auth)));
      },
      py::arg("node_config"), py::arg("auth"));
}

py::object GetNodeDict(const PyProvider& self, const std::string& id) {
  std::optional<provider::Node> node;
  {
    py::gil_scoped_release unlocked;
    node = self.get().GetNode(id);
  }
  if (!node) return py::none();
  return NodeToDict(*node);
}

using ProviderClass = py::class_<PyProvider>;

// The cache's version word, exported read-only as a buffer of one native uint64, so that
// Python reads cache_version() without a call (memoryview(word)[0], about 40 ns against
// 200 ns for the call): an autoscaler tick checks it once per node and question. Keeps the
// provider alive while a view of it exists.
class CacheVersionWord {
 public:
  explicit CacheVersionWord(std::shared_ptr<SharedProvider> owner) : owner_(std::move(owner)) {}
  ~CacheVersionWord() {
    py::gil_scoped_release release;  // as ~PyProvider: the last handle joins the watcher
    owner_.reset();
  }
  CacheVersionWord(const CacheVersionWord&) = delete;
  CacheVersionWord& operator=(const CacheVersionWord&) = delete;
  CacheVersionWord(CacheVersionWord&&) = delete;
  CacheVersionWord& operator=(CacheVersionWord&&) = delete;

  py::buffer_info Buffer() const {
    const std::atomic<std::uint64_t>& word = owner_->provider->CacheVersionWord();
    static_assert(sizeof(word) == sizeof(std::uint64_t));
    // The buffer is read-only: the const_cast only fits buffer_info's signature.
    return {const_cast<std::atomic<std::uint64_t>*>(&word),
            sizeof(std::uint64_t),
            py::format_descriptor<std::uint64_t>::format(),
            1,
            {py::ssize_t{1}},
            {py::ssize_t{sizeof(std::uint64_t)}},
            /*readonly=*/true};
  }

 private:
  std::shared_ptr<SharedProvider> owner_;
};

void DefineCacheVersionWord(py::module_& m) {
  py::class_<CacheVersionWord>(m, "_CacheVersionWord", py::buffer_protocol())
      .def_buffer([](const CacheVersionWord& word) { return word.Buffer(); });
}

// Reads: served from the live cache.
void DefineProviderReads(ProviderClass& cls) {
  using release = py::call_guard<py::gil_scoped_release>;
  cls.def(
         "non_terminated_nodes",
         [](const PyProvider& self, const py::dict& tag_filters) {
           const provider::TagMap filters = ToTags(tag_filters);
           py::gil_scoped_release unlocked;
           return ValueOrThrow(self.get().NonTerminatedNodes(filters));
         },
         py::arg("tag_filters"))
      .def("list_nodes", &ListNodes, py::arg("tag_filters"),
           "non_terminated_nodes with each node's tags and IPs, read in one pass: (version, "
           "[(id, tags, internal_ip, external_ip)]), version being cache_version() then.")
      .def(
          "cache_version", [](const PyProvider& self) { return self.get().CacheVersion(); },
          "Changes whenever node_tags, internal_ip or external_ip may answer differently.")
      .def(
          "cache_version_word",
          [](const PyProvider& self) { return std::make_unique<CacheVersionWord>(self.share()); },
          "A read-only buffer of one native uint64 holding cache_version(): "
          "memoryview(word)[0] reads it without a call.")
      .def(
          "all_nodes", [](const PyProvider& self) { return ValueOrThrow(self.get().AllNodes()); },
          release())
      .def("get_node", &GetNodeDict, py::arg("node_id"))
      .def(
          "is_running",
          [](const PyProvider& self, const std::string& id) { return self.get().IsRunning(id); },
          py::arg("node_id"), release())
      .def(
          "is_terminated",
          [](const PyProvider& self, const std::string& id) { return self.get().IsTerminated(id); },
          py::arg("node_id"), release())
      .def(
          "node_tags",
          [](const PyProvider& self, const std::string& id) { return self.get().NodeTags(id); },
          py::arg("node_id"), release())
      .def(
          "external_ip",
          [](const PyProvider& self, const std::string& id) { return self.get().ExternalIp(id); },
          py::arg("node_id"), release())
      .def(
          "internal_ip",
          [](const PyProvider& self, const std::string& id) { return self.get().InternalIp(id); },
          py::arg("node_id"), release())
      .def(
          "get_node_id",
          [](const PyProvider& self, const std::string& ip, bool use_internal_ip) {
            return self.get().GetNodeId(ip, use_internal_ip);
          },
          py::arg("ip_address"), py::arg("use_internal_ip") = false, release(),
          "The node with this IP, or None.");
}

// Writes: create, tag, terminate.
void DefineProviderWrites(ProviderClass& cls) {
  using release = py::call_guard<py::gil_scoped_release>;
  cls.def("create_node", &CreateNodes, py::arg("node_config"), py::arg("tags"), py::arg("count"),
          "Creates `count` nodes of Ray's node_config; returns {'created': [{'id', 'name', "
          "'host'}], 'failures': [{'code', 'message', 'fault'}]}. Raises when none could be "
          "made.")
      .def(
          "set_node_tags",
          [](const PyProvider& self, const std::string& id, const py::dict& tags) {
            const provider::TagMap tag_map = ToTags(tags);
            py::gil_scoped_release unlocked;
            ThrowIfError(self.get().SetNodeTags(id, tag_map));
          },
          py::arg("node_id"), py::arg("tags"))
      .def(
          "terminate_node",
          [](const PyProvider& self, const std::string& id) {
            ThrowIfError(self.get().TerminateNode(id));
          },
          py::arg("node_id"), release())
      .def(
          "terminate_nodes",
          [](const PyProvider& self, const std::vector<std::string>& ids) {
            ThrowIfError(self.get().TerminateNodes(ids));
          },
          py::arg("node_ids"), release());
}

void DefineProvider(py::module_& m) {
  ProviderClass cls(m, "Provider",
                    "Ray's NodeProvider operations for one cluster. Instances built from "
                    "equal provider dicts and cluster names share one provider.");
  cls.def(py::init(&NewProvider), py::arg("provider_config"), py::arg("cluster_name"))
      .def_property_readonly("cluster_name",
                             [](const PyProvider& self) { return self.get().cluster_name(); })
      .def_property_readonly("folder",
                             [](const PyProvider& self) { return self.get().folder().value; })
      .def_property_readonly("recovered",
                             [](const PyProvider& self) { return self.get().recovered(); })
      .def(
          "shares_with",
          [](const PyProvider& self, const PyProvider& other) {
            return self.shared() == other.shared();
          },
          py::arg("other"), "Whether both handles use the same provider.");
  DefineProviderReads(cls);
  DefineProviderWrites(cls);
}

}  // namespace
}  // namespace vsray::python

// NOLINTNEXTLINE(readability-identifier-naming,misc-use-anonymous-namespace): pybind11's macro.
PYBIND11_MODULE(_vsray, m) {
  namespace vp = vsray::python;
  m.doc() = "vsray's C++ core: Ray's NodeProvider operations on vSphere.";
  vp::AddVocabulary(m);
  vp::DefineExceptions(m);
  vp::DefineFunctions(m);
  vp::DefineCacheVersionWord(m);
  vp::DefineProvider(m);
}
