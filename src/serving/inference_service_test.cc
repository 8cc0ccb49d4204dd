// InferenceService on a fake backend (an echo model, no libtorch): target
// resolution, A/B routing, errors before and after queueing, readiness,
// metadata and per-request metrics.
#include "serving/inference_service.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EchoInstance : public ModelInstance {
 public:
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    return std::vector<Tensor>{inputs[0]};
  }
};

class EchoModel : public LoadedModel {
 public:
  explicit EchoModel(const BackendLoadRequest& r) : inputs_(r.inputs), outputs_(r.outputs) {}
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const InstanceOptions&) override {
    return std::make_unique<EchoInstance>();
  }

 private:
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<std::string> notes_;
};

class FakeBackend : public Backend {
 public:
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& r) override {
    return std::make_shared<EchoModel>(r);
  }
};

constexpr char kEchoConfig[] = R"pb(
  max_batch_size: 4
  input {
    name: "x"
    data_type: TYPE_FP32
    dims: [ 2 ]
  }
  output {
    name: "y"
    data_type: TYPE_FP32
    dims: [ 2 ]
  }
)pb";

struct Answer {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  InferenceService::ServedBy by;
  std::vector<float> output;
};

class InferenceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ptserve-serving-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    // Drain first: a request's metrics and statistics are recorded after its `done` ran, on the
    // scheduler's thread, so the service outlives every queued and running request.
    if (repo_) repo_->UnloadAll();
    ModelVersion::WaitForDeferredDestruction();
    service_.reset();
    repo_.reset();
    fs::remove_all(root_);
  }
  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  void AddModel(const std::string& name, std::vector<int> versions = {1}) {
    Write(root_ / name / "config.pbtxt", kEchoConfig);
    for (int v : versions) Write(root_ / name / std::to_string(v) / "model.pt", "model");
  }
  InferenceService& Service() {
    if (!service_) {
      ModelRepository::Options options;
      options.root = root_.string();
      options.backend = &backend_;
      options.metrics = &metrics_;
      repo_ = ModelRepository::Create(options).value();
      repo_->LoadAll();
      service_ = std::make_unique<InferenceService>(InferenceService::Options{.metrics = &metrics_},
                                                    repo_.get());
    }
    return *service_;
  }
  static InferenceRequest Request(std::vector<float> values) {
    InferenceRequest request;
    Tensor t = Tensor::Allocate(DataType::kFp32, {1, static_cast<int64_t>(values.size())}).value();
    std::memcpy(t.mutable_data(), values.data(), values.size() * sizeof(float));
    request.inputs.push_back({"x", t});
    return request;
  }
  Answer Infer(const std::string& name, InferenceRequest request,
               std::map<std::string, std::string> headers = {}) {
    std::promise<Answer> promise;
    const auto call = InferenceService::StartCall("id-1", "test", nullptr);
    Service().Infer(
        call, name, "",
        [&headers](std::string_view key) {
          auto it = headers.find(std::string(key));
          return it == headers.end() ? std::string() : it->second;
        },
        std::move(request),
        [&promise](absl::StatusOr<InferenceResponse> r, const InferenceService::ServedBy& by) {
          Answer a;
          a.code = r.status().code();
          a.message = std::string(r.status().message());
          a.by = by;
          if (r.ok() && !r->outputs.empty()) {
            const Tensor& t = r->outputs[0].tensor;
            a.output.assign(t.data_as<float>(), t.data_as<float>() + t.element_count());
          }
          promise.set_value(std::move(a));
        });
    return promise.get_future().get();
  }

  fs::path root_;
  FakeBackend backend_;
  metrics::InferenceMetrics metrics_{metrics::InferenceMetrics::Options{.process_metrics = false}};
  std::unique_ptr<ModelRepository> repo_;
  std::unique_ptr<InferenceService> service_;
};

TEST_F(InferenceServiceTest, ServesAndCountsARequest) {
  AddModel("echo", {1, 2});
  Answer a = Infer("echo", Request({1.5f, -2}));
  ASSERT_EQ(a.code, absl::StatusCode::kOk) << a.message;
  EXPECT_THAT(a.output, ElementsAre(1.5f, -2));
  EXPECT_EQ(a.by.model, "echo");
  EXPECT_EQ(a.by.version, "2");
  EXPECT_EQ(a.by.variant, "");
  // Counted just after the answer, on the scheduler's thread.
  for (int i = 0; i < 500 && Service().Statistics("echo", "")->at(0).success_count < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("ptserve_inference_requests_total{model=\"echo\",version=\"2\","
                        "variant=\"\",outcome=\"success\"} 1"));
}

TEST_F(InferenceServiceTest, UnknownModelIsNotFoundAndNotCounted) {
  AddModel("echo");
  Answer a = Infer("nope", Request({1, 2}));
  EXPECT_EQ(a.code, absl::StatusCode::kNotFound);
  EXPECT_THAT(metrics_.Scrape(), ::testing::Not(HasSubstr("model=\"nope\"")));
}

TEST_F(InferenceServiceTest, BadRequestsAreClientErrorsOnTheModel) {
  AddModel("echo");
  Answer a = Infer("echo", Request({1, 2, 3}));  // dims [2]
  EXPECT_EQ(a.code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.by.version, "1");
  // An error from `prepare` (the front end's decoding) is counted the same way.
  std::promise<absl::Status> done;
  const auto call = InferenceService::StartCall("id-2", "test", nullptr);
  auto cancel = Service().Infer(
      call, "echo", "", nullptr,
      [](const ModelVersion&) -> absl::StatusOr<InferenceRequest> {
        return absl::InvalidArgumentError("bad body");
      },
      [&done](absl::StatusOr<InferenceResponse> r, const InferenceService::ServedBy&) {
        done.set_value(absl::Status(r.status().code(), std::string(r.status().message())));
      });
  EXPECT_EQ(cancel, nullptr);
  EXPECT_EQ(done.get_future().get().message(), "bad body");
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("ptserve_inference_requests_total{model=\"echo\",version=\"1\","
                        "variant=\"\",outcome=\"client_error\"} 2"));
}

TEST_F(InferenceServiceTest, RoutesByWeightStickyKeyAndForcedVariant) {
  AddModel("a");
  AddModel("b");
  Write(root_ / "ab" / "config.pbtxt", R"pb(
    routing {
      variant { name: "control" model: "a" weight: 1 }
      variant { name: "candidate" model: "b" weight: 0 }
      variant { name: "mirror" model: "b" shadow: true }
    })pb");
  Answer a = Infer("ab", Request({1, 2}));
  ASSERT_EQ(a.code, absl::StatusCode::kOk) << a.message;
  EXPECT_EQ(a.by.variant, "control");
  EXPECT_EQ(a.by.model, "a");
  a = Infer("ab", Request({1, 2}), {{"x-variant", "candidate"}});
  ASSERT_EQ(a.code, absl::StatusCode::kOk) << a.message;
  EXPECT_EQ(a.by.variant, "candidate");
  EXPECT_EQ(a.by.model, "b");
  a = Infer("ab", Request({1, 2}), {{"x-variant", "nope"}});
  EXPECT_EQ(a.code, absl::StatusCode::kInvalidArgument);
  // The shadow got copies; its answers are compared with the primary's.
  auto router = repo_->Router("ab");
  ASSERT_NE(router, nullptr);
  for (int i = 0; i < 200 && router->Stats()["mirror"].requests < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(router->Stats()["mirror"].requests, 2u);
}

TEST_F(InferenceServiceTest, ReadinessAndMetadata) {
  AddModel("echo", {1, 3});
  EXPECT_TRUE(Service().Ready().ok());
  EXPECT_TRUE(Service().ModelReady("echo", "3", nullptr).ok());
  // The default version policy serves the newest version only.
  EXPECT_EQ(Service().ModelReady("echo", "1", nullptr).code(), absl::StatusCode::kNotFound);
  auto metadata = Service().Metadata("echo", "", nullptr);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_THAT(metadata->versions, ElementsAre("3"));
  EXPECT_EQ(metadata->platform, "pytorch_libtorch");
  ASSERT_EQ(metadata->inputs.size(), 1u);
  EXPECT_EQ(metadata->inputs[0].name, "x");
  EXPECT_THAT(metadata->inputs[0].shape, ElementsAre(-1, 2));
  EXPECT_EQ(metadata->max_batch_size, 4);
  EXPECT_EQ(Service().Metadata().name, "ptserve");
  Service().SetShuttingDown();
  EXPECT_EQ(Service().Ready().code(), absl::StatusCode::kUnavailable);
}

TEST_F(InferenceServiceTest, StatisticsCountRequestsPerVersion) {
  AddModel("echo");
  AddModel("other");
  ASSERT_EQ(Infer("echo", Request({1, 2})).code, absl::StatusCode::kOk);
  InferenceRequest two_rows;
  two_rows.inputs.push_back({"x", Tensor::Allocate(DataType::kFp32, {2, 2}).value()});
  ASSERT_EQ(Infer("echo", std::move(two_rows)).code, absl::StatusCode::kOk);
  ASSERT_EQ(Infer("echo", Request({1})).code, absl::StatusCode::kInvalidArgument);
  // Recorded just after each answer, on the scheduler's thread.
  for (int i = 0; i < 500 && Service().Statistics("echo", "")->at(0).success_count < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto stats = Service().Statistics("echo", "");
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  const ModelStatistics& s = (*stats)[0];
  EXPECT_EQ(s.version, "1");
  EXPECT_EQ(s.success_count, 2u);
  EXPECT_EQ(s.failure_count, 1u);
  EXPECT_EQ(s.inference_count, 3u);
  EXPECT_GT(s.last_inference_ms, 0u);
  auto all = Service().Statistics("", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(Service().Statistics("nope", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Service().Statistics("echo", "9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Service().Statistics("../x", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IsServerErrorTest, FollowsTheHttpTable) {
  EXPECT_FALSE(IsServerError(absl::OkStatus()));
  EXPECT_FALSE(IsServerError(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsServerError(absl::NotFoundError("")));
  EXPECT_FALSE(IsServerError(absl::ResourceExhaustedError("")));
  EXPECT_TRUE(IsServerError(absl::UnavailableError("")));
  EXPECT_TRUE(IsServerError(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsServerError(absl::InternalError("")));
  EXPECT_TRUE(IsServerError(absl::UnimplementedError("")));
}

}  // namespace
}  // namespace ptserve
