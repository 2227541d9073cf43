#pragma once
// The wire protocol between hubd (hub::host::ProcessPlugin) and hub-plugin-worker.
// Private to core/host: both sides are built from the same tree, so it is not
// versioned; a worker and a hub of different builds are never paired.
//
// Start-up (over the control socket, fd --control-fd in the worker):
//   hub -> worker: the plugin's config as one JSON object, then EOF (shutdown(SHUT_WR)).
//   worker -> hub: "ready\n" once the library is loaded and every channel is bound,
//                  or "error <message>\n" and exit status 3.
// Config travels this way, not on the command line, so secrets never show in `ps`.
//
// Calls (ZeroMQ, one DEALER pair per channel: the worker binds
// <endpoint>.<i> for i in [0, threads), the hub connects one DEALER to each, so
// one channel carries one call at a time and a worker thread serves it directly):
//   request: [id: u64][kind: "invoke"|"health"|"describe"|"event"][operation][input JSON]
//            [caller JSON][remaining ms: u32]
//            (for "event" the input frame is the CloudEvent JSON, operation and
//            caller are empty / "{}"; it runs the plugin's on_event)
//   reply:   [id: u64][status: i32, a ch_status][body]
// Integers are in host byte order (both ends are on one machine). The hub matches
// replies by id and drops any that do not match (the late answer to a call that
// already timed out).

#include <cstdint>
#include <cstring>
#include <string_view>

namespace hub::host::worker {

inline constexpr std::string_view kInvoke = "invoke";
inline constexpr std::string_view kHealth = "health";
inline constexpr std::string_view kDescribe = "describe";
inline constexpr std::string_view kEvent = "event";
inline constexpr std::size_t kRequestFrames = 6;
inline constexpr std::size_t kReplyFrames = 3;

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

}  // namespace hub::host::worker
