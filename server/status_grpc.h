// The ONE place where absl::Status (used everywhere inside the server) is
// turned into grpc::Status (what goes on the wire), and back for the client
// library. Codes map one to one (both follow google.rpc.Code); the message
// is kept verbatim.
#ifndef LLM_SERVER_STATUS_GRPC_H_
#define LLM_SERVER_STATUS_GRPC_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace llm {

// absl::Status -> grpc::Status with the same code and message. Thread-safe.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status with the same code and message. Thread-safe.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace llm

#endif  // LLM_SERVER_STATUS_GRPC_H_
