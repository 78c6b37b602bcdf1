#include "client/llm_client_extra.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace llm::client {

std::string FormatThousands(int64_t n) {
  // Work on the magnitude as unsigned so INT64_MIN does not overflow.
  const bool negative = n < 0;
  uint64_t v = negative ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string digits = std::to_string(v);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3 + 1);
  if (negative) out.push_back('-');
  for (size_t i = 0; i < digits.size(); ++i) {
    // A comma before every group of three digits counted from the right.
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatTokenLine(int64_t id, std::string_view piece) {
  std::string number = FormatThousands(id);
  std::string line;
  if (number.size() < 6) line.assign(6 - number.size(), ' ');
  line += number;
  line += ": [";
  line.append(piece.data(), piece.size());
  line += "]\n";
  return line;
}

std::string UnescapeNewlines(std::string_view typed) {
  std::string out;
  out.reserve(typed.size());
  for (size_t i = 0; i < typed.size(); ++i) {
    if (typed[i] == '\\' && i + 1 < typed.size() && typed[i + 1] == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(typed[i]);
    }
  }
  return out;
}

std::string DescribeError(const absl::Status& status, const std::string& target, bool unreachable) {
  std::string msg;
  if (unreachable) {
    std::string port = target.substr(target.rfind(':') + 1);
    msg = absl::StrCat("error: cannot reach llm_server at ", target,
                       " (is it running? start it with: llm_server -t TOKENIZER -n MODEL -c ITER --port ", port,
                       ")");
  } else {
    msg = absl::StrCat("error: server returned ", absl::StatusCodeToString(status.code()), ": ",
                       std::string(status.message()));
  }
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return msg;
}

}  // namespace llm::client
