#include "common/spelling.h"

#include <algorithm>
#include <cctype>

namespace vsray {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // Three rows: i-2, i-1, i.
  std::vector<std::size_t> two_back(m + 1);
  std::vector<std::size_t> previous(m + 1);
  std::vector<std::size_t> current(m + 1);
  for (std::size_t j = 0; j <= m; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        current[j] = std::min(current[j], two_back[j - 2] + 1);
      }
    }
    two_back.swap(previous);
    previous.swap(current);
  }
  return previous[m];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = EditDistance(word, candidate);
    if (best.empty() || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best.empty()) return "";
  // A typo: a couple of edits for short words, about a third of the word for long ones.
  const std::size_t longest = std::max(word.size(), best.size());
  const std::size_t limit = std::max<std::size_t>(2, longest / 3);
  return best_distance <= limit && best_distance < longest ? best : "";
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       std::size_t max_listed) {
  if (const std::string close = ClosestMatch(word, candidates); !close.empty()) {
    return "; did you mean '" + close + "'?";
  }
  if (candidates.empty()) return " (none exist)";
  std::vector<std::string> sorted = candidates;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string text = " (have: ";
  for (std::size_t i = 0; i < sorted.size() && i < max_listed; ++i) {
    text += (i == 0 ? "" : ", ") + sorted[i];
  }
  if (sorted.size() > max_listed) text += ", ... " + std::to_string(sorted.size()) + " in all";
  return text + ")";
}

}  // namespace vsray
