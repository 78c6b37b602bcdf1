// Unit tests for BPE merge training (core/tokenizer/trainer.h). Expected
// merges are worked out by hand in the comments; byte ids are ASCII codes:
//   a=97 b=98 c=99 d=100 e=101 f=102 g=103 h=104 i=105 l=108 n=110 o=111
//   r=114 s=115 t=116 w=119 x=120 y=121 z=122
#include "core/tokenizer/trainer.h"

#include <string>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llm {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Compact form of a merge for readable expectations.
struct M {
  int32_t left, right, id;
  bool operator==(const M&) const = default;
};
void PrintTo(const M& m, std::ostream* os) { *os << "(" << m.left << "," << m.right << ")->" << m.id; }

std::vector<M> Merges(const BpeTrainingResult& r) {
  std::vector<M> out;
  for (const Merge& m : r.merges()) out.push_back(M{m.left, m.right, m.id});
  return out;
}

BpeTrainingResult Train(const std::vector<PieceCount>& pieces, int64_t num_merges) {
  BpeTrainOptions opts;
  opts.num_merges = num_merges;
  return TrainBpe(pieces, opts);
}

std::vector<int32_t> Tokens(const BpeTrainingResult& r, size_t i) {
  auto t = r.PieceTokens(i);
  return std::vector<int32_t>(t.begin(), t.end());
}

// Sennrich et al.'s toy corpus (without end-of-word markers):
//   low x5, lower x2, newest x6, widest x3.
// Initial pair counts:
//   lo 5+2=7, ow 7, we 2+6=8, er 2, ne 6, ew 6, es 6+3=9, st 9, wi 3, id 3, de 3
// 256: max 9, tie es(101,115) < st(115,116) -> es.  newest=n e w [es] t,
//      widest=w i d [es] t; we(newest) -6 -> we=2, (w,256)=6, (d,256)=3,
//      st -> (256,t)=9.
// 257: (256,116)=9 "est".  (w,257)=6, (d,257)=3.
// 258: max 7, tie lo(108,111) < ow(111,119) -> lo.  (258,w)=7.
// 259: (258,119)=7 "low".  lower = [low] e r: (259,101)=2, er=2, we -> 0.
// 260: max 6 among ne(110,101), ew(101,119), (119,257): smallest ew.
//      newest = n [ew] [est]: (110,260)=6, (260,257)=6.
// 261: (110,260)=6 < (260,257) -> "new".  (261,257)=6.
// 262: (261,257)=6 "newest" (a single token now).
// Left: (259,101)=2, er=2, wi=3, id=3, (100,257)=3.
// 263: max 3, smallest (100,257) "dest".  widest = w i [dest]: (105,263)=3.
// 264: (105,263)=3 < (119,105) -> "idest".  (119,264)=3.
// 265: (119,264) "widest".
// 266: max 2, tie er(101,114) < (259,101) -> "er".  lower = [low][er].
// 267: (259,266)=2 "lower".  No pairs left -> training stops after 12 merges.
TEST(TrainBpeTest, HandWorkedToyCorpus) {
  std::vector<PieceCount> pieces = {{"low", 5}, {"lower", 2}, {"newest", 6}, {"widest", 3}};
  BpeTrainingResult r = Train(pieces, 100);
  EXPECT_THAT(Merges(r),
              ElementsAre(M{101, 115, 256}, M{256, 116, 257}, M{108, 111, 258}, M{258, 119, 259},
                          M{101, 119, 260}, M{110, 260, 261}, M{261, 257, 262}, M{100, 257, 263},
                          M{105, 263, 264}, M{119, 264, 265}, M{101, 114, 266},
                          M{259, 266, 267}));
  EXPECT_THAT(r.merge_counts(), ElementsAre(9, 9, 7, 7, 6, 6, 6, 3, 3, 3, 2, 2));
  EXPECT_THAT(Tokens(r, 0), ElementsAre(259));
  EXPECT_THAT(Tokens(r, 1), ElementsAre(267));
  EXPECT_THAT(Tokens(r, 2), ElementsAre(262));
  EXPECT_THAT(Tokens(r, 3), ElementsAre(265));

  // The merge limit cuts the same sequence short.
  BpeTrainingResult r3 = Train(pieces, 3);
  EXPECT_THAT(Merges(r3), ElementsAre(M{101, 115, 256}, M{256, 116, 257}, M{108, 111, 258}));
  // newest = n e w [est]
  EXPECT_THAT(Tokens(r3, 2), ElementsAre(110, 101, 119, 257));
}

// "aaa" holds (a,a) at two overlapping positions: count 2, so it is merged
// even though only one replacement fits; the result [256, a] has the single
// pair (256,97) with count 1 -> stop.
TEST(TrainBpeTest, OverlappingOccurrencesCountTwice) {
  BpeTrainingResult r = Train({{"aaa", 1}}, 10);
  EXPECT_THAT(Merges(r), ElementsAre(M{97, 97, 256}));
  EXPECT_THAT(r.merge_counts(), ElementsAre(2));
  EXPECT_THAT(Tokens(r, 0), ElementsAre(256, 97));
}

// "aaaa": (a,a) x3 -> merged left to right into [256,256]; (256,256) occurs
// once -> stop. With weight 2 the pair (256,256) occurs twice -> 257.
TEST(TrainBpeTest, RunOfFourSameBytes) {
  BpeTrainingResult r = Train({{"aaaa", 1}}, 10);
  EXPECT_THAT(Merges(r), ElementsAre(M{97, 97, 256}));
  EXPECT_THAT(r.merge_counts(), ElementsAre(3));
  EXPECT_THAT(Tokens(r, 0), ElementsAre(256, 256));

  BpeTrainingResult r2 = Train({{"aaaa", 2}}, 10);
  EXPECT_THAT(Merges(r2), ElementsAre(M{97, 97, 256}, M{256, 256, 257}));
  EXPECT_THAT(r2.merge_counts(), ElementsAre(6, 2));
  EXPECT_THAT(Tokens(r2, 0), ElementsAre(257));

  // "aaaaa" -> [256,256,97]: (256,256)=1, (256,97)=1 -> stop.
  BpeTrainingResult r5 = Train({{"aaaaa", 1}}, 10);
  EXPECT_THAT(Merges(r5), ElementsAre(M{97, 97, 256}));
  EXPECT_THAT(r5.merge_counts(), ElementsAre(4));
  EXPECT_THAT(Tokens(r5, 0), ElementsAre(256, 256, 97));
}

// "abab" x2: (a,b)=4, (b,a)=2. After (a,b)->256 the piece is [256,256]; the
// (b,a) occurrence disappears, so (256,256)=2 must beat nothing stale: had
// (b,a) kept its count 2, the tie (98,97) < (256,256) would wrongly win.
TEST(TrainBpeTest, ConsecutiveReplacementsUpdateCountsExactly) {
  BpeTrainingResult r = Train({{"abab", 2}}, 10);
  EXPECT_THAT(Merges(r), ElementsAre(M{97, 98, 256}, M{256, 256, 257}));
  EXPECT_THAT(r.merge_counts(), ElementsAre(4, 2));
}

// All three pairs occur twice; ties go to the smallest (left, right):
// (97,98) < (98,97) < (100,99). Left id decides before right id:
// (97,122) < (98,97).
TEST(TrainBpeTest, TiesGoToSmallestPair) {
  BpeTrainingResult r = Train({{"ba", 2}, {"dc", 2}, {"ab", 2}}, 10);
  EXPECT_THAT(Merges(r), ElementsAre(M{97, 98, 256}, M{98, 97, 257}, M{100, 99, 258}));

  BpeTrainingResult r2 = Train({{"ba", 2}, {"az", 2}}, 10);
  EXPECT_THAT(Merges(r2), ElementsAre(M{97, 122, 256}, M{98, 97, 257}));

  // A new token's pairs have large ids and lose ties against byte pairs:
  // "xyxy" x1 and "cd" x2: (x,y)=2, (y,x)=1, (c,d)=2 -> (99,100) first, then
  // (120,121); then [257,257] has (257,257)=1 -> stop.
  BpeTrainingResult r3 = Train({{"xyxy", 1}, {"cd", 2}}, 10);
  EXPECT_THAT(Merges(r3), ElementsAre(M{99, 100, 256}, M{120, 121, 257}));
}

// Training stops as soon as the best pair occurs fewer than 2 times.
TEST(TrainBpeTest, StopsWhenBestCountBelowTwo) {
  EXPECT_TRUE(Train({{"abc", 1}, {"xyz", 1}}, 100).merges().empty());
  EXPECT_TRUE(Train({}, 100).merges().empty());
  EXPECT_TRUE(Train({{"a", 1000}}, 100).merges().empty());
  // (a,b)=3 -> merged; then nothing.
  BpeTrainingResult r = Train({{"ab", 3}, {"cd", 1}}, 100);
  EXPECT_THAT(Merges(r), ElementsAre(M{97, 98, 256}));
  // num_merges = 0 learns nothing.
  EXPECT_TRUE(Train({{"ab", 3}}, 0).merges().empty());
}

// Pieces "a", "b" and "ab": if pairs crossed piece boundaries, (a,b) would
// be frequent; inside pieces it occurs once -> no merge.
TEST(TrainBpeTest, PairsNeverCrossPieces) {
  EXPECT_TRUE(Train({{"a", 3}, {"b", 3}, {"ab", 1}}, 10).merges().empty());
}

// A splitter for tests: a space starts a new piece ("ab cd" -> "ab", " cd").
class SpaceSplitter : public PreTokenizer {
 public:
  const std::string& pattern() const override { return pattern_; }
  void Split(std::string_view text,
             absl::FunctionRef<void(size_t begin, size_t end)> fn) const override {
    size_t begin = 0;
    for (size_t i = 1; i <= text.size(); ++i) {
      if (i == text.size() || text[i] == ' ') {
        fn(begin, i);
        begin = i;
      }
    }
  }

 private:
  std::string pattern_ = "test: split before spaces";
};

TEST(CountPiecesTest, CountsInFirstOccurrenceOrder) {
  SpaceSplitter splitter;
  std::string text = "ab ab  cd ab";  // "ab", " ab", " ", " cd", " ab"
  auto pieces = CountPieces(splitter, text);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  std::vector<std::pair<std::string, int64_t>> got;
  for (const PieceCount& p : *pieces) got.emplace_back(std::string(p.piece), p.count);
  EXPECT_THAT(got, ElementsAre(Pair("ab", 1), Pair(" ab", 2), Pair(" ", 1), Pair(" cd", 1)));
}

TEST(CountPiecesTest, RejectsInvalidUtf8) {
  SpaceSplitter splitter;
  auto pieces = CountPieces(splitter, std::string("ok \xff bad"));
  ASSERT_FALSE(pieces.ok());
  EXPECT_EQ(pieces.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(pieces.status().message()).find("3"), std::string::npos)
      << pieces.status();
}

TEST(VocabFromMergesTest, ConcatenatesBytes) {
  std::vector<Merge> merges = {{101, 115, 256}, {256, 116, 257}};
  std::vector<std::string> vocab = VocabFromMerges(merges);
  ASSERT_EQ(vocab.size(), 258u);
  EXPECT_EQ(vocab[97], "a");
  EXPECT_EQ(vocab[256], "es");
  EXPECT_EQ(vocab[257], "est");
}

// Pieces in first-occurrence order: ab x2, cd x3, ef x3, a x9, gh x2, xy x1.
TEST(SelectPieceCacheTest, OrdersByCountThenFirstOccurrence) {
  std::vector<PieceCount> pieces = {{"ab", 2}, {"cd", 3}, {"ef", 3},
                                    {"a", 9},  {"gh", 2}, {"xy", 1}};
  // No merges: "a" is a single (byte) token and is skipped; the rest sorted
  // by count with ties in first-occurrence order: cd, ef, ab, gh, xy.
  BpeTrainingResult r0 = Train(pieces, 0);
  auto cache = SelectPieceCache(pieces, r0, 3);
  using Entry = std::pair<std::string, std::vector<int32_t>>;
  EXPECT_THAT(cache, ElementsAre(Entry{"cd", {99, 100}}, Entry{"ef", {101, 102}},
                                 Entry{"ab", {97, 98}}));
  EXPECT_EQ(SelectPieceCache(pieces, r0, 100).size(), 5u);
  EXPECT_TRUE(SelectPieceCache(pieces, r0, 0).empty());

  // One merge: (c,d)=3 ties (e,f)=3, smallest is (99,100) -> 256. "cd" is
  // now a single token and leaves the cache.
  BpeTrainingResult r1 = Train(pieces, 1);
  ASSERT_THAT(Merges(r1), ElementsAre(M{99, 100, 256}));
  EXPECT_THAT(SelectPieceCache(pieces, r1, 10),
              ElementsAre(Entry{"ef", {101, 102}}, Entry{"ab", {97, 98}}, Entry{"gh", {103, 104}},
                          Entry{"xy", {120, 121}}));
}

// The cached encodings are the pieces after training, i.e. their BPE
// encodings: with the toy corpus cut at 3 merges, "newest" -> n e w [est].
TEST(SelectPieceCacheTest, UsesTrainedEncodings) {
  std::vector<PieceCount> pieces = {{"low", 5}, {"lower", 2}, {"newest", 6}, {"widest", 3}};
  BpeTrainingResult r = Train(pieces, 3);
  using Entry = std::pair<std::string, std::vector<int32_t>>;
  EXPECT_THAT(SelectPieceCache(pieces, r, 10),
              ElementsAre(Entry{"newest", {110, 101, 119, 257}}, Entry{"low", {258, 119}},
                          Entry{"widest", {119, 105, 100, 257}},
                          Entry{"lower", {258, 119, 101, 114}}));
}

}  // namespace
}  // namespace llm
