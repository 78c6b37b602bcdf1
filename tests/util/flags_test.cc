#include "core/util/flags.h"

#include <gtest/gtest.h>

#include <vector>

namespace llm {
namespace {

struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args) ptrs.push_back(s.data());
  }
  int argc() { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<char*> ptrs;
};

TEST(FlagParserTest, ParsesShortLongAndEqualsForms) {
  std::string name;
  int64_t bs = 4, nb = 0;
  double lr = 1e-3;
  bool yes = false;
  FlagParser p("prog", "desc");
  p.AddString({"-n", "--name"}, &name, "name");
  p.AddInt({"-bs", "--batch_size"}, &bs, "batch");
  p.AddInt({"-nb", "--num_batches"}, &nb, "batches");
  p.AddDouble({"-lr", "--learning_rate"}, &lr, "lr");
  p.AddBool({"-y", "--overwrite"}, &yes, "yes");
  Argv a({"prog", "-y", "-n", "v1", "-bs", "16", "--num_batches=1_000", "-lr", "-0.5"});
  ASSERT_TRUE(p.Parse(a.argc(), a.argv()).ok());
  EXPECT_EQ(name, "v1");
  EXPECT_EQ(bs, 16);
  EXPECT_EQ(nb, 1000);
  EXPECT_DOUBLE_EQ(lr, -0.5);
  EXPECT_TRUE(yes);
  EXPECT_TRUE(p.WasSet("--name"));
  EXPECT_FALSE(p.help_requested());
}

TEST(FlagParserTest, ReportsErrorsNamingTheOption) {
  int64_t bs = 0;
  std::string req;
  FlagParser p("prog", "desc");
  p.AddInt({"-bs"}, &bs, "batch");
  p.AddString({"-t"}, &req, "tokenizer", /*required=*/true);
  {
    Argv a({"prog", "-bs", "x", "-t", "a"});
    auto s = p.Parse(a.argc(), a.argv());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("-bs"), std::string::npos);
  }
  {
    FlagParser q("prog", "desc");
    q.AddString({"-t"}, &req, "tokenizer", true);
    Argv a({"prog"});
    auto s = q.Parse(a.argc(), a.argv());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("-t"), std::string::npos);
  }
  {
    FlagParser q("prog", "desc");
    Argv a({"prog", "--bogus"});
    auto s = q.Parse(a.argc(), a.argv());
    EXPECT_NE(s.message().find("--bogus"), std::string::npos);
  }
  {
    FlagParser q("prog", "desc");
    q.AddInt({"-bs"}, &bs, "batch");
    Argv a({"prog", "-bs"});
    EXPECT_FALSE(q.Parse(a.argc(), a.argv()).ok());
  }
}

TEST(FlagParserTest, HelpListsEveryOptionWithDefaults) {
  int64_t bs = 4;
  bool v = true;
  FlagParser p("prog", "Does things.");
  p.AddInt({"-bs", "--batch_size"}, &bs, "Batch size");
  p.AddBool({"--verbose"}, &v, "Talk");
  Argv a({"prog", "--help"});
  ASSERT_TRUE(p.Parse(a.argc(), a.argv()).ok());
  EXPECT_TRUE(p.help_requested());
  std::string u = p.Usage();
  EXPECT_NE(u.find("-bs, --batch_size INT"), std::string::npos);
  EXPECT_NE(u.find("[default: 4]"), std::string::npos);
  EXPECT_NE(u.find("Does things."), std::string::npos);
}

TEST(FlagParserTest, NegatedBoolAndPositionals) {
  bool verbose = true;
  std::vector<std::string> pos;
  FlagParser p("prog", "desc");
  p.AddBool({"--verbose"}, &verbose, "Talk");
  p.AllowPositional(&pos, "[FILE]");
  Argv a({"prog", "--no-verbose", "file.txt", "--", "-x"});
  ASSERT_TRUE(p.Parse(a.argc(), a.argv()).ok());
  EXPECT_FALSE(verbose);
  EXPECT_EQ(pos, (std::vector<std::string>{"file.txt", "-x"}));
}

}  // namespace
}  // namespace llm
