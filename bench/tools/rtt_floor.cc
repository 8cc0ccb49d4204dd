// The latency floor of one keep-alive HTTP request/response on a loopback endpoint: a blocking
// write()+read() loop with no event loop, no timers and no bookkeeping. ptserve-bench's p50 at
// concurrency 1 minus this floor is the generator's own added latency. Measurement only.
//
//   rtt_floor PORT [count=20000] [path=/predict] [body={"data":[0.5]}]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rtt_floor PORT [count] [path] [body]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int count = argc > 2 ? std::atoi(argv[2]) : 20000;
  const std::string path = argc > 3 ? argv[3] : "/predict";
  const std::string body = argc > 4 ? argv[4] : "{\"data\":[0.5]}";
  const std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    return 1;
  }
  std::vector<int64_t> rtts;
  char buf[65536];
  for (int i = 0; i < count + 1000; ++i) {
    const int64_t t0 = NowNs();
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return 1;
    // Responses of the trivial server arrive in one segment; good enough for a floor.
    if (read(fd, buf, sizeof(buf)) <= 0) return 1;
    if (i >= 1000) rtts.push_back(NowNs() - t0);  // the first 1000 are warm-up
  }
  std::sort(rtts.begin(), rtts.end());
  std::printf("rtt floor over %d requests: p50 %.1f us, p90 %.1f us, p99 %.1f us\n", count,
              rtts[rtts.size() / 2] / 1e3, rtts[rtts.size() * 9 / 10] / 1e3,
              rtts[rtts.size() * 99 / 100] / 1e3);
  return 0;
}
