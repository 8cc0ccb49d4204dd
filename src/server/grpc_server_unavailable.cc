// GrpcServer for builds without gRPC (libgrpc++-dev missing or -DPTSERVE_GRPC=OFF): Create()
// says so, and the server refuses --grpc-port other than -1.
#include "server/grpc_server.h"

namespace ptserve {

class GrpcServer::Impl {};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcServer::~GrpcServer() = default;
int GrpcServer::port() const { return -1; }
void GrpcServer::Shutdown(std::chrono::milliseconds) {}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Create(Options, InferenceService*) {
  return absl::UnimplementedError(
      "this ptserve is built without gRPC (Debian: install libgrpc++-dev and "
      "protobuf-compiler-grpc, then rebuild); start it with --grpc-port -1");
}

}  // namespace ptserve
