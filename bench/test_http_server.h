// A tiny blocking HTTP/1.1 server for the bench's end-to-end tests (thread per connection).
// Answers GET /v2/models/m (metadata), POST /v2/models/m/infer and POST /predict; can be told to
// answer some requests with 503 or to close the connection instead of answering.
#ifndef PTSERVE_BENCH_TEST_HTTP_SERVER_H_
#define PTSERVE_BENCH_TEST_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ptserve::bench {

class TestHttpServer {
 public:
  struct Options {
    int status_503_every = 0;   // every Nth inference request gets 503 (0: never)
    int close_every = 0;        // every Nth inference request: close without answering
    bool timing_headers = true; // X-Queue-Time-Us: 7, X-Compute-Time-Us: 11, X-Batch-Size: 2
    std::string metadata = R"({"name":"m","versions":["1"],"platform":"pytorch_libtorch",)"
                           R"("inputs":[{"name":"INPUT__0","datatype":"FP32","shape":[-1,4]}],)"
                           R"("outputs":[{"name":"OUTPUT__0","datatype":"FP32","shape":[-1,2]}]})";
  };

  explicit TestHttpServer(Options options);
  ~TestHttpServer();  // stops and joins all threads

  int port() const { return port_; }
  int64_t inference_requests() const { return inference_requests_.load(); }
  int64_t bad_requests() const { return bad_requests_.load(); }  // unparseable bodies
  std::string last_body() const;

 private:
  void AcceptLoop();
  void Serve(int fd);

  Options options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> inference_requests_{0};
  std::atomic<int64_t> bad_requests_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  std::string last_body_;
};

}  // namespace ptserve::bench

#endif  // PTSERVE_BENCH_TEST_HTTP_SERVER_H_
