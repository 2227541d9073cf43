#pragma once
// The wire protocol between hubd (hub::host::ProcessPlugin) and hub-plugin-worker,
// and its framing, which both sides call (worker/WorkerProtocol.cpp, part of
// hub::host). Private to core/host: both sides are built from the same tree, so
// it is not versioned; a worker and a hub of different builds are never paired.
//
// Start-up (over the control socket, fd --control-fd in the worker):
//   hub -> worker: the plugin's config (PluginConfig::json()), then EOF (shutdown(SHUT_WR)).
//   worker -> hub: "ready\n" once the library is loaded and every channel is bound,
//                  or "error <message>\n" and exit status 3.
// Config travels this way, not on the command line, so secrets never show in `ps`.
//
// Calls (ZeroMQ, one DEALER pair per channel: the worker binds
// <endpoint>.<i> for i in [0, threads), the hub connects one DEALER to each, so
// one channel carries one call at a time and a worker thread serves it directly):
//   request: [id: u64][kind: "invoke"|"health"|"describe"|"event"][operation][input JSON]
//            [caller JSON][remaining ms: u32][idempotency key][traceparent][request id]
//            (idempotency key and traceparent: the call's CallContext, each empty
//            when it has none; request id: hubd's id of the request that caused
//            the call, for the worker's log lines, empty for none)
//            (for "event" the input frame is the CloudEvent JSON, operation and
//            caller are empty / "{}"; it runs the plugin's on_event)
//   reply:   [id: u64][status: i32, a ch_status][body]
// A host service only hubd can run (identity_submit, which writes hubd's store),
// called by the plugin during a call, travels on the call's channel while the
// call is out (ABI 1.2):
//   worker -> hub: [id of the call]["service"][service name][payload]
//   hub -> worker: [id][status: i32, a ch_status][answer]
// and then the call goes on to its reply.
// Integers are in host byte order (both ends are on one machine). The hub matches
// replies by id and drops any that do not match (the late answer to a call that
// already timed out).

#include "hub/host/PluginInstance.h"

#include <zmq.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace hub::host::worker {

inline constexpr std::string_view kInvoke = "invoke";
inline constexpr std::string_view kHealth = "health";
inline constexpr std::string_view kDescribe = "describe";
inline constexpr std::string_view kEvent = "event";
inline constexpr std::size_t kRequestFrames = 9;
inline constexpr std::size_t kReplyFrames = 3;
inline constexpr std::string_view kService = "service";
inline constexpr std::size_t kServiceFrames = 4;

/// Exit status of a worker that could not load its plugin.
inline constexpr int kExitLoadFailed = 3;
/// Exit status of a worker started with bad arguments.
inline constexpr int kExitUsage = 2;
/// Exit status of a worker that could no longer serve one of its channels.
inline constexpr int kExitChannelFailed = 4;

template <class T>
T readScalar(const void* data, std::size_t size, T fallback) {
    if (size != sizeof(T)) return fallback;
    T value;
    std::memcpy(&value, data, sizeof value);
    return value;
}

using Message = std::vector<zmq::message_t>;

/// The id a request or reply starts with; 0 (never used) when it has none.
inline std::uint64_t idOf(const Message& parts) {
    return parts.empty() ? 0 : readScalar<std::uint64_t>(parts[0].data(), parts[0].size(), 0);
}

// ---- the hub's side ----

/// Sends a request without waiting: false when the channel cannot take it now.
/// A multipart message is queued whole or not at all, so a refusal leaves the
/// channel clean. Throws zmq::error_t.
bool sendRequest(zmq::socket_t& socket, std::uint64_t id, std::string_view kind, std::string_view operation,
                 std::string_view input, std::string_view caller, const CallContext& context,
                 std::uint32_t remainingMs);

/// A worker's request for a host service during a call (see above).
inline bool isServiceRequest(const Message& parts) {
    return parts.size() == kServiceFrames && parts[1].to_string_view() == kService;
}

/// Reads one whole message if one has arrived (never waits); false if none.
bool receiveNow(zmq::socket_t& socket, Message& parts);

/// A reply's status and body; false when it is malformed.
bool readReply(const Message& parts, std::int32_t& status, std::string& body);

/// The caller frame: {"subject":...,"roles":[...],"acting_for":...}.
std::string encodeCaller(const Caller& caller);

// ---- the worker's side ----

/// Waits for the next whole message. Throws zmq::error_t (ETERM when stopping).
void receive(zmq::socket_t& socket, Message& parts);

/// Answers the request whose id frame is id.
void sendReply(zmq::socket_t& socket, zmq::message_t& id, std::int32_t status, std::string_view body);

/// Asks hubd for a host service during the call whose id frame is id; the
/// answer comes as a reply with that id. Throws zmq::error_t.
void sendServiceRequest(zmq::socket_t& socket, const zmq::message_t& id, std::string_view name,
                        std::string_view payload);

/// Reads a caller frame; throws on malformed JSON.
Caller decodeCaller(std::string_view json);

}  // namespace hub::host::worker
