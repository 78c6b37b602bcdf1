#include "core/util/flags.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace llm {

FlagParser::FlagParser(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void FlagParser::Add(std::vector<std::string> names, Kind kind, void* out, std::string help,
                     bool required) {
  Option o;
  o.names = std::move(names);
  o.kind = kind;
  o.out = out;
  o.help = std::move(help);
  o.required = required;
  switch (kind) {
    case Kind::kString:
      if (!static_cast<std::string*>(out)->empty())
        o.default_text = absl::StrCat("\"", *static_cast<std::string*>(out), "\"");
      break;
    case Kind::kInt:
      o.default_text = absl::StrCat(*static_cast<int64_t*>(out));
      break;
    case Kind::kDouble:
      o.default_text = absl::StrFormat("%g", *static_cast<double*>(out));
      break;
    case Kind::kBool:
      break;
  }
  options_.push_back(std::move(o));
}

void FlagParser::AddString(std::vector<std::string> names, std::string* out, std::string help,
                           bool required) {
  Add(std::move(names), Kind::kString, out, std::move(help), required);
}
void FlagParser::AddInt(std::vector<std::string> names, int64_t* out, std::string help,
                        bool required) {
  Add(std::move(names), Kind::kInt, out, std::move(help), required);
}
void FlagParser::AddDouble(std::vector<std::string> names, double* out, std::string help,
                           bool required) {
  Add(std::move(names), Kind::kDouble, out, std::move(help), required);
}
void FlagParser::AddBool(std::vector<std::string> names, bool* out, std::string help) {
  Add(std::move(names), Kind::kBool, out, std::move(help), false);
}
void FlagParser::AllowPositional(std::vector<std::string>* out, std::string usage) {
  positional_ = out;
  positional_usage_ = std::move(usage);
}

FlagParser::Option* FlagParser::Find(const std::string& name) {
  for (auto& o : options_)
    for (const auto& n : o.names)
      if (n == name) return &o;
  return nullptr;
}
const FlagParser::Option* FlagParser::Find(const std::string& name) const {
  return const_cast<FlagParser*>(this)->Find(name);
}

bool FlagParser::WasSet(const std::string& name) const {
  const Option* o = Find(name);
  return o != nullptr && o->seen;
}

absl::Status FlagParser::Parse(int argc, char** argv) {
  bool only_positional = false;
  std::vector<std::string> errors;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-' ||
        (arg.size() > 1 && (std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.'))) {
      if (positional_ == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
      positional_->push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    Option* o = Find(name);
    bool negated = false;
    if (o == nullptr && name.rfind("--no-", 0) == 0) {
      o = Find("--" + name.substr(5));
      if (o != nullptr && o->kind != Kind::kBool) o = nullptr;
      negated = o != nullptr;
    }
    if (o == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", name, "'"));
    o->seen = true;
    if (o->kind == Kind::kBool) {
      if (has_value) {
        if (value == "true" || value == "1") {
          *static_cast<bool*>(o->out) = !negated;
        } else if (value == "false" || value == "0") {
          *static_cast<bool*>(o->out) = negated;
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("option '", name, "' takes true/false, got '", value, "'"));
        }
      } else {
        *static_cast<bool*>(o->out) = !negated;
      }
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat("option '", name, "' needs a value"));
      value = argv[++i];
    }
    switch (o->kind) {
      case Kind::kString:
        *static_cast<std::string*>(o->out) = value;
        break;
      case Kind::kInt: {
        int64_t v;
        std::string cleaned;
        for (char c : value)
          if (c != '_' && c != ',') cleaned.push_back(c);
        if (!absl::SimpleAtoi(cleaned, &v))
          return absl::InvalidArgumentError(
              absl::StrCat("option '", name, "' expects an integer, got '", value, "'"));
        *static_cast<int64_t*>(o->out) = v;
        break;
      }
      case Kind::kDouble: {
        double v;
        if (!absl::SimpleAtod(value, &v))
          return absl::InvalidArgumentError(
              absl::StrCat("option '", name, "' expects a number, got '", value, "'"));
        *static_cast<double*>(o->out) = v;
        break;
      }
      case Kind::kBool:
        break;
    }
  }
  for (const auto& o : options_) {
    if (o.required && !o.seen)
      return absl::InvalidArgumentError(
          absl::StrCat("missing required option ", absl::StrJoin(o.names, "/")));
  }
  return absl::OkStatus();
}

std::string FlagParser::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_, " [options]");
  if (positional_ != nullptr) absl::StrAppend(&out, " ", positional_usage_);
  absl::StrAppend(&out, "\n\n", description_, "\n\nOptions:\n");
  for (const auto& o : options_) {
    std::string names = absl::StrJoin(o.names, ", ");
    if (o.kind == Kind::kString) names += " STR";
    if (o.kind == Kind::kInt) names += " INT";
    if (o.kind == Kind::kDouble) names += " NUM";
    std::string help = o.help;
    if (o.required) help += " (required)";
    if (!o.default_text.empty()) absl::StrAppend(&help, " [default: ", o.default_text, "]");
    if (names.size() < 28) {
      absl::StrAppend(&out, absl::StrFormat("  %-28s %s\n", names, help));
    } else {
      absl::StrAppend(&out, "  ", names, "\n", std::string(31, ' '), help, "\n");
    }
  }
  absl::StrAppend(&out, absl::StrFormat("  %-28s %s\n", "-h, --help", "Show this help and exit"));
  if (!epilog_.empty()) absl::StrAppend(&out, "\n", epilog_, "\n");
  return out;
}

int FlagParser::ParseOrExit(int argc, char** argv) {
  absl::Status s = Parse(argc, argv);
  if (help_requested_) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for usage.\n", program_.c_str(),
                 std::string(s.message()).c_str(), program_.c_str());
    return 2;
  }
  return -1;
}

}  // namespace llm
