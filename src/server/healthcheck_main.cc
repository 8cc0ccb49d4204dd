// ptserve-healthcheck: the container image's HEALTHCHECK. The runtime image holds no shell and no
// curl (only ptserve, its libraries and glibc), so the probe is this small program.
//
//   ptserve-healthcheck [live|ready] [--port N] [--timeout-ms N]
//
// GETs /v2/health/live (or /v2/health/ready) on 127.0.0.1 and exits 0 when the answer is 200,
// 1 otherwise (refused, timed out, other status), with one line on stderr saying which. The
// port defaults to $PTSERVE_HTTP_PORT, else 8000, as for ptserve itself.
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// Bounds every blocking read and write on the socket (the probe must not hang on a stuck server).
void SetSocketTimeouts(asio::ip::tcp::socket& socket, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GET /v2/health/{live|ready} on 127.0.0.1; exit 0 on 200, else 1"};
  std::string what = "live";
  int port = 8000;
  int timeout_ms = 2000;
  app.add_option("probe", what, "live or ready")->check(CLI::IsMember({"live", "ready"}));
  app.add_option("--port", port, "ptserve's HTTP port")
      ->envname("PTSERVE_HTTP_PORT")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--timeout-ms", timeout_ms, "Give up after this long")
      ->capture_default_str()->check(CLI::Range(1, 600000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Docker reads 1 as unhealthy and reserves other codes: a usage error is 1 too (--help 0).
    return app.exit(e) == 0 ? 0 : 1;
  }

  const std::string target = "/v2/health/" + what;
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    SetSocketTimeouts(socket, timeout_ms);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "localhost");
    request.set(http::field::connection, "close");
    http::write(socket, request);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    http::read(socket, buffer, parser);
    const unsigned status = parser.get().result_int();
    if (status == 200) return 0;
    std::cerr << "ptserve-healthcheck: GET " << target << " on port " << port << ": HTTP "
              << status << "\n";
  } catch (const std::exception& e) {
    std::cerr << "ptserve-healthcheck: GET " << target << " on port " << port << ": " << e.what()
              << "\n";
  }
  return 1;
}
