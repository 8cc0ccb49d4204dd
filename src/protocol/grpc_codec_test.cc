#include "protocol/grpc_codec.h"

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using inference::ModelInferRequest;
using ::testing::HasSubstr;

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest& m, const std::string& name,
                                              const std::string& datatype, Shape shape) {
  auto* input = m.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t d : shape) input->add_shape(d);
  return input;
}

std::string Error(ModelInferRequest m) {
  auto r = DecodeGrpcInferRequest(m);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST(GrpcCodecTest, TypedContents) {
  ModelInferRequest m;
  m.set_model_name("mlp");
  m.set_id("r1");
  auto* x = AddInput(m, "x", "FP32", {1, 3});
  for (float v : {1.f, 2.f, 3.f}) x->mutable_contents()->add_fp32_contents(v);
  auto* ids = AddInput(m, "ids", "INT8", {2});
  ids->mutable_contents()->add_int_contents(-5);
  ids->mutable_contents()->add_int_contents(7);
  auto* s = AddInput(m, "s", "BYTES", {1});
  s->mutable_contents()->add_bytes_contents("hi");
  (*m.mutable_parameters())["timeout"].set_int64_param(1500);
  m.add_outputs()->set_name("y");
  auto r = DecodeGrpcInferRequest(m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model_name, "mlp");
  EXPECT_EQ(r->id, "r1");
  EXPECT_EQ(r->timeout_us, 1500);
  ASSERT_EQ(r->inputs.size(), 3u);
  EXPECT_EQ(r->inputs[0].tensor.shape(), (Shape{1, 3}));
  EXPECT_EQ(r->inputs[0].tensor.data_as<float>()[2], 3.f);
  EXPECT_EQ(r->inputs[1].tensor.data_as<int8_t>()[0], -5);
  EXPECT_EQ(r->inputs[2].tensor.byte_size(), 6u);
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].name, "y");
}

TEST(GrpcCodecTest, RawContentsAreMovedNotCopied) {
  ModelInferRequest m;
  AddInput(m, "x", "INT64", {2});
  std::string bytes(16, '\0');
  int64_t values[2] = {42, -1};
  std::memcpy(bytes.data(), values, 16);
  m.add_raw_input_contents(bytes);
  const char* data = m.raw_input_contents(0).data();
  auto r = DecodeGrpcInferRequest(m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(reinterpret_cast<const char*>(r->inputs[0].tensor.data()), data);
  EXPECT_EQ(r->inputs[0].tensor.data_as<int64_t>()[1], -1);
}

TEST(GrpcCodecTest, HostileInputsAreInvalidArgument) {
  ModelInferRequest empty;
  EXPECT_THAT(Error(empty), HasSubstr("no inputs"));

  ModelInferRequest wrong_size;
  AddInput(wrong_size, "x", "FP32", {1, 4});
  wrong_size.add_raw_input_contents(std::string(15, '\0'));
  EXPECT_THAT(Error(wrong_size), HasSubstr("has 15 bytes but shape [1,4] of FP32 needs 16"));

  ModelInferRequest unknown_type;
  AddInput(unknown_type, "x", "FLOAT", {1});
  EXPECT_THAT(Error(unknown_type), HasSubstr("unknown datatype 'FLOAT'"));

  ModelInferRequest count;
  AddInput(count, "x", "INT64", {3})->mutable_contents()->add_int_contents(1);
  EXPECT_THAT(Error(count), HasSubstr("INT64 data goes in int64_contents"));

  ModelInferRequest range;
  AddInput(range, "x", "UINT8", {1})->mutable_contents()->add_uint_contents(300);
  EXPECT_THAT(Error(range), HasSubstr("out of range for UINT8"));

  ModelInferRequest negative;
  AddInput(negative, "x", "FP32", {-1});
  EXPECT_THAT(Error(negative), HasSubstr("input 'x': shape"));

  ModelInferRequest huge;
  AddInput(huge, "x", "FP32", {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_THAT(Error(huge), HasSubstr("input 'x'"));

  ModelInferRequest mismatch;
  AddInput(mismatch, "a", "FP32", {0});
  AddInput(mismatch, "b", "FP32", {0});
  mismatch.add_raw_input_contents("");
  EXPECT_THAT(Error(mismatch), HasSubstr("raw_input_contents has 1 entries but the request has 2"));

  ModelInferRequest bytes;
  AddInput(bytes, "s", "BYTES", {1});
  bytes.add_raw_input_contents(std::string("\xff\0\0\0ab", 6));
  EXPECT_THAT(Error(bytes), HasSubstr("raw BYTES element 0 has length 255"));

  ModelInferRequest fp16;
  AddInput(fp16, "h", "FP16", {1})->mutable_contents()->add_fp32_contents(1);
  EXPECT_THAT(Error(fp16), HasSubstr("FP16 data can only be sent in raw_input_contents"));

  ModelInferRequest twice;
  AddInput(twice, "x", "FP32", {0});
  AddInput(twice, "x", "FP32", {0});
  EXPECT_THAT(Error(twice), HasSubstr("given twice"));

  ModelInferRequest timeout;
  AddInput(timeout, "x", "FP32", {0});
  (*timeout.mutable_parameters())["timeout"].set_string_param("soon");
  EXPECT_THAT(Error(timeout), HasSubstr("'timeout' must be a non-negative integer"));
}

TEST(GrpcCodecTest, EncodesRawOutputs) {
  InferenceResponse response;
  response.model_name = "mlp";
  response.model_version = "1";
  response.id = "r1";
  response.timing.batch_size = 3;
  Tensor t = Tensor::Allocate(DataType::kFp32, {1, 2}).value();
  reinterpret_cast<float*>(t.mutable_data())[1] = 2.5f;
  response.outputs.push_back({"y", t});
  inference::ModelInferResponse out;
  EncodeGrpcInferResponse(response, &out);
  EXPECT_EQ(out.model_name(), "mlp");
  EXPECT_EQ(out.id(), "r1");
  ASSERT_EQ(out.outputs_size(), 1);
  EXPECT_EQ(out.outputs(0).datatype(), "FP32");
  EXPECT_EQ(out.outputs(0).shape_size(), 2);
  ASSERT_EQ(out.raw_output_contents_size(), 1);
  float v;
  std::memcpy(&v, out.raw_output_contents(0).data() + 4, 4);
  EXPECT_EQ(v, 2.5f);
  EXPECT_EQ(out.parameters().at("batch_size").int64_param(), 3);
}

}  // namespace
}  // namespace ptserve
