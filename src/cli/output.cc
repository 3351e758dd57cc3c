#include "cli/output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cluster/status.h"
#include "provider/tags.h"

namespace vsray::cli {
namespace {

using nlohmann::json;

// What main() said about this run's --json output.
struct JsonState {
  std::mutex mu;
  std::string command;
  bool enabled = false;
  bool printed = false;
};

JsonState& JsonRun() {
  static JsonState state;
  return state;
}

json NullIfEmpty(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

// The columns `text` takes on a terminal (UTF-8: continuation bytes take none).
std::size_t Columns(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// `line` cut to `cols` less one column, so that it never wraps.
std::string FitWidth(std::string line, int cols) {
  const auto width = static_cast<std::size_t>(std::max(cols - 1, 1));
  if (Columns(line) <= width) return line;
  std::size_t columns = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (columns++ == width) {
      line.resize(i);
      break;
    }
  }
  return line;
}

}  // namespace

void SetJsonOutput(std::string command, bool enabled) {
  JsonState& state = JsonRun();
  std::lock_guard lock(state.mu);
  state.command = std::move(command);
  state.enabled = enabled;
}

bool JsonOutputEnabled() {
  JsonState& state = JsonRun();
  std::lock_guard lock(state.mu);
  return state.enabled;
}

json JsonDocument(const std::string& cluster_name) {
  JsonState& state = JsonRun();
  std::lock_guard lock(state.mu);
  json document = {{"schema_version", kJsonSchemaVersion}, {"command", state.command}};
  if (!cluster_name.empty()) document["cluster_name"] = cluster_name;
  return document;
}

void PrintJson(const json& document) {
  JsonState& state = JsonRun();
  std::lock_guard lock(state.mu);
  if (state.printed) return;
  state.printed = true;
  std::cout << document.dump(2) << "\n" << std::flush;
}

std::string FailureCode(const Status& status, std::string_view fallback) {
  if (status.fault() == "TlsVerification") return "tls";
  switch (status.code()) {
    case StatusCode::kCancelled:
      return "interrupted";
    case StatusCode::kDeadlineExceeded:
      return "timeout";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kUnauthenticated:
      return "login_failed";
    case StatusCode::kUnavailable:
      return "unreachable";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    default:
      return std::string(fallback);
  }
}

int FailRun(const Status& status, int exit_code, std::string_view code) {
  std::cerr << "vsray: " << status.message() << "\n";
  JsonState& state = JsonRun();
  std::lock_guard lock(state.mu);
  if (!state.enabled || state.printed) return exit_code;
  state.printed = true;
  const json document = {{"schema_version", kJsonSchemaVersion},
                         {"command", state.command},
                         {"error",
                          {{"code", code.empty() ? FailureCode(status) : std::string(code)},
                           {"fault", NullIfEmpty(status.fault())},
                           {"message", status.message()}}}};
  std::cout << document.dump(2) << "\n" << std::flush;
  return exit_code;
}

Failure Failure::Of(const Status& status, std::string node_type, std::string id,
                    std::string_view fallback_code) {
  return {std::move(node_type), std::move(id), FailureCode(status, fallback_code), status.fault(),
          status.message()};
}

std::string Failure::Line() const {
  std::string line;
  if (!node_type.empty()) line += "node type '" + node_type + "': ";
  if (!id.empty()) line += id + ": ";
  return line + message;
}

json FailuresJson(const std::vector<Failure>& failures) {
  json out = json::array();
  for (const auto& f : failures) {
    out.push_back({{"node_type", NullIfEmpty(f.node_type)},
                   {"id", NullIfEmpty(f.id)},
                   {"code", f.code},
                   {"fault", NullIfEmpty(f.fault)},
                   {"message", f.message}});
  }
  return out;
}

std::string NodeStateWord(const std::string& power_state, const std::string& vsray_status) {
  // One vocabulary: the words are cluster::NodeState's (src/cluster/status.h).
  return std::string(cluster::NodeState(
      power_state, provider::TagMap{{std::string(provider::kTagVsrayNodeStatus), vsray_status}}));
}

bool IsTerminal(std::FILE* stream) { return isatty(fileno(stream)) == 1; }

TerminalInfo StderrTerminal() {
  TerminalInfo info;
  info.terminal = IsTerminal(stderr);
  const char* term = std::getenv("TERM");          // NOLINT(concurrency-mt-unsafe)
  const char* no_color = std::getenv("NO_COLOR");  // NOLINT(concurrency-mt-unsafe)
  const bool dumb = term == nullptr || std::string_view(term) == "dumb";
  const bool plain = no_color != nullptr && no_color[0] != '\0';
  info.ansi = info.terminal && !dumb && !plain;
  winsize size{};
  if (info.terminal && ioctl(fileno(stderr), TIOCGWINSZ, &size) == 0 && size.ws_row > 0 &&
      size.ws_col > 0) {
    info.rows = size.ws_row;
    info.cols = size.ws_col;
  }
  return info;
}

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

Progress::Progress(bool enabled, TerminalInfo terminal, Clock& clock)
    : enabled_(enabled), terminal_(terminal), clock_(clock), start_(clock.Now()) {}

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
  if (terminal_.ansi) {
    Redraw();
  } else {
    std::cerr << "vsray: " << item << ": " << state << " (" << Elapsed() << ")\n";
  }
}

std::string Progress::Elapsed() const {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - start_).count();
  if (seconds < 60) return std::to_string(seconds) + "s";
  const auto rest = seconds % 60;
  return std::to_string(seconds / 60) + "m" + (rest < 10 ? "0" : "") + std::to_string(rest) + "s";
}

// "cloning 8 · configuring 3 · running 40": states in order of first appearance; a state's
// detail ("running, 10.0.0.5", "failed: <why>") is not part of it.
std::string Progress::Counts() const {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& [item, state] : items_) {
    std::string word = state.substr(0, state.find(','));
    if (word.starts_with("failed")) word = "failed";  // "failed: <why>"
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& entry) { return entry.first == word; });
    if (it == counts.end()) {
      counts.emplace_back(word, 1);
    } else {
      ++it->second;
    }
  }
  std::string text;
  for (const auto& [word, count] : counts) {
    text += (text.empty() ? "" : " \u00b7 ") + word + " " + std::to_string(count);
  }
  return text;
}

std::string Progress::Fit(std::string line) const {
  return FitWidth(std::move(line), terminal_.cols);
}

// Per-node lines under a header while they fit the terminal (one row stays free for the
// cursor), else one line of counts.
void Progress::Redraw() {
  std::string text;
  if (drawn_ > 0) text += "\x1b[" + std::to_string(drawn_) + "F";  // up to the first line
  text += "\x1b[J";                                                // clear what was drawn
  const std::string header =
      "vsray [" + Elapsed() + "] " + std::to_string(items_.size()) + " VM(s)";
  if (items_.size() + 2 > static_cast<std::size_t>(terminal_.rows)) {
    text += Fit(header + ": " + Counts()) + "\n";
    drawn_ = 1;
  } else {
    text += Fit(header) + "\n";
    std::size_t width = 0;
    for (const auto& [item, state] : items_) width = std::max(width, item.size());
    for (const auto& [item, state] : items_) {
      std::string line = "  " + item;
      line.append(width - item.size() + 2, ' ').append(state);
      text += Fit(std::move(line)) + "\n";
    }
    drawn_ = items_.size() + 1;
  }
  std::cerr << text << std::flush;
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  finished_ = true;
}

ConnectingNotice::ConnectingNotice(bool quiet, const std::string& server) {
  const TerminalInfo terminal = StderrTerminal();
  if (quiet || !terminal.terminal) return;
  const std::string line = "vsray: connecting to vCenter " + server + "\u2026";
  std::cerr << (terminal.ansi ? FitWidth(line, terminal.cols) : line + "\n") << std::flush;
  erase_ = terminal.ansi;
}

void ConnectingNotice::Done() {
  if (erase_) std::cerr << "\r\x1b[2K" << std::flush;
  erase_ = false;
}

bool Confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
}

}  // namespace vsray::cli
