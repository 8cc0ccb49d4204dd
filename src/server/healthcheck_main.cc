// ptserve-healthcheck: the container image's HEALTHCHECK. The runtime image holds no shell and no
// curl (only ptserve, its libraries and glibc), so the probe is this small program.
//
//   ptserve-healthcheck [live|ready] [--port N] [--timeout-ms N] [--tls]
//                       [--client-cert F --client-key F]
//
// GETs /v2/health/live (or /v2/health/ready) on 127.0.0.1 and exits 0 when the answer is 200,
// 1 otherwise (refused, timed out, other status), with one line on stderr saying which. The
// port defaults to $PTSERVE_HTTP_PORT, else 8000, as for ptserve itself. Over HTTPS with --tls,
// which is the default when $PTSERVE_TLS_CERT is set (ptserve then serves HTTPS); the server's
// certificate is not verified (the probe checks that the server answers, on this host), and
// with mutual TLS the probe presents --client-cert/--client-key.
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
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/stream.hpp"
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
  bool tls = std::getenv("PTSERVE_TLS_CERT") != nullptr && *std::getenv("PTSERVE_TLS_CERT");
  std::string client_cert, client_key;
  app.add_flag("--tls,!--no-tls", tls, "HTTPS (default when $PTSERVE_TLS_CERT is set)");
  app.add_option("--client-cert", client_cert, "PEM client certificate (mutual TLS)")
      ->envname("PTSERVE_HEALTHCHECK_CLIENT_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--client-key", client_key, "PEM key of --client-cert")
      ->envname("PTSERVE_HEALTHCHECK_CLIENT_KEY")
      ->check(CLI::ExistingFile);
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
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    if (tls) {
      asio::ssl::context context(asio::ssl::context::tls_client);
      context.set_verify_mode(asio::ssl::verify_none);
      if (!client_cert.empty()) {
        context.use_certificate_chain_file(client_cert);
        context.use_private_key_file(client_key.empty() ? client_cert : client_key,
                                     asio::ssl::context::pem);
      }
      asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, context);
      stream.handshake(asio::ssl::stream_base::client);
      http::write(stream, request);
      http::read(stream, buffer, parser);
    } else {
      http::write(socket, request);
      http::read(socket, buffer, parser);
    }
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
