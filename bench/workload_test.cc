#include "workload.h"

#include <cstring>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "simdjson.h"

namespace ptserve::bench {
namespace {

constexpr char kMetadata[] =
    R"({"name":"mlp","versions":["1"],"platform":"pytorch_libtorch",)"
    R"("inputs":[{"name":"INPUT__0","datatype":"FP32","shape":[-1,3]},)"
    R"({"name":"ids","datatype":"INT64","shape":[-1,-1]}],"outputs":[]})";

std::string NpyFile(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + data;
}

TEST(WorkloadTest, ParsesMetadata) {
  auto md = ParseModelMetadata(kMetadata);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->name, "mlp");
  ASSERT_EQ(md->inputs.size(), 2u);
  EXPECT_EQ(md->inputs[0].name, "INPUT__0");
  EXPECT_EQ(md->inputs[0].datatype, DataType::kFp32);
  EXPECT_EQ(md->inputs[1].shape, (std::vector<int64_t>{-1, -1}));
  EXPECT_FALSE(ParseModelMetadata("{}").ok());
  EXPECT_FALSE(ParseModelMetadata("not json").ok());
}

TEST(WorkloadTest, ShapesNeedBatchAndShapeFlags) {
  ModelMetadata md = *ParseModelMetadata(kMetadata);
  WorkloadOptions o;
  o.model_name = "mlp";
  auto missing = ResolveInputs(md, o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--shape ids"), std::string::npos)
      << missing.status().message();
  ASSERT_TRUE(ParseShapeFlag("ids:5", &o.shapes).ok());  // without the batch dimension
  o.batch_size = 2;
  auto inputs = ResolveInputs(md, o);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ((*inputs)[0].meta.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ((*inputs)[0].bytes.size(), 2u * 3 * 4);
  EXPECT_EQ((*inputs)[1].meta.shape, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ((*inputs)[1].bytes.size(), 2u * 5 * 8);
  ASSERT_TRUE(ParseShapeFlag("ids:1,7", &o.shapes).ok());  // full shape
  EXPECT_EQ((*ResolveInputs(md, o))[1].meta.shape, (std::vector<int64_t>{1, 7}));
  EXPECT_FALSE(ParseShapeFlag("ids", &o.shapes).ok());
  EXPECT_FALSE(ParseShapeFlag("ids:a,2", &o.shapes).ok());
}

TEST(WorkloadTest, ZeroDataAndKServeJson) {
  ModelMetadata md = *ParseModelMetadata(kMetadata);
  WorkloadOptions o;
  o.model_name = "mlp";
  o.input_data = "zero";
  ParseShapeFlag("ids:2", &o.shapes).IgnoreError();
  auto inputs = *ResolveInputs(md, o);
  auto spec = BuildRequest(inputs, o);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->path, "/v2/models/mlp/infer");
  EXPECT_EQ(spec->content_type, "application/json");
  EXPECT_EQ(spec->body,
            R"({"inputs":[{"name":"INPUT__0","shape":[1,3],"datatype":"FP32","data":[0,0,0]},)"
            R"({"name":"ids","shape":[1,2],"datatype":"INT64","data":[0,0]}]})");
  // Round trip through the JSON loader.
  auto back = LoadJsonInputs(spec->body);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].meta.datatype, DataType::kInt64);
  EXPECT_EQ((*back)[1].bytes, inputs[1].bytes);
}

TEST(WorkloadTest, BinaryBodyHasHeaderLength) {
  InputTensor t;
  t.meta = {"x", DataType::kFp32, {1, 2}};
  float v[2] = {1.5f, -2.0f};
  t.bytes.assign(reinterpret_cast<const char*>(v), sizeof(v));
  WorkloadOptions o;
  o.model_name = "m";
  o.model_version = "3";
  o.binary = true;
  auto spec = BuildRequest({t}, o);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->path, "/v2/models/m/versions/3/infer");
  EXPECT_EQ(spec->content_type, "application/octet-stream");
  ASSERT_EQ(spec->headers.size(), 1u);
  EXPECT_EQ(spec->headers[0].first, "Inference-Header-Content-Length");
  const size_t json_len = std::stoul(spec->headers[0].second);
  ASSERT_EQ(spec->body.size(), json_len + 8);
  EXPECT_EQ(spec->body.substr(0, json_len),
            R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],)"
            R"("parameters":{"binary_data_output":true}})");
  EXPECT_EQ(std::memcmp(spec->body.data() + json_len, v, 8), 0);
}

TEST(WorkloadTest, PredictBodyIsFlatData) {
  InputTensor t;
  t.meta = {"data", DataType::kFp32, {2, 2}};
  float v[4] = {0.5f, 1, 2, 0.25f};
  t.bytes.assign(reinterpret_cast<const char*>(v), sizeof(v));
  WorkloadOptions o;
  o.api = ApiKind::kPredict;
  auto spec = BuildRequest({t}, o);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->path, "/predict");
  EXPECT_EQ(spec->body, R"({"data":[0.5,1,2,0.25]})");
  o.binary = true;
  EXPECT_FALSE(BuildRequest({t}, o).ok());
}

TEST(WorkloadTest, LoadsNpy) {
  float v[6] = {1, 2, 3, 4, 5, 6};
  std::string file = NpyFile("<f4", "(2, 3)", std::string(reinterpret_cast<char*>(v), sizeof(v)));
  auto t = LoadNpy(file, "x");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->meta.datatype, DataType::kFp32);
  EXPECT_EQ(t->meta.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(TensorDataJson(*t), "[1,2,3,4,5,6]");
  int64_t ids[3] = {7, 8, -9};
  auto i = LoadNpy(NpyFile("<i8", "(3,)", std::string(reinterpret_cast<char*>(ids), sizeof(ids))), "ids");
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_EQ(i->meta.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(TensorDataJson(*i), "[7,8,-9]");
  EXPECT_FALSE(LoadNpy(NpyFile(">f4", "(1,)", "abcd"), "x").ok());  // big-endian
  EXPECT_FALSE(LoadNpy(NpyFile("<f4", "(2,)", "abcd"), "x").ok());  // short data
  EXPECT_FALSE(LoadNpy("garbage", "x").ok());

  // Through ResolveInputs: the file feeds the model's single input, batch dim prepended.
  const std::string path = ::testing::TempDir() + "/bench_in.npy";
  std::ofstream(path, std::ios::binary) << NpyFile("<f4", "(3,)", std::string(reinterpret_cast<char*>(v), 12));
  ModelMetadata md{"m", {{"INPUT__0", DataType::kFp32, {-1, 3}}}};
  WorkloadOptions o;
  o.input_data = path;
  auto inputs = ResolveInputs(md, o);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ((*inputs)[0].meta.name, "INPUT__0");
  EXPECT_EQ((*inputs)[0].meta.shape, (std::vector<int64_t>{1, 3}));
}

TEST(WorkloadTest, LoadsSeedStyleJson) {
  auto t = LoadJsonInputs(R"({"data": [[0.1, 0.2], [0.3, 0.4]]})");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].meta.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ((*t)[0].bytes.size(), 16u);
  EXPECT_FALSE(LoadJsonInputs(R"({"foo": 1})").ok());
}

}  // namespace
}  // namespace ptserve::bench
