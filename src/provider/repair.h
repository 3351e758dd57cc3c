// Half-made nodes: VMs of this cluster whose creation did not finish (their creator was killed,
// interrupted, or lost its connection). Every clone carries its cluster, node type, launch
// tags and create intent from birth (clone_spec.h), so a later run can tell what it was meant
// to be, and either finish it or remove it. The decision is a pure function of the node's
// state and of what the deciding run knows (whether it holds the cluster lease, lease.h), so
// that the rule is unit-tested alone; NodeProvider::Repair applies it.
//
// The rule (README, "Interrupted and concurrent runs"):
//   - not ours, a frozen VM or a parent: never touched;
//   - complete (vsray-node-status=created as an attribute): kept;
//   - being made by this process: left alone;
//   - without the cluster lease (another run may be making it right now): removed only once
//     older than timeouts.creating_s, else left alone;
//   - with the lease (no other run makes nodes now), removed when powered off, without birth
//     tags (kind and node type), or older than timeouts.creating_s; else finished: its tags
//     written from its birth tags, sized from its intent, marked created.
#ifndef VSRAY_PROVIDER_REPAIR_H_
#define VSRAY_PROVIDER_REPAIR_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provider/node.h"
#include "provider/node_state.h"
#include "provider/vocabulary.h"

namespace vsray::provider {

enum class RepairAction {
  kIgnore,  // not ours, or a frozen VM: never touched
  kKeep,    // complete
  kLeave,   // half-made, but maybe being made by a live run: not touched now
  kFinish,  // half-made and abandoned: finish it from its birth tags and intent
  kRemove,  // half-made and abandoned, and not finishable (or too old): destroy it
};
std::string_view RepairActionName(RepairAction action);

struct RepairContext {
  bool frozen_parent = false;   // the VM is a known frozen VM (a clone parent)
  bool exclusive = false;       // the deciding run holds the cluster lease
  bool in_flight_here = false;  // this process is making the node now
  std::int64_t now = 0;         // seconds since the epoch
  std::chrono::seconds creating_timeout{900};
};

struct RepairDecision {
  RepairAction action = RepairAction::kIgnore;
  std::string why;  // one line, for logs and summaries
};

RepairDecision DecideRepair(const NodeReader& reader, const Node& node,
                            const RepairContext& context);

// A node's create intent (guestinfo.vsray.intent): what its set-up still had to do.
struct NodeIntent {
  std::optional<int> cpus;
  std::optional<std::int64_t> memory_mb;
  CloneMode clone_mode = CloneMode::kInstant;

  friend bool operator==(const NodeIntent&, const NodeIntent&) = default;
};
std::string FormatIntent(const NodeIntent& intent);
// Unknown parts are ignored; nullopt for a text that is not an intent at all.
std::optional<NodeIntent> ParseIntent(std::string_view text);

// What a run's repair did.
struct RepairReport {
  std::vector<std::string> finished;  // node ids
  std::vector<std::string> removed;
  std::vector<std::string> left;      // half-made, left to the run making them
  std::vector<std::string> failures;  // one line per node the repair could not handle
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_REPAIR_H_
