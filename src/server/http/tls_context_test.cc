#include "server/http/tls_context.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/http_server.h"

namespace ptserve::http {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using ::testing::HasSubstr;

// A self-signed certificate (EC P-256) for CN=`name`, written as PEM files.
struct TestCertificate {
  std::string cert_file, key_file;
  std::string der;  // the certificate, DER (to compare with what a server presents)
};

TestCertificate MakeCertificate(const fs::path& folder, const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_sign(cert, key, EVP_sha256());
  TestCertificate out{(folder / (name + ".pem")).string(), (folder / (name + ".key")).string(), ""};
  FILE* f = std::fopen(out.cert_file.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(out.key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  out.der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("ptserve-tls-test-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  // The files a server is started with, replaced in place by Install.
  std::string LiveCert() const { return (folder_ / "live.pem").string(); }
  std::string LiveKey() const { return (folder_ / "live.key").string(); }
  void Install(const TestCertificate& c) {
    fs::copy_file(c.cert_file, LiveCert(), fs::copy_options::overwrite_existing);
    fs::copy_file(c.key_file, LiveKey(), fs::copy_options::overwrite_existing);
  }

  fs::path folder_;
};

TEST_F(TlsContextTest, LoadsAMatchingPairAndRefusesBadFilesByName) {
  const TestCertificate a = MakeCertificate(folder_, "a");
  const TestCertificate b = MakeCertificate(folder_, "b");
  auto tls = TlsContext::Create({.cert_file = a.cert_file, .key_file = a.key_file});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ((*tls)->generation(), 1u);
  EXPECT_FALSE((*tls)->mutual());
  EXPECT_NE((*tls)->Current(), nullptr);

  const std::string missing = (folder_ / "missing.pem").string();
  const std::string text = (folder_ / "text.pem").string();
  Write(text, "hello\n");
  struct Case {
    TlsContext::Files files;
    std::string words;
  } cases[] = {
      {{.cert_file = a.cert_file}, "both a certificate and a private key"},
      {{.cert_file = missing, .key_file = a.key_file}, missing},
      {{.cert_file = folder_.string(), .key_file = a.key_file}, "not a regular file"},
      {{.cert_file = text, .key_file = a.key_file}, "not PEM"},
      {{.cert_file = a.key_file, .key_file = a.key_file}, "TLS certificate"},
      {{.cert_file = a.cert_file, .key_file = b.key_file}, "TLS private key"},
      {{.cert_file = a.cert_file, .key_file = a.key_file, .client_ca_file = text}, "client CA"},
  };
  for (const Case& c : cases) {
    auto refused = TlsContext::Create(c.files);
    ASSERT_FALSE(refused.ok()) << c.words;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(c.words));
  }
}

TEST_F(TlsContextTest, ReloadSwapsOnlyWhenTheNewFilesAreGood) {
  const TestCertificate a = MakeCertificate(folder_, "a");
  const TestCertificate b = MakeCertificate(folder_, "b");
  const std::string cert = LiveCert(), key = LiveKey();
  Install(a);
  auto tls = TlsContext::Create({.cert_file = cert, .key_file = key});
  ASSERT_TRUE(tls.ok()) << tls.status();
  const auto first = (*tls)->Current();

  fs::copy_file(b.cert_file, cert, fs::copy_options::overwrite_existing);  // key is still a's
  EXPECT_FALSE((*tls)->Reload().ok());
  EXPECT_EQ((*tls)->Current(), first);
  EXPECT_EQ((*tls)->generation(), 1u);

  fs::copy_file(b.key_file, key, fs::copy_options::overwrite_existing);
  ASSERT_TRUE((*tls)->Reload().ok());
  EXPECT_NE((*tls)->Current(), first);
  EXPECT_EQ((*tls)->generation(), 2u);
}

// A blocking HTTPS client: the certificate the server presented and the raw response.
struct HttpsAnswer {
  std::string peer_der;
  std::string response;
};

HttpsAnswer HttpsGet(int port, const std::string& request) {
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  net::ssl::context context(net::ssl::context::tls_client);
  context.set_verify_mode(net::ssl::verify_none);
  net::ssl::stream<net::ip::tcp::socket&> stream(socket, context);
  stream.handshake(net::ssl::stream_base::client);
  HttpsAnswer answer;
  X509* peer = SSL_get1_peer_certificate(stream.native_handle());
  unsigned char* der = nullptr;
  const int length = i2d_X509(peer, &der);
  answer.peer_der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  X509_free(peer);
  net::write(stream, net::buffer(request));
  boost::system::error_code ec;
  char buffer[4096];
  for (;;) {
    const size_t n = stream.read_some(net::buffer(buffer), ec);
    answer.response.append(buffer, n);
    if (ec) break;
  }
  return answer;
}

std::string PlainGet(int port, const std::string& request) {
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  net::write(socket, net::buffer(request));
  std::string response;
  boost::system::error_code ec;
  char buffer[4096];
  for (;;) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    response.append(buffer, n);
    if (ec) break;
  }
  return response;
}

TEST_F(TlsContextTest, HttpServerSpeaksHttpsAndNewConnectionsGetAReloadedCertificate) {
  const TestCertificate a = MakeCertificate(folder_, "a");
  const TestCertificate b = MakeCertificate(folder_, "b");
  const std::string cert = LiveCert(), key = LiveKey();
  Install(a);
  auto tls = TlsContext::Create({.cert_file = cert, .key_file = key});
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto router = std::make_shared<Router>();
  router->Add("GET", "/hello", [](HttpRequest&, std::shared_ptr<Responder> responder) {
    HttpResponse response;
    response.body = "{\"hello\":true}";
    responder->Send(std::move(response));
  });
  HttpServer::Options options;
  options.port = 0;
  options.threads = 1;
  options.tls = *tls;
  auto server = HttpServer::Create(options, router);
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  const int port = (*server)->port();
  const std::string get = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  HttpsAnswer answer = HttpsGet(port, get);
  EXPECT_EQ(answer.peer_der, a.der);
  EXPECT_THAT(answer.response, HasSubstr("200 OK"));
  EXPECT_THAT(answer.response, HasSubstr("{\"hello\":true}"));

  const std::string plain = PlainGet(port, get);
  EXPECT_THAT(plain, HasSubstr("400 Bad Request"));
  EXPECT_THAT(plain, HasSubstr("https://"));
  EXPECT_EQ((*server)->rejected(Rejection::kTlsHandshake), 1u);

  Install(b);
  ASSERT_TRUE((*tls)->Reload().ok());
  answer = HttpsGet(port, get);
  EXPECT_EQ(answer.peer_der, b.der);
  EXPECT_THAT(answer.response, HasSubstr("200 OK"));
  (*server)->Shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace ptserve::http
