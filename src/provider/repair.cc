#include "provider/repair.h"

#include <charconv>

#include "provider/key_values.h"

namespace vsray::provider {
namespace {

std::optional<std::int64_t> ParseNumber(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The node was born with what finishing it needs: its kind and its node type.
bool HasBirthTags(const Node& node) {
  const auto tags = node.BirthTags();
  const auto kind = tags.find(std::string(kTagRayNodeKind));
  return kind != tags.end() && !kind->second.empty() &&
         tags.contains(std::string(kTagRayUserNodeType));
}

}  // namespace

std::string_view RepairActionName(RepairAction action) {
  switch (action) {
    case RepairAction::kIgnore:
      return "ignore";
    case RepairAction::kKeep:
      return "keep";
    case RepairAction::kLeave:
      return "leave";
    case RepairAction::kFinish:
      return "finish";
    case RepairAction::kRemove:
      return "remove";
  }
  return "unknown";
}

RepairDecision DecideRepair(const NodeReader& reader, const Node& node,
                            const RepairContext& context) {
  if (!reader.IsOurs(node) || node.frozen || context.frozen_parent) {
    return {RepairAction::kIgnore, "not a node of this cluster"};
  }
  const std::string* status = reader.Status(node);
  if (status != nullptr && *status == kVsrayStatusCreated) return {RepairAction::kKeep, "complete"};
  // No vsray status at all and no identity at birth: not made by this version's clone spec
  // (only by an attribute): never judged.
  if (status == nullptr && node.Identity(kGuestinfoCluster).empty()) {
    return {RepairAction::kKeep, "no creation status: not judged"};
  }
  if (context.in_flight_here) return {RepairAction::kLeave, "being made by this process"};
  const std::int64_t born = node.created_at();
  const bool too_old = born > 0 && context.now - born > context.creating_timeout.count();
  const std::string old_why = "half-made for longer than timeouts.creating_s (" +
                              std::to_string(context.creating_timeout.count()) + " s)";
  if (!context.exclusive) {
    if (too_old) return {RepairAction::kRemove, old_why};
    return {RepairAction::kLeave, "half-made; another run may be making it"};
  }
  if (too_old) return {RepairAction::kRemove, old_why};
  if (node.power_state != "poweredOn") {
    return {RepairAction::kRemove,
            "half-made and " +
                (node.power_state.empty() ? std::string("not running") : node.power_state)};
  }
  if (!HasBirthTags(node)) {
    return {RepairAction::kRemove, "half-made without birth tags (kind and node type)"};
  }
  // A GPU node's set-up (power off, devices, power on) is not redone by a repair: remove it, so
  // that its type's next create makes it whole, with its devices.
  if (!node.Identity(kGuestinfoGpus).empty()) {
    return {RepairAction::kRemove, "half-made GPU node (its devices are not restored by repair)"};
  }
  return {RepairAction::kFinish, "half-made by a run that ended"};
}

std::string FormatIntent(const NodeIntent& intent) {
  std::string out;
  const auto add = [&out](std::string_view key, const std::string& value) {
    if (!out.empty()) out += ';';
    out += key;
    out += '=';
    out += value;
  };
  if (intent.cpus) add("cpus", std::to_string(*intent.cpus));
  if (intent.memory_mb) add("memory_mb", std::to_string(*intent.memory_mb));
  add("clone", std::string(CloneModeName(intent.clone_mode)));
  return out;
}

std::optional<NodeIntent> ParseIntent(std::string_view text) {
  NodeIntent intent;
  bool any = false;
  const bool parsed = ForEachKeyValue(text, [&](std::string_view key, std::string_view value) {
    if (key == "cpus") {
      const auto cpus = ParseNumber(value);
      if (!cpus || *cpus < 1 || *cpus > 4096) return false;
      intent.cpus = static_cast<int>(*cpus);
    } else if (key == "memory_mb") {
      const auto memory = ParseNumber(value);
      if (!memory || *memory < 1) return false;
      intent.memory_mb = *memory;
    } else if (key == "clone") {
      const auto mode = ParseCloneMode(value);
      if (!mode) return false;
      intent.clone_mode = *mode;
    }
    any = true;
    return true;
  });
  if (!parsed || !any) return std::nullopt;
  return intent;
}

}  // namespace vsray::provider
