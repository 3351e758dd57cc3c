// "Did you mean": the names closest to a mistyped one (config keys, node types, inventory
// objects). The one edit-distance helper of the project.
#ifndef VSRAY_COMMON_SPELLING_H_
#define VSRAY_COMMON_SPELLING_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vsray {

// Levenshtein distance with adjacent transpositions (optimal string alignment), ASCII
// case-insensitive.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " did you mean 'X'?" for the closest likely typo; else " (have: a, b, c, ...)", at most
// `max_listed` names (" (none exist)" when there are none).
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       std::size_t max_listed = 10);

}  // namespace vsray

#endif  // VSRAY_COMMON_SPELLING_H_
