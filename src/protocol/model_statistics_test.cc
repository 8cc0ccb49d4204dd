#include "protocol/model_statistics.h"

#include <gtest/gtest.h>

namespace ptserve {
namespace {

TEST(ModelStatisticsJsonTest, TritonShape) {
  ModelStatistics s;
  s.name = "mlp";
  s.version = "1";
  s.last_inference_ms = 1700000000123;
  s.inference_count = 12;
  s.success_count = 10;
  s.success_ns = 5000;
  s.failure_count = 2;
  s.failure_ns = 300;
  s.queue_ns = 1000;
  s.compute_ns = 3000;
  s.execution_count = 4;
  s.batch_stats = {{1, 2, 800}, {5, 1, 1200}};
  EXPECT_EQ(ModelStatisticsJson({s}),
            R"({"model_stats":[{"name":"mlp","version":"1","last_inference":1700000000123,)"
            R"("inference_count":12,"execution_count":4,)"
            R"("inference_stats":{"success":{"count":10,"ns":5000},)"
            R"("fail":{"count":2,"ns":300},"queue":{"count":10,"ns":1000},)"
            R"("compute_infer":{"count":10,"ns":3000}},)"
            R"("batch_stats":[{"batch_size":1,"compute_infer":{"count":2,"ns":800}},)"
            R"({"batch_size":5,"compute_infer":{"count":1,"ns":1200}}]}]})");
  EXPECT_EQ(ModelStatisticsJson({}), R"({"model_stats":[]})");
}

}  // namespace
}  // namespace ptserve
