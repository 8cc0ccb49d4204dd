#include "backend/aoti_signature.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// As torch 2.6 serializes them (from a package of forward(self, x) -> Tensor).
constexpr char kOneTensorIn[] =
    R"([1, {"type": "builtins.tuple", "context": "null", "children_spec": [{"type": "builtins.tuple", "context": "null", "children_spec": [{"type": null, "context": null, "children_spec": []}]}, {"type": "builtins.dict", "context": "[]", "children_spec": []}]}])";
constexpr char kOneTensorOut[] = R"([1, {"type": null, "context": null, "children_spec": []}])";

TEST(ParseCallSpecTest, OnePositionalInputOneOutput) {
  auto sig = ParseCallSpec(kOneTensorIn, kOneTensorOut);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_THAT(sig->input_keys, ElementsAre(""));
  EXPECT_THAT(sig->output_keys, ElementsAre(""));
}

TEST(ParseCallSpecTest, KeywordInputsAndDictOutputsKeepTheirNames) {
  const std::string in =
      R"([1, {"type": "builtins.tuple", "context": "null", "children_spec": [)"
      R"({"type": "builtins.tuple", "context": "null", "children_spec": [{"type": null, "context": null, "children_spec": []}]},)"
      R"({"type": "builtins.dict", "context": "[\"attention_mask\"]", "children_spec": [{"type": null, "context": null, "children_spec": []}]}]}])";
  const std::string out =
      R"([1, {"type": "builtins.dict", "context": "[\"logits\", \"probs\"]", "children_spec": [)"
      R"({"type": null, "context": null, "children_spec": []}, {"type": null, "context": null, "children_spec": []}]}])";
  auto sig = ParseCallSpec(in, out);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_THAT(sig->input_keys, ElementsAre("", "attention_mask"));
  EXPECT_THAT(sig->output_keys, ElementsAre("logits", "probs"));
}

TEST(ParseCallSpecTest, TupleOutputsArePositional) {
  const std::string out =
      R"([1, {"type": "builtins.tuple", "context": "null", "children_spec": [)"
      R"({"type": null, "context": null, "children_spec": []}, {"type": null, "context": null, "children_spec": []}]}])";
  auto sig = ParseCallSpec(kOneTensorIn, out);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_THAT(sig->output_keys, ElementsAre("", ""));
}

TEST(ParseCallSpecTest, RejectsWhatIsNotATreeSpec) {
  EXPECT_FALSE(ParseCallSpec("not json", kOneTensorOut).ok());
  EXPECT_FALSE(ParseCallSpec(kOneTensorIn, "[1]").ok());
  EXPECT_FALSE(ParseCallSpec(R"({"type": null})", kOneTensorOut).ok());
  // Nesting beyond any real model is refused, not recursed into.
  std::string deep = R"({"type": null, "context": null, "children_spec": []})";
  for (int i = 0; i < 100; ++i) {
    deep = R"({"type": "builtins.tuple", "context": "null", "children_spec": [)" + deep + "]}";
  }
  auto s = ParseCallSpec(deep, kOneTensorOut);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("too deep"));
}

TEST(ParseIoMetadataTest, NamesTypesAndShapes) {
  auto specs = ParseIoMetadata(
      R"([{"name": "input_ids", "datatype": "INT64", "shape": [-1, -1]},
          {"name": "x", "datatype": "FP32", "shape": [-1, 784]}])");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].name, "input_ids");
  EXPECT_EQ((*specs)[0].dtype, DataType::kInt64);
  EXPECT_THAT((*specs)[1].dims, ElementsAre(-1, 784));
}

TEST(ParseIoMetadataTest, RejectsBadEntries) {
  for (const char* bad : {
           "{}", "[{}]", R"([{"name": "x", "shape": [1]}])",
           R"([{"name": "x", "datatype": "NOPE", "shape": [1]}])",
           R"([{"name": "x", "datatype": "BYTES", "shape": [1]}])",
           R"([{"name": "x", "datatype": "FP32", "shape": [-2]}])",
           R"([{"name": "x", "datatype": "FP32", "shape": "1"}])",
           R"([{"name": "x", "datatype": "FP32", "shape": [1.5]}])"}) {
    EXPECT_FALSE(ParseIoMetadata(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ptserve
