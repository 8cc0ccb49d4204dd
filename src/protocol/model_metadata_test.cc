#include "protocol/model_metadata.h"

#include "gtest/gtest.h"

namespace ptserve {
namespace {

TEST(ModelMetadataTest, Json) {
  ModelMetadata m;
  m.name = "m\"x";
  m.versions = {"2", "1"};
  m.platform = "pytorch_libtorch";
  m.inputs.push_back({"x", DataType::kFp32, {-1, 4}});
  m.outputs.push_back({"y", DataType::kInt64, {3}});
  m.max_batch_size = 8;
  EXPECT_EQ(ModelMetadataJson(m),
            "{\"name\":\"m\\\"x\",\"versions\":[\"2\",\"1\"],\"platform\":\"pytorch_libtorch\","
            "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
            "\"outputs\":[{\"name\":\"y\",\"datatype\":\"INT64\",\"shape\":[3]}],"
            "\"max_batch_size\":8}");
}

TEST(ModelMetadataTest, ServerJson) {
  EXPECT_EQ(ServerMetadataJson({"ptserve", "0.1.0", {"a", "b"}}),
            "{\"name\":\"ptserve\",\"version\":\"0.1.0\",\"extensions\":[\"a\",\"b\"]}");
}

}  // namespace
}  // namespace ptserve
