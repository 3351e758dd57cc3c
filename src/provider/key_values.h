// The "key=value;key=value" records vsray keeps in one string attribute or extraConfig value
// (the cluster lease, a node's create intent).
#ifndef VSRAY_PROVIDER_KEY_VALUES_H_
#define VSRAY_PROVIDER_KEY_VALUES_H_

#include <string_view>

namespace vsray::provider {

// Calls on_pair(key, value) for each "key=value" part of `text` in order; false when a part
// has no '=' or on_pair returns false.
template <typename OnPair>
bool ForEachKeyValue(std::string_view text, OnPair&& on_pair) {
  while (!text.empty()) {
    const auto end = text.find(';');
    const std::string_view part = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) return false;
    if (!on_pair(part.substr(0, eq), part.substr(eq + 1))) return false;
  }
  return true;
}

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_KEY_VALUES_H_
