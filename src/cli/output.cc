#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace vsray::cli {

bool IsTerminal(std::FILE* stream) { return isatty(fileno(stream)) == 1; }

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  const auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string& cell = i < row.size() ? row[i] : std::string();
      text += cell;
      if (i + 1 < widths.size()) text += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

Progress::Progress(bool enabled, bool terminal) : enabled_(enabled), terminal_(terminal) {}

Progress::~Progress() { Finish(); }

void Progress::Update(const std::string& item, const std::string& state) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  if (finished_) return;
  auto it = std::find_if(items_.begin(), items_.end(),
                         [&](const auto& entry) { return entry.first == item; });
  if (it != items_.end() && it->second == state) return;
  if (it == items_.end()) {
    items_.emplace_back(item, state);
  } else {
    it->second = state;
  }
  if (terminal_) {
    Redraw();
  } else {
    std::cerr << "vsray: " << item << ": " << state << "\n";
  }
}

void Progress::Redraw() {
  std::string text;
  if (drawn_ > 0) text += "\x1b[" + std::to_string(drawn_) + "F";  // up to the first line
  std::size_t width = 0;
  for (const auto& [item, state] : items_) width = std::max(width, item.size());
  for (const auto& [item, state] : items_) {
    text += "\x1b[2K  ";
    text += item;
    text += std::string(width - item.size() + 2, ' ');
    text += state;
    text += '\n';
  }
  drawn_ = items_.size();
  std::cerr << text << std::flush;
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  finished_ = true;
}

bool Confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

}  // namespace vsray::cli
