#include "server/http/tls_context.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace ptserve::http {
namespace {

namespace ssl = boost::asio::ssl;

// A PEM file's text: a regular file of at most 1 MiB (a certificate chain is kilobytes) that
// holds a PEM block. `what` names the file in errors ("certificate", "private key", ...).
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  constexpr std::streamsize kMaxPemBytes = 1 << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS ", what, " ", path, ": ", ec ? ec.message() : "not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("TLS ", what, " ", path, ": unreadable"));
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(absl::StrCat("TLS ", what, " ", path, ": over 1 MiB"));
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("TLS ", what, " ", path, ": not PEM"));
  }
  return text;
}

absl::Status Failed(const char* what, const std::string& path,
                    const boost::system::error_code& ec) {
  return absl::InvalidArgumentError(absl::StrCat("TLS ", what, " ", path, ": ", ec.message()));
}

absl::StatusOr<std::shared_ptr<ssl::context>> Build(const TlsContext::Files& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a private key file");
  }
  ASSIGN_OR_RETURN(const std::string cert, ReadPemFile(files.cert_file, "certificate"));
  ASSIGN_OR_RETURN(const std::string key, ReadPemFile(files.key_file, "private key"));
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 and 1.3 only; no compression; a fresh key per ECDHE handshake.
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::no_compression | ssl::context::single_dh_use);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(cert), ec);
  if (ec) return Failed("certificate", files.cert_file, ec);
  context->use_private_key(boost::asio::buffer(key), ssl::context::pem, ec);
  if (ec) return Failed("private key", files.key_file, ec);
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS private key ", files.key_file, " does not match the certificate ", files.cert_file));
  }
  if (!files.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(const std::string ca, ReadPemFile(files.client_ca_file, "client CA"));
    context->add_certificate_authority(boost::asio::buffer(ca), ec);
    if (ec) return Failed("client CA", files.client_ca_file, ec);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return Failed("client CA", files.client_ca_file, ec);
  }
  // Resumed sessions skip the certificate exchange; keep them per context (a reload starts a
  // new cache, so a resumed session never outlives the certificate it was made with).
  SSL_CTX_set_session_cache_mode(context->native_handle(), SSL_SESS_CACHE_SERVER);
  static constexpr unsigned char kSessionContext[] = "ptserve";
  SSL_CTX_set_session_id_context(context->native_handle(), kSessionContext,
                                 sizeof(kSessionContext) - 1);
  return context;
}

}  // namespace

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const Files& files) {
  std::shared_ptr<TlsContext> tls(new TlsContext(files));
  RETURN_IF_ERROR(tls->Reload());
  return tls;
}

TlsContext::~TlsContext() = default;

absl::Status TlsContext::Reload() {
  ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> context, Build(files_));
  MutexLock lock(mu_);
  current_ = std::move(context);
  ++generation_;
  return absl::OkStatus();
}

std::shared_ptr<ssl::context> TlsContext::Current() const {
  MutexLock lock(mu_);
  return current_;
}

uint64_t TlsContext::generation() const {
  MutexLock lock(mu_);
  return generation_;
}

}  // namespace ptserve::http
