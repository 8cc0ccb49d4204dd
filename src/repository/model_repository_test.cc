// ModelRepository with a fake backend: a model that cannot load fails alone,
// whatever the reason (a bad config, a file outside its directory, an
// exception from the backend), and readiness follows Triton's rules.
#include "repository/model_repository.h"

#include <filesystem>
#include <fstream>
#include <future>
#include <new>
#include <stdexcept>
#include <system_error>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Echoes its inputs. Behaviour by model name:
//   "alloc"   Load() throws std::bad_alloc
//   "threads" CreateInstance() throws std::system_error
//   "boom"    Execute() throws std::runtime_error (so warm-up fails)
//   "slow"    Execute() waits for FakeBackend::gate once the test sets it
class EchoInstance : public ModelInstance {
 public:
  EchoInstance(bool throws, const std::shared_future<void>* gate) : throws_(throws), gate_(gate) {}
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    if (throws_) throw std::runtime_error("kaboom");
    if (gate_ != nullptr && gate_->valid()) gate_->wait();
    return std::vector<Tensor>{inputs[0]};
  }

 private:
  bool throws_;
  const std::shared_future<void>* gate_;  // null: never waits
};

class EchoModel : public LoadedModel {
 public:
  EchoModel(const BackendLoadRequest& r, const std::shared_future<void>* gate)
      : name_(r.model_name), gate_(gate) {
    inputs_ = r.inputs;
    if (inputs_.empty()) inputs_.push_back({.name = "x", .dtype = DataType::kFp32, .dims = {4}});
    outputs_ = r.outputs;
    if (outputs_.empty()) outputs_.push_back({.name = "y", .dtype = DataType::kFp32, .dims = {4}});
  }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const InstanceOptions&) override {
    if (name_ == "threads") {
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                              "thread creation");
    }
    return std::make_unique<EchoInstance>(name_ == "boom", name_ == "slow" ? gate_ : nullptr);
  }

 private:
  std::string name_;
  const std::shared_future<void>* gate_;
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<std::string> notes_;
};

class FakeBackend : public Backend {
 public:
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& r) override {
    if (r.model_name == "alloc") throw std::bad_alloc();
    loaded_files.push_back((fs::path(r.version_dir) / r.model_file).string());
    return std::make_shared<EchoModel>(r, &gate);
  }
  std::vector<std::string> loaded_files;
  // Model "slow" waits for it once set (after its load: warm-up runs through). Set before the
  // requests it should hold are enqueued, which orders the write before the instances' reads.
  std::shared_future<void> gate;
};

// Under ThreadSanitizer, parsing a config with map fields (parameters,
// warm-up inputs) crashes inside Debian's prebuilt libprotobuf, whose layout
// disagrees with the instrumented headers; those tests run in normal builds.
#if defined(__SANITIZE_THREAD__)
#define SKIP_IF_TSAN_WITH_PROTO_MAPS() GTEST_SKIP() << "protobuf map fields under TSan"
#else
#define SKIP_IF_TSAN_WITH_PROTO_MAPS() (void)0
#endif

constexpr char kGoodConfig[] = R"pb(
  max_batch_size: 4
  input { name: "x" data_type: TYPE_FP32 dims: [4] }
  output { name: "y" data_type: TYPE_FP32 dims: [4] }
)pb";

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ptserve-repo-XXXXXX";
    root_ = mkdtemp(tmpl);
    fs::create_directories(root_.parent_path() / (root_.filename().string() + "-outside"));
    outside_ = root_.parent_path() / (root_.filename().string() + "-outside");
    Write(outside_ / "secret.pt", "secret");
  }
  void TearDown() override {
    repo_.reset();
    fs::remove_all(root_);
    fs::remove_all(outside_);
  }

  static void Write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  void AddModel(const std::string& name, const std::string& config = kGoodConfig,
                int version = 1) {
    Write(root_ / name / "config.pbtxt", config);
    Write(root_ / name / std::to_string(version) / "model.pt", "model");
  }
  ModelRepository& Repo(bool strict = true) {
    if (!repo_) {
      ModelRepository::Options options;
      options.root = root_.string();
      options.backend = &backend_;
      options.strict_readiness = strict;
      options.load_operator_library = load_operator_library_;
      repo_ = ModelRepository::Create(options).value();
    }
    return *repo_;
  }
  RepositoryIndexEntry Entry(const std::string& name, const std::string& version = "") {
    for (const RepositoryIndexEntry& e : Repo().Index(false)) {
      if (e.name == name && e.version == version) return e;
    }
    return {};
  }
  absl::StatusOr<config::ModelConfig> Override(const std::string& extra) {
    config::ModelConfig config;
    config.set_max_batch_size(4);
    auto* in = config.add_input();
    in->set_name("x");
    in->set_data_type(config::TYPE_FP32);
    in->add_dims(4);
    auto* out = config.add_output();
    out->set_name("y");
    out->set_data_type(config::TYPE_FP32);
    out->add_dims(4);
    if (extra == "absolute") config.set_default_model_filename((outside_ / "secret.pt").string());
    if (extra == "dotdot") config.set_default_model_filename("../../secret.pt");
    if (extra == "link") config.set_default_model_filename("link.pt");
    if (extra == "instances") config.add_instance_group()->set_count(1000000);
    return config;
  }
  absl::Status Infer(const std::string& name, Shape shape) {
    auto version = Repo().Get(name, "");
    if (!version.ok()) return version.status();
    InferenceRequest request;
    request.inputs.push_back({"x", Tensor::Allocate(DataType::kFp32, shape).value()});
    std::promise<absl::Status> done;
    auto ticket = (*version)->Infer(std::move(request), [&done](auto r) {
      // A deep copy (Abseil is not built with ThreadSanitizer; see below).
      done.set_value(absl::Status(r.status().code(), std::string(r.status().message())));
    });
    if (!ticket.ok()) return ticket.status();
    return done.get_future().get();
  }

  fs::path root_, outside_;
  FakeBackend backend_;
  std::function<absl::Status(const std::string&, const std::string&)> load_operator_library_;
  std::unique_ptr<ModelRepository> repo_;
};

TEST_F(RepositoryTest, ExceptionsFromTheBackendFailOneModelOnly) {
  AddModel("good");
  AddModel("alloc");
  AddModel("threads");
  AddModel("boom");
  EXPECT_EQ(Repo().LoadAll(), 3);
  EXPECT_TRUE(Infer("good", {1, 4}).ok());
  EXPECT_THAT(Entry("alloc", "1").reason, HasSubstr("out of memory (std::bad_alloc)"));
  EXPECT_EQ(Entry("alloc", "1").state, ModelState::kUnavailable);
  EXPECT_THAT(Entry("threads", "1").reason, HasSubstr("std::system_error"));
  EXPECT_THAT(Entry("boom", "1").reason, HasSubstr("warm-up failed"));
  EXPECT_THAT(Entry("boom", "1").reason, HasSubstr("kaboom"));
  EXPECT_FALSE(Repo().AllReady());
  EXPECT_EQ(Repo().Get("alloc", "").status().code(), absl::StatusCode::kUnavailable);
  // The others serve on; unloading the broken ones makes the server ready.
  for (const char* name : {"alloc", "threads", "boom"}) ASSERT_TRUE(Repo().Unload(name).ok());
  EXPECT_TRUE(Repo().AllReady());
  EXPECT_TRUE(Infer("good", {2, 4}).ok());
}

TEST_F(RepositoryTest, HostileConfigsFailWithTheirReason) {
  AddModel("good");
  AddModel("dims", R"pb(max_batch_size: 64
    input { name: "x" data_type: TYPE_FP32 dims: [1000000000, 1000000000] }
    output { name: "y" data_type: TYPE_FP32 dims: [4] })pb");
  AddModel("batch", R"pb(max_batch_size: 2147483647
    input { name: "x" data_type: TYPE_FP32 dims: [-1] })pb");
  AddModel("levels", R"pb(max_batch_size: 4 dynamic_batching { priority_levels: 2000000000
    default_priority_level: 1 })pb");
  AddModel("count", "instance_group { count: 1000000 }");
  EXPECT_EQ(Repo().LoadAll(), 4);
  EXPECT_THAT(Entry("dims").reason, HasSubstr("input[0].dims"));
  EXPECT_THAT(Entry("batch").reason, HasSubstr("max_batch_size: must be in [0, 65536]"));
  EXPECT_THAT(Entry("levels").reason, HasSubstr("priority_levels: must be in [0, 1024]"));
  EXPECT_THAT(Entry("count").reason, HasSubstr("instance_group[0].count: must be in [0, 256]"));
  EXPECT_TRUE(Infer("good", {1, 4}).ok());
}

TEST_F(RepositoryTest, OverridesCannotReachOutsideTheModelDirectory) {
  AddModel("m");
  ASSERT_TRUE(Repo().Load("m").ok());
  for (const char* how : {"absolute", "dotdot"}) {
    absl::Status status = Repo().Load("m", Override(how).value());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << how;
    EXPECT_THAT(std::string(status.message()), HasSubstr("default_model_filename")) << how;
  }
  fs::create_symlink(outside_ / "secret.pt", root_ / "m" / "1" / "link.pt");
  absl::Status status = Repo().Load("m", Override("link").value());
  EXPECT_THAT(std::string(status.message()), HasSubstr("resolves outside"));
  status = Repo().Load("m", Override("instances").value());
  EXPECT_THAT(std::string(status.message()), HasSubstr("instance_group[0].count"));
  for (const std::string& file : backend_.loaded_files) {
    EXPECT_EQ(file.find("secret"), std::string::npos) << file;
  }
  // The previous load keeps serving, and the server stays ready.
  EXPECT_TRUE(Infer("m", {1, 4}).ok());
  EXPECT_TRUE(Repo().AllReady());
  EXPECT_EQ(Entry("m", "1").state, ModelState::kReady);
}

TEST_F(RepositoryTest, OperatorLibrariesLoadBeforeTheModelFromInsideItsDirectory) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  std::vector<std::pair<std::string, std::string>> loads;  // (path, origin)
  load_operator_library_ = [&](const std::string& path, const std::string& origin) {
    loads.emplace_back(path, origin);
    if (absl::EndsWith(path, "broken.so")) {
      return absl::InvalidArgumentError("operator library " + path + ": not a shared library");
    }
    return absl::OkStatus();
  };
  auto with = [](const std::string& libraries) {
    return std::string(kGoodConfig) + "parameters { key: \"OPERATOR_LIBRARIES\" value { " +
           "string_value: \"" + libraries + "\" } }";
  };
  AddModel("ops", with("lib/libops.so"));
  Write(root_ / "ops" / "lib" / "libops.so", "elf");
  AddModel("broken", with("broken.so"));
  Write(root_ / "broken" / "broken.so", "text");
  AddModel("missing", with("libnothere.so"));
  AddModel("escape", with("../ops/lib/libops.so"));
  AddModel("link", with("libsecret.so"));
  fs::create_symlink(outside_ / "secret.pt", root_ / "link" / "libsecret.so");
  AddModel("plain");
  EXPECT_EQ(Repo().LoadAll(), 4);
  EXPECT_TRUE(Infer("ops", {1, 4}).ok());
  EXPECT_TRUE(Infer("plain", {1, 4}).ok());
  EXPECT_THAT(Entry("broken", "1").reason, HasSubstr("not a shared library"));
  EXPECT_THAT(Entry("missing", "1").reason, HasSubstr("OPERATOR_LIBRARIES: 'libnothere.so' does not exist"));
  EXPECT_THAT(Entry("escape").reason, HasSubstr("OPERATOR_LIBRARIES"));
  EXPECT_THAT(Entry("escape").reason, HasSubstr("'..'"));
  EXPECT_THAT(Entry("link", "1").reason, HasSubstr("resolves outside"));
  // Only the libraries inside their model's directory were handed to the loader.
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[0].first, fs::canonical(root_ / "broken" / "broken.so").string());
  EXPECT_EQ(loads[0].second, "model 'broken'");
  EXPECT_EQ(loads[1].first, fs::canonical(root_ / "ops" / "lib" / "libops.so").string());
  // The model that failed to get its library never reached the backend.
  for (const std::string& file : backend_.loaded_files) {
    EXPECT_EQ(file.find("broken"), std::string::npos) << file;
  }
}

TEST_F(RepositoryTest, OperatorLibrariesNeedALoader) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  AddModel("ops", std::string(kGoodConfig) +
                      "parameters { key: \"OPERATOR_LIBRARIES\" value { string_value: \"l.so\" } }");
  Write(root_ / "ops" / "l.so", "elf");
  EXPECT_EQ(Repo().LoadAll(), 1);
  EXPECT_THAT(Entry("ops", "1").reason, HasSubstr("loads no operator libraries"));
}

TEST_F(RepositoryTest, WarmupFilesAreConfinedAndSizeChecked) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  const std::string head = R"pb(max_batch_size: 4
    input { name: "x" data_type: TYPE_FP32 dims: [4] }
    output { name: "y" data_type: TYPE_FP32 dims: [4] }
    model_warmup { name: "w" batch_size: 2 inputs { key: "x" value { data_type: TYPE_FP32
      dims: [4] input_data_file: ")pb";
  AddModel("ok", head + "x.bin\" } } }");
  Write(root_ / "ok" / "warmup" / "x.bin", std::string(2 * 4 * 4, '\0'));
  AddModel("size", head + "x.bin\" } } }");
  Write(root_ / "size" / "warmup" / "x.bin", std::string(7, '\0'));
  AddModel("zero", head + "zero.bin\" } } }");
  fs::create_directories(root_ / "zero" / "warmup");
  fs::create_symlink("/dev/zero", root_ / "zero" / "warmup" / "zero.bin");
  AddModel("escape", head + "../../x.bin\" } } }");
  AddModel("secret", head + "s.bin\" } } }");
  fs::create_directories(root_ / "secret" / "warmup");
  fs::create_symlink(outside_ / "secret.pt", root_ / "secret" / "warmup" / "s.bin");
  EXPECT_EQ(Repo().LoadAll(), 4);
  EXPECT_TRUE(Infer("ok", {1, 4}).ok());
  EXPECT_THAT(Entry("size", "1").reason, HasSubstr("has 7 bytes, expected 32"));
  EXPECT_THAT(Entry("zero", "1").reason, HasSubstr("resolves outside"));
  EXPECT_THAT(Entry("escape").reason, HasSubstr("has a '..' component"));
  EXPECT_THAT(Entry("secret", "1").reason, HasSubstr("resolves outside"));
  // The size of a file outside is never revealed.
  EXPECT_THAT(Entry("secret", "1").reason, ::testing::Not(HasSubstr("6 bytes")));
}

TEST_F(RepositoryTest, ReadinessFollowsTriton) {
  AddModel("m");
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_TRUE(Repo().AllReady());
  // A model that is not in the repository: NotFound, no trace, still ready.
  absl::Status missing = Repo().Load("nope");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Repo().AllReady());
  EXPECT_EQ(Repo().Get("nope", "").status().code(), absl::StatusCode::kNotFound);
  // A failed reload while version 1 keeps serving: still ready.
  Write(root_ / "m" / "2" / "model.pt", "model");
  Write(root_ / "m" / "config.pbtxt", std::string(kGoodConfig) + "instance_group { count: -1 }");
  EXPECT_FALSE(Repo().Load("m").ok());
  EXPECT_TRUE(Repo().AllReady());
  EXPECT_TRUE(Infer("m", {1, 4}).ok());
  EXPECT_EQ(Entry("m", "1").state, ModelState::kReady);
  EXPECT_EQ(Entry("m").state, ModelState::kUnavailable);
  EXPECT_THAT(Entry("m").reason, HasSubstr("instance_group[0].count"));
  EXPECT_THAT(Entry("m").reason, HasSubstr("the previous versions keep serving"));
  // A model that should serve and does not: not ready, until it is unloaded.
  AddModel("broken", "max_batch_size: -3");
  EXPECT_FALSE(Repo().Load("broken").ok());
  EXPECT_FALSE(Repo().AllReady());
  ASSERT_TRUE(Repo().Unload("broken").ok());
  EXPECT_TRUE(Repo().AllReady());
}

TEST_F(RepositoryTest, NonStrictReadinessIgnoresBrokenModels) {
  AddModel("broken", "max_batch_size: -3");
  Repo(/*strict=*/false).LoadAll();
  EXPECT_TRUE(Repo().AllReady());
}

TEST_F(RepositoryTest, SequenceLengthLimit) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  AddModel("text", R"pb(max_batch_size: 4
    input { name: "x" data_type: TYPE_FP32 dims: [-1] }
    output { name: "y" data_type: TYPE_FP32 dims: [-1] }
    parameters { key: "MAX_SEQUENCE_LENGTH" value { string_value: "16" } })pb");
  AddModel("dims", R"pb(max_batch_size: 4
    input { name: "x" data_type: TYPE_FP32 dims: [-1, -1] }
    output { name: "y" data_type: TYPE_FP32 dims: [-1, -1] }
    parameters { key: "MAX_INPUT_DIMS" value { string_value: "x:3x0" } })pb");
  EXPECT_EQ(Repo().LoadAll(), 0);
  EXPECT_TRUE(Infer("text", {2, 16}).ok());
  absl::Status status = Infer("text", {1, 30000});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("input 'x': dimension 1 has length 30000, more than model 'text' allows "
                        "(16, parameter MAX_SEQUENCE_LENGTH)"));
  EXPECT_TRUE(Infer("dims", {1, 3, 100000}).ok());  // 0: no limit on the second
  EXPECT_THAT(std::string(Infer("dims", {1, 4, 1}).message()),
              HasSubstr("dimension 1 has length 4, more than model 'dims' allows (3, parameter "
                        "MAX_INPUT_DIMS)"));
}

// The versions a policy selects are the versions that serve.
TEST_F(RepositoryTest, VersionPolicies) {
  SKIP_IF_TSAN_WITH_PROTO_MAPS();
  for (int v : {1, 2, 3})
    AddModel("latest2", std::string(kGoodConfig) + "version_policy { latest { num_versions: 2 } }",
             v);
  for (int v : {1, 2, 3})
    AddModel("all", std::string(kGoodConfig) + "version_policy { all {} }", v);
  for (int v : {1, 2, 3})
    AddModel("one", std::string(kGoodConfig) + "version_policy { specific { versions: [1] } }", v);
  for (int v : {1, 2, 3}) AddModel("default", kGoodConfig, v);
  EXPECT_EQ(Repo().LoadAll(), 0);
  auto versions = [&](const std::string& name) {
    std::vector<int64_t> out;
    for (const auto& v : Repo().Versions(name)) out.push_back(v->version());
    return out;
  };
  EXPECT_THAT(versions("latest2"), ::testing::ElementsAre(3, 2));
  EXPECT_THAT(versions("all"), ::testing::ElementsAre(3, 2, 1));
  EXPECT_THAT(versions("one"), ::testing::ElementsAre(1));
  EXPECT_THAT(versions("default"), ::testing::ElementsAre(3));
  EXPECT_EQ(Repo().Get("latest2", "").value()->version(), 3);
  EXPECT_EQ(Repo().Get("latest2", "2").value()->version(), 2);
  EXPECT_EQ(Repo().Get("latest2", "1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Repo().Get("one", "").value()->version(), 1);
  EXPECT_EQ(Repo().VersionState("all", "1"), ModelState::kReady);
  EXPECT_FALSE(Repo().VersionState("latest2", "1").has_value());  // never loaded
  EXPECT_EQ(Repo().invalid_transitions(), 0);
}

// A reload picks up a new version and retires the old one; a reload that
// fails keeps what serves, and the states say so.
TEST_F(RepositoryTest, ReloadsMoveThroughTheStateMachine) {
  AddModel("m");
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "1"), ModelState::kReady);
  std::shared_ptr<ModelVersion> first = Repo().Get("m", "").value();

  AddModel("m", kGoodConfig, 2);
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().Get("m", "").value()->version(), 2);
  EXPECT_EQ(Repo().VersionState("m", "2"), ModelState::kReady);
  EXPECT_EQ(Repo().VersionState("m", "1"), ModelState::kUnloaded);
  EXPECT_EQ(Repo().Get("m", "1").status().code(), absl::StatusCode::kNotFound);
  // A request that held the retired version still completes on it.
  InferenceRequest request;
  request.inputs.push_back({"x", Tensor::Allocate(DataType::kFp32, {1, 4}).value()});
  std::promise<absl::Status> done;
  ASSERT_TRUE(first
                  ->Infer(std::move(request),
                          [&done](auto r) {
                            done.set_value(
                                absl::Status(r.status().code(), std::string(r.status().message())));
                          })
                  .ok());
  EXPECT_TRUE(done.get_future().get().ok());
  first.reset();

  // Versions 2 and 3 (a specific policy); then a reload whose config names a
  // missing model file fails: version 3 keeps serving and stays READY.
  Write(root_ / "m" / "3" / "model.pt", "model");
  Write(root_ / "m" / "config.pbtxt",
        std::string(kGoodConfig) + "version_policy { specific { versions: [2, 3] } }");
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().Versions("m").size(), 2u);
  Write(root_ / "m" / "config.pbtxt",
        std::string(kGoodConfig) + "default_model_filename: \"absent.pt\"");
  EXPECT_FALSE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "3"), ModelState::kReady);  // failed reload: still serving
  EXPECT_EQ(Repo().Get("m", "").value()->version(), 3);
  EXPECT_THAT(Entry("m", "3").reason, HasSubstr("still serving the previous load"));
  EXPECT_TRUE(Repo().AllReady());

  ASSERT_TRUE(Repo().Unload("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "2"), ModelState::kUnloaded);
  EXPECT_EQ(Repo().VersionState("m", "3"), ModelState::kUnloaded);
  EXPECT_EQ(Entry("m", "3").state, ModelState::kUnavailable);
  EXPECT_EQ(Entry("m", "3").reason, "unloaded");
  // Loaded again after an unload.
  Write(root_ / "m" / "config.pbtxt", kGoodConfig);
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "3"), ModelState::kReady);
  EXPECT_EQ(Repo().invalid_transitions(), 0);
}

// A failed first load: UNAVAILABLE with its reason, then loaded once fixed.
TEST_F(RepositoryTest, AFailedLoadCanBeRetried) {
  AddModel("m", std::string(kGoodConfig) + "default_model_filename: \"absent.pt\"");
  EXPECT_FALSE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "1"), ModelState::kUnavailable);
  EXPECT_EQ(Entry("m", "1").state, ModelState::kUnavailable);
  EXPECT_FALSE(Repo().AllReady());
  Write(root_ / "m" / "config.pbtxt", kGoodConfig);
  ASSERT_TRUE(Repo().Load("m").ok());
  EXPECT_EQ(Repo().VersionState("m", "1"), ModelState::kReady);
  EXPECT_TRUE(Repo().AllReady());
  EXPECT_EQ(Repo().invalid_transitions(), 0);
}

// Unloading a model with requests running and queued: new requests are
// refused at once, the accepted ones all complete (no lost work).
TEST_F(RepositoryTest, UnloadUnderTraffic) {
  AddModel("slow",
           std::string(kGoodConfig) + "dynamic_batching { max_queue_delay_microseconds: 0 }");
  ASSERT_TRUE(Repo().Load("slow").ok());
  std::promise<void> gate;
  backend_.gate = gate.get_future().share();
  std::shared_ptr<ModelVersion> version = Repo().Get("slow", "").value();
  constexpr int kRequests = 8;
  std::vector<std::promise<absl::Status>> done(kRequests);
  std::vector<std::future<absl::Status>> results;
  for (int i = 0; i < kRequests; ++i) {
    results.push_back(done[i].get_future());
    InferenceRequest request;
    request.inputs.push_back({"x", Tensor::Allocate(DataType::kFp32, {1, 4}).value()});
    ASSERT_TRUE(version
                    ->Infer(std::move(request),
                            [&done, i](auto r) {
                              done[i].set_value(absl::Status(r.status().code(),
                                                             std::string(r.status().message())));
                            })
                    .ok());
  }
  version.reset();                          // the requests hold it now
  ASSERT_TRUE(Repo().Unload("slow").ok());  // does not wait for them
  EXPECT_EQ(Repo().Get("slow", "").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Repo().VersionState("slow", "1"), ModelState::kUnloaded);
  // Still held by the gate: the unload neither waited for them nor answered them.
  EXPECT_EQ(results.back().wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  gate.set_value();
  for (int i = 0; i < kRequests; ++i) EXPECT_TRUE(results[i].get().ok()) << i;
  EXPECT_EQ(Repo().invalid_transitions(), 0);
}

}  // namespace
}  // namespace ptserve
