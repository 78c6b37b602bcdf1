// A small command-line parser that mirrors the original project's argparse
// flags, including multi-letter short options such as `-bs` and `-nb`.
//
//   llm::FlagParser p("train_model", "Train the transformer.");
//   std::string name; int64_t batch = 4; bool yes = false;
//   p.AddString({"-n", "--name"}, &name, "Checkpoint name", /*required=*/true);
//   p.AddInt({"-bs", "--batch_size"}, &batch, "Batch size");
//   p.AddBool({"-y", "--overwrite"}, &yes, "Overwrite an existing checkpoint");
//   if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
//
// Values may be given as `-n v1`, `--name v1` or `--name=v1`. Bool options
// take no value (`--no-NAME` sets false for long names). `-h`/`--help` prints
// usage. Unknown options, missing values, bad numbers and missing required
// options are errors that name the option.
#ifndef LLM_CORE_UTIL_FLAGS_H_
#define LLM_CORE_UTIL_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace llm {

class FlagParser {
 public:
  FlagParser(std::string program, std::string description);

  void AddString(std::vector<std::string> names, std::string* out, std::string help,
                 bool required = false);
  void AddInt(std::vector<std::string> names, int64_t* out, std::string help, bool required = false);
  void AddDouble(std::vector<std::string> names, double* out, std::string help,
                 bool required = false);
  void AddBool(std::vector<std::string> names, bool* out, std::string help);
  // Positional arguments (collected in order) are allowed only if this is set.
  void AllowPositional(std::vector<std::string>* out, std::string usage);
  // Extra text appended to --help (examples, notes).
  void SetEpilog(std::string epilog) { epilog_ = std::move(epilog); }

  // Parses argv. Returns OK, or InvalidArgument naming the bad option. Sets
  // help_requested() when -h/--help is seen (other errors are then ignored).
  absl::Status Parse(int argc, char** argv);
  bool help_requested() const { return help_requested_; }
  // True if the option (any of its names) appeared on the command line.
  bool WasSet(const std::string& name) const;
  std::string Usage() const;

  // Convenience for main(): parses; prints usage and returns 0 on --help,
  // prints the error plus a hint and returns 2 on bad input, or returns -1
  // when the program should continue.
  int ParseOrExit(int argc, char** argv);

 private:
  enum class Kind { kString, kInt, kDouble, kBool };
  struct Option {
    std::vector<std::string> names;
    Kind kind;
    void* out;
    std::string help;
    bool required = false;
    bool seen = false;
    std::string default_text;
  };
  Option* Find(const std::string& name);
  const Option* Find(const std::string& name) const;
  void Add(std::vector<std::string> names, Kind kind, void* out, std::string help, bool required);

  std::string program_;
  std::string description_;
  std::string epilog_;
  std::vector<Option> options_;
  std::vector<std::string>* positional_ = nullptr;
  std::string positional_usage_;
  bool help_requested_ = false;
};

}  // namespace llm

#endif  // LLM_CORE_UTIL_FLAGS_H_
